// JSON values as trees, and the difference between two of them: the
// state before and after a command or an event.

export function h(tag, attrs = {}, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') el.className = v;
		else if (k === 'text') el.textContent = v;
		else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k in el && typeof v !== 'string') el[k] = v;
		else el.setAttribute(k, v === true ? '' : v);
	}
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

export function equal(a, b) {
	if (a === b) return true;
	if (Array.isArray(a)) {
		return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
	}
	if (isObject(a) && isObject(b)) {
		const ka = Object.keys(a), kb = Object.keys(b);
		return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
	}
	return false;
}

function scalar(v) {
	const t = v === null ? 'null' : typeof v;
	return h('span', {class: `v v-${t}`}, JSON.stringify(v));
}

const MARK = {added: 'added', removed: 'removed', changed: 'changed'};

function marker(kind) {
	return h('span', {class: `mark mark-${kind}`}, MARK[kind]);
}

function entries(v) {
	return Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
}

// tree renders a JSON value.
export function tree(v) {
	if (v === undefined) return h('span', {class: 'v v-none'}, '(none)');
	if (!isObject(v) && !Array.isArray(v)) return scalar(v);
	const list = entries(v);
	if (list.length === 0) return h('span', {class: 'v'}, Array.isArray(v) ? '[]' : '{}');
	return h('ul', {class: 'tree'}, list.map(([k, x]) => h('li', {}, h('span', {class: 'key'}, k), ': ', tree(x))));
}

// diff renders after, marking what differs from before: added and removed
// fields, and changed values as `old → new`. paths collects the changed
// paths ("total", "items.TEA-1").
export function diff(before, after, paths = [], at = '') {
	const join = (k) => (at ? `${at}.${k}` : k);
	const sameKind = (isObject(before) && isObject(after)) || (Array.isArray(before) && Array.isArray(after));
	if (!sameKind) {
		if (equal(before, after)) return tree(after);
		paths.push(at || '(whole state)');
		if (before === undefined) return h('span', {class: 'added'}, marker('added'), ' ', tree(after));
		if (after === undefined) return h('span', {class: 'removed'}, marker('removed'), ' ', tree(before));
		return h('span', {class: 'changed'}, marker('changed'), ' ', h('span', {class: 'old'}, tree(before)), ' → ', h('span', {class: 'new'}, tree(after)));
	}
	const keys = entries(after).map(([k]) => k);
	for (const [k] of entries(before)) if (!keys.includes(k)) keys.push(k);
	if (keys.length === 0) return tree(after);
	const get = (v, k) => (Array.isArray(v) ? v[Number(k)] : Object.hasOwn(v, k) ? v[k] : undefined);
	return h('ul', {class: 'tree'}, keys.map((k) => {
		const a = get(before, k), b = get(after, k);
		const path = join(k);
		if (a === undefined && b !== undefined) {
			paths.push(path);
			return h('li', {class: 'added', 'data-path': path}, marker('added'), ' ', h('span', {class: 'key'}, k), ': ', tree(b));
		}
		if (b === undefined) {
			paths.push(path);
			return h('li', {class: 'removed', 'data-path': path}, marker('removed'), ' ', h('span', {class: 'key'}, k), ': ', tree(a));
		}
		const composite = (isObject(a) && isObject(b)) || (Array.isArray(a) && Array.isArray(b));
		if (composite || equal(a, b)) {
			const li = h('li', {'data-path': path}, h('span', {class: 'key'}, k), ': ', diff(a, b, paths, path));
			if (!equal(a, b)) li.classList.add('inner');
			return li;
		}
		paths.push(path);
		return h('li', {class: 'changed', 'data-path': path}, marker('changed'), ' ', h('span', {class: 'key'}, k), ': ',
			h('span', {class: 'old'}, tree(a)), ' → ', h('span', {class: 'new'}, tree(b)));
	}));
}

// diffBox is a diff with a one-line summary of the changed paths above it.
export function diffBox(before, after) {
	const paths = [];
	const body = diff(before, after, paths);
	const summary = paths.length === 0 ? 'No change.' : `Changed: ${paths.join(', ')}`;
	return h('div', {class: 'tree-box'}, h('p', {class: 'summary'}, summary), body);
}

// short renders a value in one line, cut at n characters.
export function short(v, n = 120) {
	const s = v === undefined ? '' : JSON.stringify(v);
	return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
