// Commands: a form per command, generated from its payload schema; sending
// shows the events and the state change, or the rejection (the guard or
// invariant by name, schema violations on their fields); the outcome can
// be saved as a scenario.

import * as api from './api.js';
import {model, on, emit, showTab} from './model.js';
import * as forms from './form.js';
import {h, diffBox, tree, short} from './json.js';
import * as cue from './cue.js';
import * as identity from './identity.js';

const $ = (id) => document.getElementById(id);

let form = null;
let last = null; // the last outcome, for the scenario

// Kinds a scenario's then.error can name besides guards and invariants.
const SCENARIO_KINDS = new Set(['instance_missing', 'instance_exists', 'budget_exceeded', 'expression_failed', 'invalid_state']);

function aggregate() {
	return model.context.aggregates[$('cmd-aggregate').value];
}

function fillCommands({keep = false} = {}) {
	const a = aggregate();
	const sel = $('cmd-command');
	const prev = sel.value;
	sel.replaceChildren(...Object.keys(a.commands).map((c) => h('option', {value: c}, c)));
	if (prev in a.commands) sel.value = prev;
	fillIDs();
	buildForm({keep});
}

// reloaded redraws the choices from a new model, keeping the aggregate,
// the command and the form the user had, where they still exist.
function reloaded() {
	const aggs = Object.keys(model.context.aggregates);
	const sel = $('cmd-aggregate');
	const prev = sel.value;
	sel.replaceChildren(...aggs.map((a) => h('option', {value: a}, a)));
	if (aggs.includes(prev)) sel.value = prev;
	if (aggs.length) fillCommands({keep: true});
}

function fillIDs() {
	const agg = $('cmd-aggregate').value;
	const ids = [...model.instances.values()].filter((i) => i.aggregate === agg).map((i) => i.id);
	$('cmd-ids').replaceChildren(...ids.map((id) => h('option', {value: id})));
}

let built = ''; // the command and payload schema the form was built for

function buildForm({keep = false} = {}) {
	const a = aggregate();
	const name = $('cmd-command').value;
	const cmd = a.commands[name];
	const sig = JSON.stringify([$('cmd-aggregate').value, name, cmd.payload]);
	// After a reload, a form whose command did not change keeps what was typed.
	if (keep && sig === built && form) return;
	built = sig;
	const rule = {new: 'creates the instance (it must not exist yet)', existing: 'needs an existing instance', any: 'runs on a new or an existing instance'}[cmd.instance] ?? cmd.instance;
	$('cmd-info').replaceChildren(`${name} ${rule}.`, cmd.guards.length ? ` Guards, in order: ${cmd.guards.map((g) => `“${g}”`).join(', ')}.` : ' No guards.');
	form = forms.build(cmd.payload, {idPrefix: `cmd-${$('cmd-aggregate').value}-${name}`});
	$('cmd-fields').replaceChildren(form.el);
}

// loadInstance reads an instance: its history when the server has the
// route, else its state and events.
async function loadInstance(agg, id) {
	const path = `/${api.seg(agg)}/${api.seg(id)}`;
	const hist = await api.get(`${path}/history`);
	if (hist.ok) return {exists: true, ...hist.body};
	if (hist.body?.kind === 'instance_missing') return {exists: false, steps: []};
	return {exists: false, steps: [], error: api.describe(hist)};
}

// stateAt is the state after version v of a history (initial at 0).
function stateAt(hist, v) {
	let s = hist.initial;
	for (const st of hist.steps ?? []) if (st.event.version <= v) s = st.state;
	return s;
}

function eventList(events) {
	return h('ol', {class: 'events compact'}, events.map((e) => h('li', {},
		h('span', {class: 'etype'}, e.type), ' ', h('span', {class: 'ver'}, `v${e.version}`), ' ',
		h('code', {class: 'payload'}, short(e.payload, 200)))));
}

