// Read side: the projections with their status and lag, the named queries
// with a form for their parameters, the effects, and the dead letters
// (retry or discard when the page holds the admin token).

import * as api from './api.js';
import {model, on, status} from './model.js';
import * as forms from './form.js';
import {h, short} from './json.js';

const $ = (id) => document.getElementById(id);

let queryForm = null;

function table(caption, columns, rows, cell = (r, c) => r[c]) {
	return h('table', {},
		h('caption', {}, caption),
		h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c)))),
		h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, cell(r, c)))))));
}

async function adminAction(method, path, done) {
	const ans = await api.request(method, path);
	if (ans.ok) status(`${method} ${path}: done.`);
	else status(`${method} ${path}: ${api.describe(ans)}`, 'error');
	done();
}

export async function projections() {
	const ans = await api.get('/projections');
	const box = $('projections');
	if (!ans.ok) {
		box.replaceChildren(h('p', {class: 'msg'}, `GET /projections: ${api.describe(ans)}`));
		return;
	}
	const list = ans.body.projections ?? [];
	if (list.length === 0) {
		box.replaceChildren(h('p', {class: 'hint'}, 'This context has no projections.'));
		return;
	}
	const cols = ['name', 'mode', 'state', 'position', 'head', 'lag', ...(api.admin ? ['actions'] : [])];
	box.replaceChildren(table('Projections: each one\'s position in the log and how far behind it is', cols, list, (p, c) => {
		if (c === 'state') return h('span', {class: `state state-${p.state}`}, p.state, p.error ? ` at ${p.errorPosition ?? '?'}: ${p.error}` : '');
		if (c === 'actions') {
			const act = (verb) => h('button', {type: 'button', class: 'small', 'aria-label': `${verb} ${p.name}`,
				onclick: () => adminAction('POST', `/projections/${api.seg(p.name)}/${verb}`, projections)}, verb);
			return [act('rebuild'), p.state === 'failed' ? [' ', act('skip'), ' ', act('resume')] : null];
		}
		return p[c] ?? '';
	}));
}

let queriesBound = false;

function queries() {
	const qs = Object.entries(model.context.queries ?? {});
	const sel = $('query-name');
	const prev = sel?.value;
	if (qs.length === 0) {
		$('query-form').replaceChildren(h('p', {class: 'hint'}, 'This context has no queries.'));
		return;
	}
	sel.replaceChildren(...qs.map(([n]) => h('option', {value: n}, n)));
	if (prev && model.context.queries[prev]) sel.value = prev;
	const build = () => {
		queryForm = forms.build(model.context.queries[sel.value].params, {idPrefix: `q-${sel.value}`});
		$('query-fields').replaceChildren(queryForm.el);
	};
	if (queriesBound) {
		build();
		return;
	}
	queriesBound = true;
	sel.addEventListener('change', () => {
		build();
		$('query-result').replaceChildren();
	});
	build();
	$('query-form').addEventListener('submit', async (e) => {
		e.preventDefault();
		queryForm.clear();
		queryForm.validate();
		const name = sel.value;
		const qs = forms.toQuery(queryForm.read());
		const ans = await api.get(`/queries/${api.seg(name)}${qs ? `?${qs}` : ''}`, {as: true});
		if (!ans.ok) {
			const b = ans.body ?? {};
			if (b.violations) queryForm.violations(b.violations);
			else if (b.name) queryForm.violations([{pointer: `/${b.name}`, message: b.detail ?? b.kind}]);
			$('query-result').replaceChildren(h('p', {class: 'outcome rejected'}, h('strong', {}, `Query ${name} failed: `), api.describe(ans)));
			return;
		}
		const rows = ans.body.rows ?? [];
		const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
		$('query-result').replaceChildren(rows.length
			? table(`${name}: ${rows.length} row${rows.length === 1 ? '' : 's'}`, cols, rows, (r, c) => (typeof r[c] === 'object' && r[c] !== null ? short(r[c], 80) : String(r[c] ?? '')))
			: h('p', {class: 'hint'}, `${name}: no rows.`));
	});
}

function effects() {
	const list = Object.entries(model.context.effects ?? {});
	$('effects').replaceChildren(list.length
		? table('Effects: what reacts to which events', ['name', 'on', 'delivery'], list.map(([name, e]) => ({name, on: e.on.join(', '), delivery: e.delivery})))
		: h('p', {class: 'hint'}, 'This context has no effects.'));
}

export async function deadLetters() {
	const box = $('dead-letters');
	if (!api.admin) {
		box.replaceChildren(h('p', {class: 'hint'}, 'Dead letters are an admin route: connect with the admin token to see them.'));
		return;
	}
	const ans = await api.get('/admin/dead-letters');
	if (!ans.ok) {
		box.replaceChildren(h('p', {class: 'msg'}, `GET /admin/dead-letters: ${api.describe(ans)}`));
		return;
	}
	const list = ans.body.deadLetters ?? [];
	if (list.length === 0) {
		box.replaceChildren(h('p', {class: 'hint'}, 'No dead letters: every effect delivery succeeded or is still being retried.'));
		return;
	}
	box.replaceChildren(table('Dead letters: effect deliveries that gave up', ['id', 'effect', 'eventId', 'attempts', 'error', 'time', 'actions'], list, (d, c) => {
		if (c === 'actions') {
			return [
				h('button', {type: 'button', class: 'small', 'aria-label': `Retry dead letter ${d.id}`, onclick: () => adminAction('POST', `/admin/dead-letters/${d.id}/retry`, deadLetters)}, 'Retry'), ' ',
				h('button', {type: 'button', class: 'small danger', 'aria-label': `Discard dead letter ${d.id}`, onclick: () => adminAction('DELETE', `/admin/dead-letters/${d.id}`, deadLetters)}, 'Discard'),
			];
		}
		if (c === 'error') return [d.error, d.rejection ? ` (${short(d.rejection, 80)})` : ''];
		return String(d[c] ?? '');
	}));
}

let pending = null;

// refresh reloads the tables shortly after events arrive, once for a burst.
function refresh() {
	if (pending) return;
	pending = setTimeout(() => {
		pending = null;
		projections();
		deadLetters();
	}, 400);
}

export function init() {
	$('proj-refresh').addEventListener('click', projections);
	$('dl-refresh').addEventListener('click', deadLetters);
	queries();
	effects();
	projections();
	deadLetters();
	on('event', refresh);
	on('reset', refresh);
	on('model', () => {
		queries();
		refresh();
	});
	on('tab-shown', (name) => name === 'readside' && refresh());
}
