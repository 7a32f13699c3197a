// The playground: loads the context's description, then starts the views
// (overview, commands, timeline, read side, live log) and the tabs.

import * as api from './api.js';
import {model, on, emit, status} from './model.js';
import * as overview from './overview.js';
import * as commands from './commands.js';
import * as timeline from './timeline.js';
import * as readside from './readside.js';
import * as live from './live.js';
import * as watch from './watch.js';
import * as identity from './identity.js';
import * as storage from './storage.js';

const TABS = ['overview', 'commands', 'timeline', 'readside', 'live', 'storage'];

function tabs() {
	const list = document.getElementById('tabs');
	const buttons = TABS.map((t) => document.getElementById(`tab-${t}`));
	const select = (name, focus = false) => {
		if (!TABS.includes(name)) name = 'overview';
		for (const t of TABS) {
			const b = document.getElementById(`tab-${t}`);
			const on = t === name;
			b.setAttribute('aria-selected', String(on));
			b.tabIndex = on ? 0 : -1;
			document.getElementById(`panel-${t}`).hidden = !on;
			if (on && focus) b.focus();
		}
		if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
		emit('tab-shown', name);
	};
	list.addEventListener('click', (e) => {
		const b = e.target.closest('[role=tab]');
		if (b) select(b.id.slice(4));
	});
	list.addEventListener('keydown', (e) => {
		const i = buttons.indexOf(document.activeElement);
		if (i < 0) return;
		const to = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1}[e.key];
		if (to === undefined) return;
		e.preventDefault();
		select(TABS[(to + TABS.length) % TABS.length], true);
	});
	on('tab', (name) => select(name));
	window.addEventListener('hashchange', () => select(location.hash.slice(1)));
	select(location.hash.slice(1));
}

function connect() {
	const dialog = document.getElementById('connect');
	const form = document.getElementById('connect-form');
	const baseInput = document.getElementById('connect-base');
	const tokenInput = document.getElementById('connect-token');
	document.getElementById('server').textContent = api.base ? `connected to ${api.base}` : '';
	document.getElementById('connect-open').addEventListener('click', () => {
		const s = api.settings();
		baseInput.value = s.base;
		tokenInput.value = s.token;
		dialog.showModal();
		baseInput.focus();
	});
	form.addEventListener('submit', (e) => {
		const action = e.submitter?.value;
		if (action === 'save') {
			if (!baseInput.checkValidity()) {
				e.preventDefault();
				baseInput.reportValidity();
				return;
			}
			api.saveSettings({base: baseInput.value.trim(), token: tokenInput.value});
			location.reload();
		} else if (action === 'clear') {
			api.saveSettings({base: '', token: ''});
			location.reload();
		}
	});
}

function reset() {
	const button = document.getElementById('reset');
	if (!button) return;
	button.addEventListener('click', async () => {
		button.disabled = true;
		const ans = await api.post('/admin/reset');
		button.disabled = false;
		if (!ans.ok) {
			status(`Reset failed: ${api.describe(ans)}`, 'error');
			return;
		}
		model.instances.clear();
		emit('reset');
		status('Reset: the simulation starts over with no events.');
	});
}

async function main() {
	tabs();
	connect();
	reset();
	const ans = await api.get('/context');
	if (!ans.ok) {
		const hint = ans.status === 401 ? ' Give the server\'s token in Connect….' : ans.status === 0 ? ' Is the server running?' : '';
		status(`Cannot describe the context (GET ${api.url('/context')}): ${api.describe(ans)}.${hint}`, 'error');
		return;
	}
	model.context = ans.body;
	document.getElementById('context-name').textContent = ans.body.name;
	document.title = `${ans.body.name} · cuesource playground`;
	await identity.init();
	overview.init();
	commands.init();
	timeline.init();
	readside.init();
	storage.init();
	await live.start();
	watch.start();
	document.body.dataset.ready = 'true';
}

main().catch((err) => status(`The playground failed to start: ${err.message}`, 'error'));
