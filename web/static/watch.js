// Watch: what the server's watch says about the context file (GET
// ui/watch, Server-Sent Events). Errors of the last save show in an
// overlay, each linked to its line, until the file vets again; after a
// swap the model is read again (GET /context) and the views redraw in
// place, with a short note of what changed. A server that does not watch
// has no such stream: the page then stays as it is.

import * as api from './api.js';
import {model, emit, status} from './model.js';
import {h} from './json.js';

const $ = (id) => document.getElementById(id);

function where(e) {
	if (!e.file) return null;
	const text = `${e.file}:${e.line ?? 0}:${e.col ?? 0}`;
	// An editor link: most editors open vscode:// (or register a handler
	// for it); the text is the position as vet prints it.
	return h('a', {class: 'at', href: `vscode://file${e.abs ?? e.file}:${e.line ?? 1}:${e.col ?? 1}`, title: 'Open in the editor'}, text);
}

function overlay(errors) {
	const box = $('watch-overlay');
	if (!errors.length) {
		box.hidden = true;
		box.replaceChildren();
		return;
	}
	box.replaceChildren(
		h('h2', {}, 'The context does not vet: the previous definition keeps serving'),
		h('ol', {class: 'watch-errors'}, errors.map((e) => h('li', {},
			where(e), e.file ? ' ' : null,
			e.path ? h('span', {class: 'path'}, `${e.path}: `) : null,
			h('span', {class: 'msg'}, e.message)))),
		h('p', {class: 'hint'}, 'Save a fixed file: this clears by itself.'));
	box.hidden = false;
}

async function reload(note) {
	const ans = await api.get('/context');
	if (!ans.ok) {
		status(`The context changed but cannot be read again: ${api.describe(ans)}`, 'error');
		return;
	}
	model.context = ans.body;
	$('context-name').textContent = ans.body.name;
	emit('model');
	$('watch-note').textContent = `Reloaded: ${note}`;
	$('watch-note').hidden = false;
	status(`Reloaded the context: ${note}`);
}

export function start() {
	if (api.base) return; // another server: its watch, if any, is its own
	let first = true;
	const source = new EventSource(api.url('/ui/watch'));
	source.addEventListener('status', (e) => {
		const m = JSON.parse(e.data);
		overlay(m.ok ? [] : m.errors ?? []);
		// The first status is the state when the page connected: the model
		// the page just read is already the current one.
		if (!first && m.swapped) reload(m.note ?? 'the context changed');
		first = false;
		document.body.dataset.watchSeq = String(m.seq);
	});
	source.addEventListener('error', () => {
		// A server without a watch answers 404: stop asking.
		if (source.readyState === EventSource.CLOSED) source.close();
	});
}
