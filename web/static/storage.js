// Storage: what GET /admin/storage answers (an admin route): the hot
// store's size against its budget, the last archived position, the
// archive's segments with their counts and date ranges, and, per retention
// policy, what it would let go next. Read when the tab is shown, and again
// after events arrive while it is.

import * as api from './api.js';
import {model, on} from './model.js';
import {h} from './json.js';

const $ = (id) => document.getElementById(id);

let shown = false;
let pending = null;

export function bytes(n) {
	if (n < 1024) return `${n} B`;
	const units = ['KiB', 'MiB', 'GiB', 'TiB'];
	let v = n;
	let u = -1;
	do {
		v /= 1024;
		u++;
	} while (v >= 1024 && u < units.length - 1);
	return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

const when = (t) => (t ? t.replace('T', ' ').replace(/(\.\d+)?Z$/, 'Z') : '');
const range = (a, b) => (a || b ? `${a}–${b}` : '');

function table(caption, columns, rows) {
	return h('table', {},
		h('caption', {}, caption),
		h('thead', {}, h('tr', {}, columns.map(([, label]) => h('th', {scope: 'col'}, label)))),
		h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([c]) => h('td', {'data-col': c}, String(r[c] ?? '')))))));
}

function facts(list) {
	return h('dl', {class: 'facts'}, list.flatMap(([k, v, id]) => [h('dt', {}, k), h('dd', id ? {'data-fact': id} : {}, v)]));
}

function render(s) {
	const parts = [];
	const budget = s.budget
		? `${bytes(s.hotBytes)} of a ${bytes(s.budget)} budget (${Math.round((100 * s.hotBytes) / s.budget)}%)`
		: `${bytes(s.hotBytes)} (no hotBytes budget: size does not matter)`;
	parts.push(facts([
		['Hot store', budget, 'hot'],
		['Log head', `position ${s.head}`, 'head'],
		['Archived through', s.archived ? `position ${s.archived}` : 'nothing archived yet', 'archived'],
		['Archive', s.target ? s.target : 'none configured: every event stays hot', 'target'],
		['Segments', s.segmentCount
			? `${s.segmentCount}, ${bytes(s.archivedBytes)} compressed, ${when(s.from)} to ${when(s.to)}`
			: 'none', 'segments'],
	]));
	const segs = [...(s.segments ?? [])].reverse().map((g) => ({
		name: g.name, positions: range(g.first, g.last), count: g.count,
		time: range(when(g.firstTime), when(g.lastTime)), size: bytes(g.bytes), hot: g.hot,
	}));
	if (segs.length) {
		parts.push(table(`Archive segments, newest first${s.segmentCount > segs.length ? ` (the newest ${segs.length} of ${s.segmentCount})` : ''}`,
			[['name', 'segment'], ['positions', 'positions'], ['count', 'events'], ['time', 'time range'], ['size', 'bytes'], ['hot', 'still hot']], segs));
	}
	const next = (s.next ?? []).map((p) => ({
		policy: p.policy, events: p.events, size: bytes(p.bytes),
		positions: p.events ? range(p.from, p.to) : '', archived: p.events ? (p.archived ? 'yes' : 'not yet: archived first') : '',
	}));
	parts.push(next.length
		? table('What each retention policy would let go next (of the oldest 1,000 hot events)',
			[['policy', 'policy'], ['events', 'events'], ['size', 'bytes'], ['positions', 'positions'], ['archived', 'archived']], next)
		: h('p', {class: 'hint'}, retained()
			? 'The retention policies would let nothing go now.'
			: 'No retention policy is declared: nothing leaves the hot store.'));
	return parts;
}

// retained: whether the context or one of its aggregates declares a
// retention (GET /context shows them).
function retained() {
	const c = model.context ?? {};
	return Boolean(c.retention) || Object.values(c.aggregates ?? {}).some((a) => a.retention);
}

export async function refresh() {
	const box = $('storage');
	if (!api.admin) {
		box.replaceChildren(h('p', {class: 'hint'}, 'Storage is an admin route: connect with the admin token to see it.'));
		return;
	}
	const ans = await api.get('/admin/storage');
	if (!ans.ok) {
		box.replaceChildren(h('p', {class: 'msg'}, `GET /admin/storage: ${api.describe(ans)}`));
		return;
	}
	box.replaceChildren(...render(ans.body));
	box.dataset.head = String(ans.body.head);
}

// soon refreshes once for a burst of events, while the tab is shown.
function soon() {
	if (!shown || pending) return;
	pending = setTimeout(() => {
		pending = null;
		refresh();
	}, 400);
}

export function init() {
	$('storage-refresh').addEventListener('click', refresh);
	on('tab-shown', (name) => {
		shown = name === 'storage';
		if (shown) refresh();
	});
	on('event', soon);
	on('reset', soon);
	if (!$('panel-storage').hidden) {
		shown = true;
		refresh();
	}
}
