// Overview: the event-model diagram (GET /diagram.svg) and the context in
// words. Selecting a command, in either, opens its form.

import * as api from './api.js';
import {model, emit, on} from './model.js';
import {h} from './json.js';

function openCommand(aggregate, command) {
	emit('open-command', {aggregate, command});
}

async function diagram() {
	const box = document.getElementById('diagram');
	const ans = await api.getText('/diagram.svg');
	if (!ans.ok || !ans.type.includes('svg')) {
		box.replaceChildren(h('p', {class: 'hint'}, `No diagram from this server (GET /diagram.svg: ${ans.status || ans.text}).`));
		return;
	}
	const doc = new DOMParser().parseFromString(ans.text, 'image/svg+xml');
	const svg = doc.documentElement;
	if (svg.nodeName !== 'svg') {
		box.replaceChildren(h('p', {class: 'hint'}, 'The diagram is not SVG.'));
		return;
	}
	// Only the picture: no scripts or handlers from the document.
	for (const s of svg.querySelectorAll('script, foreignObject')) s.remove();
	for (const el of svg.querySelectorAll('*')) {
		for (const a of [...el.attributes]) if (/^on/i.test(a.name)) el.removeAttribute(a.name);
	}
	svg.setAttribute('role', 'img');
	if (!svg.querySelector('title')) svg.prepend(Object.assign(document.createElementNS('http://www.w3.org/2000/svg', 'title'), {textContent: `Event model of ${model.context.name}`}));
	const node = document.importNode(svg, true);
	node.removeAttribute('role');
	for (const g of node.querySelectorAll('g.node[data-kind="command"]')) {
		const name = g.dataset.name ?? '';
		const dot = name.indexOf('.');
		if (dot < 0) continue;
		const [aggregate, command] = [name.slice(0, dot), name.slice(dot + 1)];
		g.setAttribute('tabindex', '0');
		g.setAttribute('role', 'button');
		g.setAttribute('aria-label', `Open the form of ${name}`);
		g.classList.add('clickable');
		g.addEventListener('click', () => openCommand(aggregate, command));
		g.addEventListener('keydown', (e) => {
			if (e.key === 'Enter' || e.key === ' ') {
				e.preventDefault();
				openCommand(aggregate, command);
			}
		});
	}
	box.replaceChildren(node);
}

function words() {
	const c = model.context;
	const out = [];
	for (const [name, a] of Object.entries(c.aggregates)) {
		const cmds = Object.entries(a.commands).map(([cn, cmd]) => h('li', {},
			h('button', {type: 'button', class: 'link', onclick: () => openCommand(name, cn)}, cn),
			cmd.instance !== 'existing' ? h('span', {class: 'tag'}, cmd.instance) : null,
			cmd.guards.length ? h('span', {class: 'hint'}, ` guards: ${cmd.guards.join(', ')}`) : null));
		const evs = Object.entries(a.events).map(([en, ev]) => h('li', {}, h('span', {class: 'etype'}, en),
			ev.version > 0 ? h('span', {class: 'tag'}, `v${ev.version}`) : null,
			ev.aliases.length ? h('span', {class: 'hint'}, ` formerly ${ev.aliases.join(', ')}`) : null));
		out.push(h('article', {class: 'card'}, h('h3', {}, name),
			h('h4', {}, 'Commands'), h('ul', {}, cmds),
			h('h4', {}, 'Events'), h('ul', {}, evs),
			a.invariants.length ? [h('h4', {}, 'Invariants'), h('ul', {}, a.invariants.map((i) => h('li', {}, i)))] : null));
	}
	const side = [];
	const proj = Object.entries(c.projections ?? {});
	if (proj.length) side.push(h('h4', {}, 'Projections'), h('ul', {}, proj.map(([n, p]) => h('li', {}, n, h('span', {class: 'tag'}, p.mode), h('span', {class: 'hint'}, ` ${Object.keys(p.columns).join(', ')}`)))));
	const qs = Object.keys(c.queries ?? {});
	if (qs.length) side.push(h('h4', {}, 'Queries'), h('ul', {}, qs.map((q) => h('li', {}, q))));
	const effs = Object.entries(c.effects ?? {});
	if (effs.length) side.push(h('h4', {}, 'Effects'), h('ul', {}, effs.map(([n, e]) => h('li', {}, n, h('span', {class: 'tag'}, e.delivery), h('span', {class: 'hint'}, ` on ${e.on.join(', ')}`)))));
	if (side.length) out.push(h('article', {class: 'card'}, h('h3', {}, 'Read side and effects'), side));
	document.getElementById('model').replaceChildren(...out);
}

export function init() {
	words();
	diagram();
	on('model', () => {
		words();
		diagram();
	});
}
