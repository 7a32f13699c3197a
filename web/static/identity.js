// Identity: who the page acts as when it sends commands and runs queries,
// in a context that declares auth. The server mints a token for the claims
// picked (POST /admin/dev-token, with the admin token; only `play` and
// `serve --dev-tokens` have the key it signs with), and the page sends it
// with those requests. A few identities are remembered, by their claims
// (a token is worth nothing after the server restarts). The choices: the
// page's own token (the admin token: a trusted machine, to which rules do
// not apply), anonymous (no token), or an identity.

import * as api from './api.js';
import {model, status} from './model.js';
import * as forms from './form.js';
import {h} from './json.js';

const $ = (id) => document.getElementById(id);
// Kept per context: remembered claims (newest first), and the choice:
// 'page', 'anonymous', or the claims acted as.
const key = (what) => `cuesource.${what}.${model.context?.name ?? ''}`;
const MAX = 5;
const PATH = '/admin/dev-token';

let schema = null; // #claims as JSON Schema; null: no identities to pick
let chosen = {kind: 'page'}; // or {kind: 'anonymous'} or {kind: 'claims', claims}
let minted = null; // {claims, token, expires} for the chosen claims
let form = null;

function remembered() {
	try {
		const list = JSON.parse(localStorage.getItem(key('identities')) ?? '[]');
		return Array.isArray(list) ? list.filter((c) => c && typeof c.sub === 'string') : [];
	} catch {
		return [];
	}
}

function remember(claims) {
	const same = JSON.stringify(claims);
	const list = [claims, ...remembered().filter((c) => JSON.stringify(c) !== same)].slice(0, MAX);
	localStorage.setItem(key('identities'), JSON.stringify(list));
}

// name is how an identity reads in the picker: its sub and roles.
export function name(claims) {
	const roles = Array.isArray(claims.roles) && claims.roles.length ? ` (${claims.roles.join(', ')})` : '';
	return `${claims.sub}${roles}`;
}

// current is the identity acted as: null for the page's own token,
// {anonymous: true}, or {claims}.
export function current() {
	if (!schema || chosen.kind === 'page') return null;
	if (chosen.kind === 'anonymous') return {anonymous: true};
	return {claims: chosen.claims};
}

// mint asks the server for a token carrying claims.
async function mint(claims) {
	const ans = await api.post(PATH, claims);
	if (!ans.ok) {
		const err = new Error(api.describe(ans));
		err.answer = ans;
		throw err;
	}
	return {claims, token: ans.body.token, expires: Date.parse(ans.body.expires)};
}

// token is what api.js sends for requests made as the identity.
async function token() {
	if (!schema || chosen.kind === 'page') return null;
	if (chosen.kind === 'anonymous') return '';
	// A minute before it expires, a token is minted again.
	if (!minted || minted.claims !== chosen.claims || minted.expires - Date.now() < 60_000) {
		minted = await mint(chosen.claims);
	}
	return minted.token;
}

function fill() {
	const sel = $('identity');
	const list = remembered();
	sel.replaceChildren(
		h('option', {value: 'page'}, api.admin ? 'admin token (rules do not apply)' : 'the page\'s token'),
		h('option', {value: 'anonymous'}, 'anonymous (no token)'),
		...list.map((c, i) => h('option', {value: `id-${i}`}, name(c))),
		h('option', {value: 'new'}, 'New identity…'));
	if (chosen.kind === 'claims') {
		const i = list.findIndex((c) => JSON.stringify(c) === JSON.stringify(chosen.claims));
		sel.value = i >= 0 ? `id-${i}` : 'page';
	} else {
		sel.value = chosen.kind;
	}
	$('identity-box').dataset.as = chosen.kind === 'claims' ? chosen.claims.sub : chosen.kind;
}