async function send(e) {
	e.preventDefault();
	const agg = $('cmd-aggregate').value;
	const name = $('cmd-command').value;
	const idInput = $('cmd-id');
	const id = idInput.value.trim();
	$('cmd-id-msg').textContent = '';
	idInput.removeAttribute('aria-invalid');
	if (!id) {
		$('cmd-id-msg').textContent = 'required: the instance to send the command to';
		idInput.setAttribute('aria-invalid', 'true');
		idInput.focus();
		return;
	}
	form.clear();
	const local = form.validate();
	const payload = form.read() ?? {};
	const button = $('cmd-send');
	button.disabled = true;
	const result = $('result');
	result.setAttribute('aria-busy', 'true');
	try {
		// Sent as the identity picked; the instance is read with the page's
		// token, to show the change whoever may read it.
		const as = identity.current();
		const ans = await api.post(`/${api.seg(agg)}/${api.seg(id)}/${api.seg(name)}`, payload, {as: true});
		const hist = ans.status === 0 ? {exists: false, steps: []} : await loadInstance(agg, id);
		render(ans, {agg, id, name, payload, hist, local, as});
	} finally {
		button.disabled = false;
		result.removeAttribute('aria-busy');
	}
}

// asText says who sent a command, when an identity was picked.
function asText(as) {
	if (!as) return '';
	return as.anonymous ? ' as anonymous' : ` as ${identity.name(as.claims)}`;
}

function render(ans, {agg, id, name, payload, hist, local, as}) {
	const result = $('result');
	const b = ans.body ?? {};
	const parts = [];
	last = null;
	// A scenario says who acted (as:); without it, commands are trusted as
	// the admin token's are. An anonymous one has no as to say.
	const scenarioAs = as?.claims;
	if (ans.ok) {
		const events = b.events ?? [];
		const from = b.version - events.length;
		const before = stateAt(hist, from);
		const given = (hist.steps ?? []).filter((s) => s.event.version <= from).map((s) => ({type: s.event.type, payload: s.event.payload}));
		const verb = ans.status === 201 ? 'created' : 'accepted';
		parts.push(h('p', {class: 'outcome ok'}, h('strong', {}, `Accepted: ${name}`),
			` ${verb} on ${agg} ${id}${asText(as)}: ${events.length} event${events.length === 1 ? '' : 's'}, now at version ${b.version}.`));
		parts.push(h('h3', {}, 'Events'), events.length ? eventList(events) : h('p', {class: 'hint'}, 'No events.'));
		parts.push(h('h3', {}, `State: version ${from} → ${b.version}`), diffBox(before, b.state));
		if (b.effects) parts.push(h('h3', {}, 'Effects'), tree(b.effects));
		last = {aggregate: agg, id, command: name, payload, given, as: scenarioAs, events: events.map((e) => ({type: e.type, payload: e.payload}))};
	} else {
		const given = (hist.steps ?? []).map((s) => ({type: s.event.type, payload: s.event.payload}));
		let head;
		let error;
		if (b.kind === 'guard' || b.kind === 'invariant') {
			head = `Rejected by ${b.kind}: ${b.name}`;
			error = b.name;
		} else if (b.kind === 'forbidden') {
			// The rule's name is what a scenario's then.error names.
			head = b.name ? `Forbidden (403)${asText(as)} by rule: ${b.name}` : `Forbidden (403)${asText(as)}`;
			if (b.name) error = b.name;
		} else if (ans.status === 401) {
			head = `Unauthorized (401)${asText(as)}: ${b.reason ?? b.kind ?? 'no token'}`;
		} else if (b.kind === 'schema') {
			head = 'Rejected: the payload does not fit the schema';
		} else if (ans.status === 0) {
			head = 'The server did not answer';
		} else {
			head = `Rejected: ${b.kind ?? `HTTP ${ans.status}`}`;
			if (SCENARIO_KINDS.has(b.kind)) error = b.kind;
		}
		parts.push(h('p', {class: 'outcome rejected'}, h('strong', {}, head)));
		if (b.detail) parts.push(h('p', {class: 'detail'}, b.detail, b.at ? ` (at ${typeof b.at === 'string' ? b.at : JSON.stringify(b.at)})` : ''));
		if (b.kind === 'schema') {
			const vs = b.violations ?? [];
			parts.push(h('ul', {class: 'violations'}, vs.map((v) => h('li', {}, h('code', {}, v.pointer || '/'), ': ', v.message))));
			const first = form.violations(vs);
			first?.focus();
		} else if (local.count > 0) {
			parts.push(h('p', {class: 'hint'}, `The browser had found ${local.count} problem${local.count === 1 ? '' : 's'} in the form; the server's answer is above.`));
		}
		if (hist.exists) {
			parts.push(h('h3', {}, `State: unchanged at version ${hist.version}`), h('div', {class: 'tree-box'}, tree(stateAt(hist, hist.version))));
		}
		if (error !== undefined) last = {aggregate: agg, id, command: name, payload, given, as: scenarioAs, error};
	}
	result.replaceChildren(...parts);
	$('scenario-make').disabled = last === null;
	$('scenario-box').hidden = true;
	$('scenario-why').textContent = last === null ? 'This outcome cannot be a scenario (its payload does not fit, or the rejection is not the model\'s).' : '';
	emit('sent', {aggregate: agg, id});
	fillIDs();
}

