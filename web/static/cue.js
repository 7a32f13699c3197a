// Scenarios as CUE text: what was just done (the instance's events before
// the command, the command, and its outcome) ready to paste under
// `scenarios:` in the context file.

const KEYWORDS = new Set(['if', 'for', 'in', 'let', 'true', 'false', 'null', 'import', 'package', 'func', '_', '__']);

// label is a field name as CUE reads it: bare when it is a plain
// identifier, else a quoted string (JSON string syntax is CUE's).
export function label(k) {
	return /^[A-Za-z][A-Za-z0-9_]*$/.test(k) && !KEYWORDS.has(k) ? k : JSON.stringify(k);
}

// value renders a JSON value as CUE, on one line: JSON values are CUE
// values, only the labels lose their quotes where they can.
export function value(v) {
	if (v === null || typeof v !== 'object') {
		if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${v} is not a JSON number`);
		return JSON.stringify(v);
	}
	if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
	const fields = Object.entries(v).map(([k, x]) => `${label(k)}: ${value(x)}`);
	return `{${fields.join(', ')}}`;
}

function payloadPart(p) {
	return p && typeof p === 'object' && !Array.isArray(p) && Object.keys(p).length === 0 ? '' : `, payload: ${value(p)}`;
}

function eventLine(e) {
	return `{event: ${JSON.stringify(e.type)}${payloadPart(e.payload)}}`;
}

// scenario is the CUE text of one scenario. s: {name, aggregate, id,
// given: [{type, payload}], command, payload, as, events: [{type,
// payload}]} with events for an accepted command, or error (a guard,
// invariant or rule name, or a rejection kind) for a rejected one; as,
// when set, the claims the command was sent with.
export function scenario(s) {
	const lines = [`${JSON.stringify(s.name)}: {`, `\taggregate: ${JSON.stringify(s.aggregate)}`, `\tid: ${JSON.stringify(s.id)}`];
	if (s.as) lines.push(`\tas: ${value(s.as)}`);
	if (s.given.length > 0) {
		lines.push('\tgiven: [');
		for (const e of s.given) lines.push(`\t\t${eventLine(e)},`);
		lines.push('\t]');
	}
	lines.push(`\twhen: {command: ${JSON.stringify(s.command)}${payloadPart(s.payload)}}`);
	if (s.error !== undefined) {
		lines.push(`\tthen: error: ${JSON.stringify(s.error)}`);
	} else if (s.events.length === 0) {
		lines.push('\tthen: events: []');
	} else {
		lines.push('\tthen: events: [');
		for (const e of s.events) lines.push(`\t\t${eventLine(e)},`);
		lines.push('\t]');
	}
	lines.push('}');
	return lines.join('\n') + '\n';
}