// choose acts as c from now on, once the server minted its token.
async function choose(c) {
	if (c.kind === 'claims' && minted?.claims !== c.claims) {
		try {
			minted = await mint(c.claims);
		} catch (err) {
			status(`Cannot act as ${name(c.claims)}: ${err.message}`, 'error');
			fill();
			return false;
		}
	}
	if (c.kind === 'claims') remember(c.claims);
	chosen = c;
	localStorage.setItem(key('as'), JSON.stringify(c.kind === 'claims' ? c.claims : c.kind));
	fill();
	const who = c.kind === 'claims' ? name(c.claims) : c.kind === 'anonymous' ? 'anonymous (no token)' : 'the page\'s token';
	status(`Commands and queries are now sent as ${who}.`);
	return true;
}

function openDialog() {
	form = forms.build(schema, {idPrefix: 'identity'});
	$('identity-fields').replaceChildren(form.el);
	$('identity-extra').value = '';
	$('identity-msg').textContent = '';
	$('identity-dialog').showModal();
	$('identity-fields').querySelector('input, select, textarea')?.focus();
}

async function submitDialog(e) {
	e.preventDefault();
	form.clear();
	$('identity-msg').textContent = '';
	let claims = form.read() ?? {};
	const extra = $('identity-extra').value.trim();
	if (extra) {
		let more;
		try {
			more = JSON.parse(extra);
		} catch (err) {
			more = err;
		}
		if (!more || typeof more !== 'object' || Array.isArray(more) || more instanceof Error) {
			$('identity-msg').textContent = 'More claims must be a JSON object, such as {"tenant": "t1"}.';
			$('identity-extra').focus();
			return;
		}
		Object.assign(claims, more);
	}
	// sub first, as a scenario's as: reads best.
	if ('sub' in claims) claims = {sub: claims.sub, ...claims};
	let m;
	try {
		m = await mint(claims);
	} catch (err) {
		const b = err.answer?.body ?? {};
		const rest = b.violations ? form.violations(b.violations) : [];
		$('identity-msg').textContent = `Refused: ${err.message}${rest.length ? `: ${rest.map((v) => `${v.pointer || '/'} ${v.message}`).join('; ')}` : ''}`;
		return;
	}
	minted = m;
	$('identity-dialog').close();
	await choose({kind: 'claims', claims});
}

export async function init() {
	if (!api.admin) return; // minting is an admin action
	const ans = await api.get(PATH);
	if (!ans.ok) return; // no auth, or no development key on this server
	schema = ans.body.claims ?? {type: 'object', properties: {sub: {type: 'string'}}, required: ['sub']};
	$('identity-box').hidden = false;
	const sel = $('identity');
	let before = 'page';
	sel.addEventListener('focus', () => {
		before = sel.value;
	});
	sel.addEventListener('change', async () => {
		const v = sel.value;
		if (v === 'new') {
			sel.value = before;
			openDialog();
			return;
		}
		if (v === 'page' || v === 'anonymous') await choose({kind: v});
		else await choose({kind: 'claims', claims: remembered()[Number(v.slice(3))]});
		before = sel.value;
	});
	$('identity-form').addEventListener('submit', submitDialog);
	$('identity-cancel').addEventListener('click', () => $('identity-dialog').close());
	api.setActor(token);
	// The identity chosen before a reload, minted again by this server.
	let saved = 'page';
	try {
		saved = JSON.parse(localStorage.getItem(key('as')) ?? '"page"');
	} catch {
		saved = 'page';
	}
	// `cuesource inspect --as` names the identity to start with.
	const given = document.querySelector('meta[name="cuesource-as"]')?.content;
	if (given) {
		try {
			const g = JSON.parse(given);
			saved = {sub: g.sub, ...g};
			remember(saved);
		} catch {
			// the server wrote it from valid JSON: nothing to do
		}
	}
	if (saved && typeof saved === 'object' && typeof saved.sub === 'string') {
		chosen = {kind: 'claims', claims: saved};
		minted = null;
	} else if (saved === 'anonymous') {
		chosen = {kind: 'anonymous'};
	}
	fill();
}
