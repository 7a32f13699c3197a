// Forms generated from JSON Schema: the payload of a command, the
// parameters of a query. Strings, numbers, integers, booleans, enums
// (a select), objects (a fieldset), arrays and maps (rows to add and
// remove); anything else is edited as JSON. Constraints become HTML
// constraints where HTML has them and inline messages everywhere; the
// server's violations are shown on the field their JSON pointer names.

import {h} from './json.js';

let seq = 0;
const nextID = (p) => `${p}-${++seq}`;

// norm flattens what CUE generates into one schema per field: allOf is
// merged, `not: {const: ""}` means "not empty", const and one-of of
// constants become enums, and a null branch makes a field nullable.
export function norm(s) {
	if (s === true || s === undefined || s === null) return {};
	if (s === false) return {never: true};
	let out = {...s};
	delete out.allOf;
	for (const sub of s.allOf ?? []) out = merge(out, norm(sub));
	if (Array.isArray(out.type)) {
		const types = out.type.filter((t) => t !== 'null');
		if (types.length < out.type.length) out.nullable = true;
		out.type = types.length === 1 ? types[0] : types.length === 0 ? 'null' : types;
	}
	if (out.not && typeof out.not === 'object' && 'const' in out.not) {
		out.notConst = out.not.const;
		delete out.not;
	}
	if ('const' in out && !out.enum) out.enum = [out.const];
	const branches = out.oneOf ?? out.anyOf;
	if (branches) {
		const bs = branches.map(norm);
		const nonNull = bs.filter((b) => b.type !== 'null' && !(b.enum && b.enum.length === 1 && b.enum[0] === null));
		if (bs.every((b) => b.enum)) {
			out.enum = bs.flatMap((b) => b.enum);
		} else if (nonNull.length === 1) {
			out = merge(out, nonNull[0]);
			if (nonNull.length < bs.length) out.nullable = true;
		} else {
			out.json = true;
		}
		delete out.oneOf;
		delete out.anyOf;
	}
	return out;
}

function merge(a, b) {
	const out = {...a};
	for (const [k, v] of Object.entries(b)) {
		if (!(k in out)) {
			out[k] = v;
			continue;
		}
		switch (k) {
		case 'type':
			if (out.type !== v) {
				const ts = [out.type].flat().filter((t) => [v].flat().includes(t) || (t === 'number' && [v].flat().includes('integer')));
				out.type = [v].flat().includes('integer') || ts.includes('integer') ? 'integer' : ts.length === 1 ? ts[0] : ts;
			}
			break;
		case 'minimum': case 'exclusiveMinimum': case 'minLength': case 'minItems': case 'minProperties':
			out[k] = Math.max(out[k], v);
			break;
		case 'maximum': case 'exclusiveMaximum': case 'maxLength': case 'maxItems': case 'maxProperties':
			out[k] = Math.min(out[k], v);
			break;
		case 'pattern':
			out.patterns = [...(out.patterns ?? []), v];
			break;
		case 'required':
			out.required = [...new Set([...out.required, ...v])];
			break;
		case 'properties':
			out.properties = {...out.properties};
			for (const [p, ps] of Object.entries(v)) out.properties[p] = p in out.properties ? {allOf: [out.properties[p], ps]} : ps;
			break;
		case 'enum':
			out.enum = out.enum.filter((x) => v.some((y) => JSON.stringify(x) === JSON.stringify(y)));
			break;
		default:
			out[k] = v;
		}
	}
	return out;
}

