// The context's HTTP API, from this page: same origin by default, or the
// server chosen in Connect (base URL and token kept in localStorage).

const KEY = 'cuesource.connect';

function meta(name) {
	return document.querySelector(`meta[name="${name}"]`)?.content ?? '';
}

// Whether this page is a play session (`cuesource play`).
export const play = meta('cuesource-play') === 'true';

// settings are what Connect stored: {base, token}.
export function settings() {
	try {
		const s = JSON.parse(localStorage.getItem(KEY) ?? '{}');
		return {base: typeof s.base === 'string' ? s.base : '', token: typeof s.token === 'string' ? s.token : ''};
	} catch {
		return {base: '', token: ''};
	}
}

export function saveSettings(s) {
	if (!s.base && !s.token) localStorage.removeItem(KEY);
	else localStorage.setItem(KEY, JSON.stringify({base: s.base, token: s.token}));
}

// base is the API's root URL without a trailing slash ('' for this origin).
export const base = settings().base.replace(/\/+$/, '');

// token is the bearer token sent with every request: the page's own
// (a play session's admin token) for this server, else Connect's.
export const token = (!base && meta('cuesource-admin-token')) || settings().token;

// admin: whether admin actions can be offered.
export const admin = token !== '';

// actor gives the token of the identity the page acts as (identity.js):
// '' for anonymous, null for the page's own token. Requests made with
// {as: true} (commands, queries) send it; the views that watch the
// context (log, timeline, projections, storage) keep the page's token.
let actor = null;

export function setActor(fn) {
	actor = fn;
}

async function bearerFor(as) {
	if (as && actor) {
		const t = await actor();
		if (t !== null) return t;
	}
	return token;
}

export function url(path) {
	return base + path;
}

// An Answer is a response read as JSON: {status, ok, body}. A network
// failure is status 0 with body.detail saying why.
export async function request(method, path, body, {headers = {}, timeout = 15000, as = false} = {}) {
	const h = {Accept: 'application/json', ...headers};
	let t;
	try {
		t = await bearerFor(as);
	} catch (err) {
		return {status: 0, ok: false, body: {kind: 'identity', detail: `no token for the identity acted as: ${err.message}`}};
	}
	if (t) h.Authorization = `Bearer ${t}`;
	const init = {method, headers: h, signal: AbortSignal.timeout(timeout)};
	if (body !== undefined) {
		h['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let resp;
	try {
		resp = await fetch(url(path), init);
	} catch (err) {
		return {status: 0, ok: false, body: {kind: 'network', detail: `${method} ${url(path) || '/'}: ${err.message}`}};
	}
	const text = await resp.text();
	let parsed = null;
	if (text) {
		try {
			parsed = JSON.parse(text);
		} catch {
			parsed = {detail: text};
		}
	}
	return {status: resp.status, ok: resp.ok, body: parsed, headers: resp.headers};
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

// seg escapes one path segment.
export const seg = (s) => encodeURIComponent(s);

// getText fetches a text resource (the diagram).
export async function getText(path) {
	const h = {};
	if (token) h.Authorization = `Bearer ${token}`;
	try {
		const resp = await fetch(url(path), {headers: h, signal: AbortSignal.timeout(15000)});
		return {status: resp.status, ok: resp.ok, text: await resp.text(), type: resp.headers.get('Content-Type') ?? ''};
	} catch (err) {
		return {status: 0, ok: false, text: err.message, type: ''};
	}
}

// describe says what went wrong in an answer, in one line.
export function describe(answer) {
	const b = answer.body ?? {};
	if (answer.status === 0) return b.detail;
	// Who may not: the status and the rule's name, or why the token failed.
	const who = answer.status === 401 || answer.status === 403 ? `${answer.status} ` : '';
	const what = b.kind ? `${who}${b.kind}${b.name ? `: ${b.name}` : ''}${b.reason ? ` (${b.reason})` : ''}` : `HTTP ${answer.status}`;
	return b.detail ? `${what} (${b.detail})` : what;
}
