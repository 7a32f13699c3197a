// Timeline: the instances seen in the log and, for one, its events with
// time travel: the state at any version and what each event's reducer
// changed; each event as stored and after each lens.

import * as api from './api.js';
import {model, on, instanceKey, showTab} from './model.js';
import {h, diffBox, tree, short} from './json.js';

const $ = (id) => document.getElementById(id);

let current = null; // {aggregate, id, hist}
let version = 0;

function instances() {
	const filter = $('tl-filter').value.trim().toLowerCase();
	const list = [...model.instances.values()]
		.filter((i) => !filter || `${i.aggregate} ${i.id}`.toLowerCase().includes(filter))
		.sort((a, b) => b.position - a.position);
	const selected = current ? instanceKey(current.aggregate, current.id) : '';
	$('tl-instances').replaceChildren(...(list.length ? list.map((i) => {
		const key = instanceKey(i.aggregate, i.id);
		return h('li', {}, h('button', {
			type: 'button', class: 'instance', 'aria-current': key === selected ? 'true' : undefined,
			onclick: () => select(i.aggregate, i.id),
		}, h('span', {class: 'agg'}, i.aggregate), ' ', h('span', {class: 'id'}, i.id), ' ', h('span', {class: 'ver'}, `v${i.version}`), h('span', {class: 'hint'}, ` ${i.type}`)));
	}) : [h('li', {class: 'hint'}, model.instances.size ? 'No instance matches.' : 'No events yet: send a command.')]));
}

let loading = 0;

export async function select(aggregate, id, {keepVersion = false} = {}) {
	const ticket = ++loading;
	const ans = await api.get(`/${api.seg(aggregate)}/${api.seg(id)}/history`);
	if (ticket !== loading) return; // a later selection or event won
	$('tl-title').textContent = `${aggregate} ${id}`;
	$('tl-body').hidden = false;
	if (!ans.ok) {
		current = null;
		$('tl-events').replaceChildren();
		$('tl-step').textContent = '';
		$('tl-state').replaceChildren(h('p', {class: 'msg'}, `GET /${aggregate}/${id}/history: ${api.describe(ans)}`));
		instances();
		return;
	}
	const same = current && current.aggregate === aggregate && current.id === id;
	const wasLast = same && version === current.hist.steps.length;
	current = {aggregate, id, hist: ans.body};
	const n = ans.body.steps.length;
	$('tl-version').max = String(n);
	renderEvents();
	travel(keepVersion && same && !wasLast ? Math.min(version, n) : n);
	instances();
}

function renderEvents() {
	const {hist} = current;
	$('tl-events').replaceChildren(...hist.steps.map((st, i) => {
		const v = i + 1;
		const e = st.event;
		const stored = st.stored ?? {};
		const renamed = stored.type && stored.type !== e.type;
		const lensed = (st.lenses ?? []).length > 1;
		const details = h('details', {},
			h('summary', {}, 'As stored', lensed || renamed ? ' and through the lenses' : ''),
			h('dl', {class: 'kv'},
				h('dt', {}, 'stored as'), h('dd', {}, `${stored.type ?? e.type} (schema version ${stored.schemaVersion ?? e.schemaVersion})`),
				(st.lenses ?? []).length === 0 ? [h('dt', {}, 'stored payload'), h('dd', {}, tree(stored.payload ?? e.payload))] : null,
				(st.lenses ?? []).map((l, k) => [
					h('dt', {}, k === 0 ? `version ${l.version} (stored)` : `after lens ${l.version - 1} → version ${l.version}`),
					h('dd', {}, tree(l.payload)),
				]),
				h('dt', {}, 'id'), h('dd', {}, e.id),
				h('dt', {}, 'position · time'), h('dd', {}, `${e.position} · ${e.time}`),
				e.commandId ? [h('dt', {}, 'command id'), h('dd', {}, e.commandId)] : null),
			st.error ? h('p', {class: 'msg'}, st.error) : null);
		return h('li', {'data-version': String(v)},
			h('button', {type: 'button', class: 'step', onclick: () => travel(v), 'aria-label': `Show the state after version ${v}, ${e.type}`},
				h('span', {class: 'ver'}, `v${v}`), ' ', h('span', {class: 'etype'}, e.type),
				renamed ? h('span', {class: 'tag'}, `stored as ${stored.type}`) : null,
				lensed ? h('span', {class: 'tag'}, `read from v${stored.schemaVersion}`) : null),
			h('code', {class: 'payload'}, short(e.payload, 90)),
			details);
	}));
	mark();
}

function mark() {
	for (const li of $('tl-events').children) {
		if (Number(li.dataset.version) === version) li.setAttribute('aria-current', 'step');
		else li.removeAttribute('aria-current');
	}
}

function stateAt(v) {
	const {hist} = current;
	return v === 0 ? hist.initial : hist.steps[v - 1].state;
}

export function travel(v) {
	if (!current) return;
	const n = current.hist.steps.length;
	version = Math.max(0, Math.min(n, v));
	$('tl-version').value = String(version);
	$('tl-version-out').textContent = `Version ${version} of ${n}`;
	$('tl-version').setAttribute('aria-valuetext', `version ${version} of ${n}`);
	$('tl-first').disabled = $('tl-prev').disabled = version === 0;
	$('tl-next').disabled = $('tl-last').disabled = version === n;
	if (version === 0) {
		$('tl-state-title').textContent = 'Initial state (version 0)';
		$('tl-step').textContent = 'Before any event.';
		$('tl-state').replaceChildren(h('div', {class: 'tree-box'}, tree(current.hist.initial)));
	} else {
		const st = current.hist.steps[version - 1];
		$('tl-state-title').textContent = `State after version ${version}`;
		$('tl-step').textContent = `${st.event.type} applied to the state of version ${version - 1}${st.error ? `: ${st.error}` : ''}.`;
		$('tl-state').replaceChildren(diffBox(stateAt(version - 1), st.state));
	}
	mark();
}

export function init() {
	$('tl-filter').addEventListener('input', instances);
	$('tl-version').addEventListener('input', () => travel(Number($('tl-version').value)));
	$('tl-first').addEventListener('click', () => travel(0));
	$('tl-prev').addEventListener('click', () => travel(version - 1));
	$('tl-next').addEventListener('click', () => travel(version + 1));
	$('tl-last').addEventListener('click', () => travel(Number.MAX_SAFE_INTEGER));
	on('instances', instances);
	on('show-instance', ({aggregate, id}) => {
		showTab('timeline');
		select(aggregate, id);
	});
	on('event', (ev) => {
		if (current && current.aggregate === ev.aggregate && current.id === ev.instance) {
			select(ev.aggregate, ev.instance, {keepVersion: true});
		}
	});
	// A reloaded model: the instance shown is read again, at the same step.
	on('model', () => {
		if (current) select(current.aggregate, current.id, {keepVersion: true});
	});
	on('reset', () => {
		current = null;
		$('tl-title').textContent = 'Select an instance';
		$('tl-body').hidden = true;
		instances();
	});
	instances();
}