function kindOf(s) {
	if (s.json || s.never) return 'json';
	if (s.enum) return 'enum';
	const t = s.type ?? (s.properties ? 'object' : s.items ? 'array' : undefined);
	if (t === 'object') {
		if (!s.properties && s.additionalProperties && s.additionalProperties !== true) return 'map';
		if (!s.properties && s.additionalProperties !== false) return 'json';
		return 'object';
	}
	if (t === 'array') return s.items && s.items !== true ? 'array' : 'json';
	if (['string', 'number', 'integer', 'boolean', 'null'].includes(t)) return t;
	return 'json';
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

const patterns = (s) => [...(s.patterns ?? []), ...(s.pattern ? [s.pattern] : [])];

// constraints describes a schema's bounds in words, for the hint.
function constraints(s) {
	const c = [];
	if (s.type === 'integer') c.push('integer');
	if (s.exclusiveMinimum !== undefined) c.push(`> ${s.exclusiveMinimum}`);
	if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
	if (s.exclusiveMaximum !== undefined) c.push(`< ${s.exclusiveMaximum}`);
	if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
	if (s.multipleOf !== undefined) c.push(`multiple of ${s.multipleOf}`);
	if (s.minLength !== undefined) c.push(`at least ${plural(s.minLength, 'character')}`);
	if (s.maxLength !== undefined) c.push(`at most ${plural(s.maxLength, 'character')}`);
	if (s.notConst === '') c.push('not empty');
	else if (s.notConst !== undefined) c.push(`not ${JSON.stringify(s.notConst)}`);
	for (const p of patterns(s)) c.push(`matches ${p}`);
	if (s.format) c.push(s.format);
	if (s.minItems !== undefined) c.push(`at least ${plural(s.minItems, 'item')}`);
	if (s.maxItems !== undefined) c.push(`at most ${plural(s.maxItems, 'item')}`);
	if (s.nullable) c.push('or null');
	return c.join(', ');
}

function checkNumber(s, n) {
	if (s.type === 'integer' && !Number.isInteger(n)) return 'must be an integer';
	if (s.minimum !== undefined && n < s.minimum) return `must be ≥ ${s.minimum}`;
	if (s.exclusiveMinimum !== undefined && n <= s.exclusiveMinimum) return `must be > ${s.exclusiveMinimum}`;
	if (s.maximum !== undefined && n > s.maximum) return `must be ≤ ${s.maximum}`;
	if (s.exclusiveMaximum !== undefined && n >= s.exclusiveMaximum) return `must be < ${s.exclusiveMaximum}`;
	if (s.multipleOf !== undefined && Math.abs(n / s.multipleOf - Math.round(n / s.multipleOf)) > 1e-9) return `must be a multiple of ${s.multipleOf}`;
	return '';
}

function checkString(s, v) {
	if (s.minLength !== undefined && [...v].length < s.minLength) return `must have at least ${plural(s.minLength, 'character')}`;
	if (s.maxLength !== undefined && [...v].length > s.maxLength) return `must have at most ${plural(s.maxLength, 'character')}`;
	if (s.notConst !== undefined && v === s.notConst) return s.notConst === '' ? 'must not be empty' : `must not be ${JSON.stringify(s.notConst)}`;
	for (const p of patterns(s)) {
		let re;
		try {
			re = new RegExp(p, 'u');
		} catch {
			continue; // the server checks what the browser cannot
		}
		if (!re.test(v)) return `does not match ${p}`;
	}
	return '';
}

// A field is one editor: el, read() (undefined: not set), check() (a
// message, '' when fine), show(msg), find(segments) (the field a JSON
// pointer below it names) and each(fn) over it and its children.
function field(schema, {name, label, required, idp, value}) {
	const s = norm(schema);
	const kind = kindOf(s);
	const id = nextID(idp);
	const msgID = `${id}-msg`, hintID = `${id}-hint`;
	const hintText = [s.description, constraints(s)].filter(Boolean).join(' · ');
	const msg = h('p', {class: 'msg', id: msgID});
	const hint = hintText ? h('p', {class: 'hint', id: hintID}, hintText) : null;
	const labelText = [label, required ? h('span', {class: 'req', 'aria-hidden': 'true', title: 'required'}, '*') : null];
	const describedBy = [hint ? hintID : null, msgID].filter(Boolean).join(' ');
	const initial = value !== undefined ? value : s.default;
	let input;
	const f = {name, kind, schema: s, required, children: [], msg};
	f.show = (text) => {
		msg.textContent = text;
		f.el.classList.toggle('invalid', Boolean(text));
		if (input) {
			input.setCustomValidity(text);
			input.setAttribute('aria-invalid', text ? 'true' : 'false');
		}
	};
	f.find = () => f;
	f.each = (fn) => fn(f);
	f.focus = () => (input ?? f.el.querySelector('input, select, textarea, button'))?.focus();

	switch (kind) {
	case 'string': case 'number': case 'integer': {
		const numeric = kind !== 'string';
		input = h('input', {id, name, type: numeric ? 'number' : 'text', 'aria-describedby': describedBy, autocomplete: 'off', spellcheck: 'false'});
		if (required) input.required = true;
		if (numeric) {
			input.step = kind === 'integer' ? (s.multipleOf ?? 1) : (s.multipleOf ?? 'any');
			if (s.minimum !== undefined) input.min = s.minimum;
			if (s.maximum !== undefined) input.max = s.maximum;
			input.inputMode = kind === 'integer' ? 'numeric' : 'decimal';
		} else {
			if (s.minLength !== undefined) input.minLength = s.minLength;
			if (s.maxLength !== undefined) input.maxLength = s.maxLength;
			if (s.format === 'date-time') input.placeholder = '2026-01-05T09:00:00Z';
		}
		if (initial !== undefined && initial !== null) input.value = String(initial);
		f.read = () => {
			if (input.value === '') return undefined;
			return numeric ? Number(input.value) : input.value;
		};
		f.check = () => {
			if (numeric && input.validity.badInput) return 'must be a number';
			const v = f.read();
			if (v === undefined) return required ? 'required' : '';
			return numeric ? checkNumber(s, v) : checkString(s, v);
		};
		f.el = h('div', {class: 'field'}, h('label', {for: id}, labelText), input, hint, msg);
		break;
	}
	case 'boolean': {
		if (required) {
			input = h('input', {id, name, type: 'checkbox', 'aria-describedby': describedBy});
			input.checked = initial === true;
			f.read = () => input.checked;
			f.el = h('div', {class: 'field check'}, input, h('label', {for: id}, labelText), hint, msg);
		} else {
			input = h('select', {id, name, 'aria-describedby': describedBy},
				h('option', {value: ''}, '(not set)'), h('option', {value: 'true'}, 'true'), h('option', {value: 'false'}, 'false'));
			if (typeof initial === 'boolean') input.value = String(initial);
			f.read = () => (input.value === '' ? undefined : input.value === 'true');
			f.el = h('div', {class: 'field'}, h('label', {for: id}, labelText), input, hint, msg);
		}
		f.check = () => '';
		break;
	}
	case 'null': {
		f.read = () => null;
		f.check = () => '';
		f.el = h('div', {class: 'field'}, h('span', {class: 'label'}, labelText), ' null', msg);
		break;
	}
	case 'enum': {
		const opts = s.enum.map((v) => h('option', {value: JSON.stringify(v)}, typeof v === 'string' ? v : JSON.stringify(v)));
		const unset = !required || initial === undefined || s.enum.length > 1;
		input = h('select', {id, name, 'aria-describedby': describedBy}, unset ? h('option', {value: ''}, required ? '(choose)' : '(not set)') : null, opts);
		if (initial !== undefined) input.value = JSON.stringify(initial);
		f.read = () => (input.value === '' ? undefined : JSON.parse(input.value));
		f.check = () => (required && input.value === '' ? 'required' : '');
		f.el = h('div', {class: 'field'}, h('label', {for: id}, labelText), input, hint, msg);
		break;
	}
	case 'object': {
		const req = new Set(s.required ?? []);
		const init = initial && typeof initial === 'object' ? initial : {};
		for (const [p, ps] of Object.entries(s.properties ?? {})) {
			f.children.push(field(ps, {name: p, label: p, required: req.has(p), idp, value: init[p]}));
		}
		f.read = () => {
			const out = {};
			let any = false;
			for (const c of f.children) {
				const v = c.read();
				if (v !== undefined) {
					out[c.name] = v;
					any = true;
				}
			}
			return any || required ? out : undefined;
		};
		f.check = () => '';
		f.find = (segs) => {
			if (segs.length === 0) return f;
			const c = f.children.find((x) => x.name === segs[0]);
			return c ? c.find(segs.slice(1)) : f;
		};
		f.each = (fn) => {
			fn(f);
			for (const c of f.children) c.each(fn);
		};
		const body = f.children.length ? f.children.map((c) => c.el) : [h('p', {class: 'hint'}, 'No fields.')];
		f.el = label === null
			? h('div', {class: 'object root'}, body, msg)
			: h('fieldset', {class: 'object'}, h('legend', {}, labelText), hint, body, msg);
		break;
	}
	case 'array': case 'map': {
		const isMap = kind === 'map';
		const itemSchema = isMap ? s.additionalProperties : s.items;
		const rows = h('ol', {class: 'rows'});
		const items = [];
		const add = (v, key) => {
			const n = items.length + 1;
			const item = field(itemSchema, {name: String(n - 1), label: isMap ? 'value' : `${label ?? 'item'} ${n}`, required: true, idp, value: v});
			let keyInput = null;
			if (isMap) {
				const kid = nextID(idp);
				keyInput = h('input', {id: kid, type: 'text', spellcheck: 'false', autocomplete: 'off', 'aria-label': `key of ${label} entry ${n}`});
				if (key !== undefined) keyInput.value = key;
				item.keyInput = keyInput;
			}
			const remove = h('button', {type: 'button', class: 'small', 'aria-label': `Remove ${label} ${isMap ? 'entry' : 'item'} ${n}`}, 'Remove');
			const li = h('li', {}, isMap ? h('div', {class: 'field'}, h('label', {for: keyInput.id}, 'key'), keyInput) : null, item.el, remove);
			remove.addEventListener('click', () => {
				items.splice(items.indexOf(item), 1);
				li.remove();
				addButton.focus();
			});
			items.push(item);
			rows.append(li);
			return item;
		};
		const addButton = h('button', {type: 'button', class: 'small', 'aria-label': `Add ${isMap ? 'an entry to' : 'an item to'} ${label ?? 'the list'}`}, isMap ? 'Add entry' : 'Add item');
		addButton.addEventListener('click', () => add().focus());
		if (isMap && initial && typeof initial === 'object') for (const [k, v] of Object.entries(initial)) add(v, k);
		if (!isMap && Array.isArray(initial)) for (const v of initial) add(v);
		f.read = () => {
			if (isMap) {
				if (items.length === 0 && !required) return undefined;
				const out = {};
				for (const it of items) {
					const v = it.read();
					out[it.keyInput.value] = v === undefined ? null : v;
				}
				return out;
			}
			if (items.length === 0 && !required) return undefined;
			return items.map((it) => {
				const v = it.read();
				return v === undefined ? null : v;
			});
		};
		f.check = () => {
			if (isMap) {
				const keys = items.map((it) => it.keyInput.value);
				if (new Set(keys).size < keys.length) return 'keys must differ';
				return '';
			}
			if (s.minItems !== undefined && items.length < s.minItems && (required || items.length > 0)) return `needs at least ${plural(s.minItems, 'item')}`;
			if (s.maxItems !== undefined && items.length > s.maxItems) return `takes at most ${plural(s.maxItems, 'item')}`;
			return '';
		};
		f.find = (segs) => {
			if (segs.length === 0) return f;
			const it = isMap ? items.find((x) => x.keyInput.value === segs[0]) : items[Number(segs[0])];
			return it ? it.find(segs.slice(1)) : f;
		};
		f.each = (fn) => {
			fn(f);
			for (const it of items) it.each(fn);
		};
		f.el = h('fieldset', {class: 'list'}, h('legend', {}, labelText), hint, rows, addButton, msg);
		break;
	}
	default: {
		input = h('textarea', {id, name, rows: '3', spellcheck: 'false', 'aria-describedby': describedBy});
		if (initial !== undefined) input.value = JSON.stringify(initial);
		f.read = () => {
			if (input.value.trim() === '') return undefined;
			try {
				return JSON.parse(input.value);
			} catch {
				return input.value;
			}
		};
		f.check = () => {
			if (input.value.trim() === '') return required ? 'required' : '';
			try {
				JSON.parse(input.value);
				return '';
			} catch {
				return 'not valid JSON';
			}
		};
		f.el = h('div', {class: 'field'}, h('label', {for: id}, labelText, ' (JSON)'), input, hint, msg);
	}
	}
	if (input) {
		const live = () => f.show(f.check());
		input.addEventListener('input', live);
		input.addEventListener('change', live);
	}
	return f;
}

// pointerSegments splits a JSON pointer ("/items/0/sku").
export function pointerSegments(p) {
	if (!p) return [];
	return p.replace(/^\//, '').split('/').map((x) => x.replaceAll('~1', '/').replaceAll('~0', '~'));
}

// violationTargets places server violations: a missing property is
// reported at its object, so it moves to the property's own pointer.
export function placeViolations(violations) {
	const out = [];
	for (const v of violations ?? []) {
		const m = /^must have the propert(?:y|ies) (.*)$/.exec(v.message ?? '');
		const names = m ? [...m[1].matchAll(/'([^']*)'/g)].map((x) => x[1]) : [];
		if (names.length === 0) {
			out.push({pointer: v.pointer ?? '', message: v.message});
			continue;
		}
		for (const n of names) out.push({pointer: `${v.pointer ?? ''}/${n.replaceAll('~', '~0').replaceAll('/', '~1')}`, message: 'required (missing)', original: v.message});
	}
	return out;
}

// A Form is a generated form: el, read() the value, validate() shows every
// message and returns how many there are, violations(list) shows the
// server's, clear() removes messages.
export function build(schema, {idPrefix = 'f', value} = {}) {
	const root = field(schema ?? {type: 'object'}, {name: '', label: null, required: true, idp: idPrefix, value});
	return {
		el: root.el,
		read: () => root.read(),
		clear() {
			root.each((f) => f.show(''));
		},
		validate() {
			let n = 0;
			let first = null;
			root.each((f) => {
				const m = f.check();
				f.show(m);
				if (m) {
					n++;
					first ??= f;
				}
			});
			return {count: n, first};
		},
		// violations shows each on its field and returns the ones that no
		// field below the root holds (shown on the form itself).
		violations(list) {
			const byField = new Map();
			let first = null;
			for (const v of placeViolations(list)) {
				const f = root.find(pointerSegments(v.pointer));
				const text = f === root || pointerSegments(v.pointer).length === 0 ? `${v.pointer || '/'}: ${v.message}` : v.message;
				byField.set(f, [...(byField.get(f) ?? []), text]);
				first ??= f;
			}
			for (const [f, msgs] of byField) f.show(msgs.join('; '));
			return first;
		},
	};
}

// query turns a form's value into URL query parameters.
export function toQuery(value) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(value ?? {})) {
		if (v === undefined || v === null) continue;
		q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
	}
	return q.toString();
}
