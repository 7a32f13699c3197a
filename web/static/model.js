// What the views share: the context's description (GET /context), the
// instances seen in the log, and a bus on which they tell each other what
// happened.

export const bus = new EventTarget();

export function emit(type, detail) {
	bus.dispatchEvent(new CustomEvent(type, {detail}));
}

export function on(type, fn) {
	bus.addEventListener(type, (e) => fn(e.detail));
}

// context is GET /context once loaded.
export const model = {context: null, instances: new Map()};

export const instanceKey = (aggregate, id) => `${aggregate}/${id}`;

// see records a log event's instance; it returns true for an instance not
// seen before.
export function see(ev) {
	const key = instanceKey(ev.aggregate, ev.instance);
	const known = model.instances.get(key);
	if (known && known.version >= ev.version) return false;
	model.instances.set(key, {aggregate: ev.aggregate, id: ev.instance, version: ev.version, type: ev.type, time: ev.time, position: ev.position});
	return !known;
}

// status says something in the page's status line (announced politely).
export function status(text, kind = 'info') {
	const el = document.getElementById('status');
	el.textContent = text;
	el.dataset.kind = kind;
}

// showTab selects a tab (by its panel's short name).
export function showTab(name) {
	emit('tab', name);
}