function defaultName(s) {
	const outcome = s.error !== undefined ? `is rejected: ${s.error}` : s.events.length ? `emits ${s.events.map((e) => e.type).join(', ')}` : 'emits nothing';
	return `${s.aggregate} ${s.id}: ${s.command} ${outcome}`;
}

function scenarioText() {
	if (!last) return;
	const text = cue.scenario({...last, name: $('scenario-name').value || defaultName(last)});
	$('scenario-text').value = text;
	$('scenario-text').rows = Math.min(24, text.split('\n').length + 1);
}

function scenario() {
	$('scenario-make').addEventListener('click', () => {
		if (!last) return;
		$('scenario-name').value = defaultName(last);
		scenarioText();
		$('scenario-box').hidden = false;
		$('scenario-note').textContent = '';
		$('scenario-text').focus();
	});
	$('scenario-name').addEventListener('input', scenarioText);
	$('scenario-copy').addEventListener('click', async () => {
		const text = $('scenario-text').value;
		try {
			await navigator.clipboard.writeText(text);
		} catch {
			$('scenario-text').select();
			document.execCommand('copy');
		}
		$('scenario-note').textContent = 'Copied.';
	});
}

export function open(aggregateName, command) {
	if (!(aggregateName in model.context.aggregates)) return;
	$('cmd-aggregate').value = aggregateName;
	fillCommands();
	if (command in model.context.aggregates[aggregateName].commands) {
		$('cmd-command').value = command;
		buildForm();
	}
	showTab('commands');
	const first = $('cmd-fields').querySelector('input, select, textarea');
	($('cmd-id').value && first ? first : $('cmd-id')).focus();
}

export function init() {
	const aggs = Object.keys(model.context.aggregates);
	$('cmd-aggregate').replaceChildren(...aggs.map((a) => h('option', {value: a}, a)));
	$('cmd-aggregate').addEventListener('change', fillCommands);
	$('cmd-command').addEventListener('change', buildForm);
	$('cmd-newid').addEventListener('click', () => {
		$('cmd-id').value = `${$('cmd-aggregate').value}-${crypto.randomUUID().slice(0, 8)}`;
		$('cmd-id').focus();
	});
	$('command-form').addEventListener('submit', send);
	if (aggs.length) fillCommands();
	scenario();
	on('open-command', ({aggregate: a, command}) => open(a, command));
	on('instances', fillIDs);
	on('model', reloaded);
	on('reset', () => {
		$('result').replaceChildren(h('p', {class: 'hint'}, 'Reset. Send a command to start again.'));
		last = null;
		$('scenario-make').disabled = true;
		$('scenario-box').hidden = true;
		fillIDs();
	});
}
