// Live: the instances in the log (read once at start), then every new
// event as it commits, from the Server-Sent Events stream of GET /events.
// A server the stream cannot reach (one that needs a token, which
// EventSource cannot send) is polled instead.

import * as api from './api.js';
import {model, on, emit, see} from './model.js';
import {h, short} from './json.js';

const $ = (id) => document.getElementById(id);

// The log read at start: at most this many of its last events.
const BACKFILL = 5000;
const PAGE = 1000;
const LOG_LINES = 500;

let source = null;
let poller = null;
let after = 0;
let afterID = ''; // the id of the event at position after
let unseen = 0;
let liveShown = false;

function state(text, kind) {
	const el = $('live-status');
	el.textContent = `live: ${text}`;
	el.dataset.state = kind;
}

async function backfill() {
	let from = 0;
	const p = await api.get('/projections');
	if (p.ok) {
		const head = Math.max(0, ...(p.body.projections ?? []).map((x) => x.head ?? 0));
		from = Math.max(0, head - BACKFILL);
	}
	for (let pages = 0; pages < BACKFILL / PAGE + 1; pages++) {
		const ans = await api.get(`/events?after=${from}&limit=${PAGE}`);
		if (!ans.ok) break;
		const evs = ans.body.events ?? [];
		for (const e of evs) see(e);
		if (evs.length) {
			from = evs[evs.length - 1].position;
			afterID = evs[evs.length - 1].id;
		}
		if (evs.length < PAGE) break;
	}
	emit('instances');
	return from;
}

function logLine(ev) {
	const log = $('live-log');
	log.prepend(h('li', {},
		h('span', {class: 'pos'}, `#${ev.position}`), ' ',
		h('time', {datetime: ev.time}, ev.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')), ' ',
		h('button', {type: 'button', class: 'link', title: 'Show in the timeline', onclick: () => emit('show-instance', {aggregate: ev.aggregate, id: ev.instance})},
			h('span', {class: 'agg'}, ev.aggregate), ' ', h('span', {class: 'id'}, ev.instance)), ' ',
		h('span', {class: 'ver'}, `v${ev.version}`), ' ', h('span', {class: 'etype'}, ev.type), ' ',
		h('code', {class: 'payload'}, short(ev.payload, 160))));
	while (log.children.length > LOG_LINES) log.lastElementChild.remove();
	if (!liveShown) {
		unseen++;
		$('live-count').textContent = `(${unseen} new)`;
	}
}

function arrive(ev) {
	if (ev.position <= after) return;
	after = ev.position;
	afterID = ev.id;
	see(ev);
	logLine(ev);
	emit('event', ev);
	emit('instances');
}

// gen numbers the connections: a handler of an older one does nothing.
let gen = 0;

function listen() {
	const my = ++gen;
	const types = Object.entries(model.context.aggregates).flatMap(([a, agg]) => Object.keys(agg.events).map((t) => `${a}.${t}`));
	const es = new EventSource(api.url(`/events?after=${after}`));
	source = es;
	const handle = (msg) => {
		if (my !== gen) return;
		try {
			arrive(JSON.parse(msg.data));
		} catch {
			// a frame that is not an event: ignore it
		}
	};
	for (const t of types) es.addEventListener(t, handle);
	es.addEventListener('message', handle);
	es.addEventListener('open', () => my === gen && state('connected', 'on'));
	es.addEventListener('error', () => {
		if (my !== gen) return;
		// Refused (an error status, a token it cannot send): EventSource
		// gives up, and the log is polled instead. Ended or unreachable:
		// EventSource would retry; this page looks first.
		const refused = es.readyState === EventSource.CLOSED;
		es.close();
		if (refused) {
			poll();
			return;
		}
		// The stream ended (a restart, a reset): look before reconnecting.
		state('reconnecting…', 'wait');
		setTimeout(() => my === gen && resume(), 1000);
	});
}

// resume reconnects after the stream ended. A log that no longer holds the
// last event seen was reset (`cuesource play`), from here or elsewhere:
// everything shown starts over.
async function resume() {
	const my = gen;
	if (after > 0) {
		const ans = await api.get(`/events?after=${after - 1}&limit=1`);
		if (my !== gen) return;
		if (!ans.ok) {
			state(`server unreachable (${api.describe(ans)}), retrying`, 'off');
			setTimeout(() => my === gen && resume(), 2000);
			return;
		}
		const ev = (ans.body.events ?? [])[0];
		if (ev?.position !== after || (afterID && ev.id !== afterID)) {
			model.instances.clear();
			emit('reset'); // restarts the stream from the start
			emit('instances');
			return;
		}
	}
	listen();
}

// poll reads the log every two seconds when the stream is refused.
function poll() {
	state('polling every 2s', 'poll');
	poller = setInterval(async () => {
		const ans = await api.get(`/events?after=${after}&limit=${PAGE}`);
		if (!ans.ok) {
			state(`polling failed: ${api.describe(ans)}`, 'off');
			return;
		}
		state('polling every 2s', 'poll');
		for (const e of ans.body.events ?? []) arrive(e);
	}, 2000);
}

function stop() {
	gen++;
	source?.close();
	source = null;
	clearInterval(poller);
	poller = null;
}

export async function start() {
	state('connecting…', 'wait');
	after = await backfill();
	listen();
	on('reset', () => {
		stop();
		after = 0;
		afterID = '';
		unseen = 0;
		$('live-count').textContent = '';
		$('live-log').replaceChildren();
		listen();
	});
	on('tab-shown', (name) => {
		liveShown = name === 'live';
		if (liveShown) {
			unseen = 0;
			$('live-count').textContent = '';
		}
	});
	liveShown = location.hash === '#live';
}
