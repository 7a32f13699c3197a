// The playground in a real browser: Debian's Chromium driven by
// playwright-core, as a person would use it (clicks and typing, assertions
// on what is visible). Run by playground_test.go:
//
//	scripts/node e2e/playground/play.mjs URL ARTIFACTS
//
// URL is a `cuesource play contexts/example.cue` server. Screenshots go to
// ARTIFACTS (one PNG a step), and the scenarios exported from the page to
// ARTIFACTS/scenarios.cue, for the Go test to pass through `cuesource test`.
// Exits 1 with the failing step and what the page showed.

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [url, artifacts] = process.argv.slice(2);
if (!url || !artifacts) {
	console.error('usage: play.mjs URL ARTIFACTS');
	process.exit(2);
}
fs.mkdirSync(artifacts, {recursive: true});

const WAIT = 20_000; // every wait for the page is bounded by this
const STEPS_DEADLINE = 240_000; // and the whole run by this
const deadline = setTimeout(() => {
	console.error(`play.mjs: not done after ${STEPS_DEADLINE / 1000}s`);
	process.exit(1);
}, STEPS_DEADLINE);

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	headless: true,
	timeout: 30_000,
	// Debian's Chromium as root on a closed network (shared/TESTING.md);
	// playwright gives it a fresh temporary profile (--user-data-dir).
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({viewport: {width: 1280, height: 800}});
const page = await context.newPage();
page.setDefaultTimeout(WAIT);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
	// Rejected commands are 4xx answers, which Chromium logs as failed
	// loads: expected here. Anything else logged as an error is not.
	if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of 4')) {
		problems.push(`console error: ${m.text()}`);
	}
});

let n = 0;
async function shot(name) {
	const file = path.join(artifacts, `${String(++n).padStart(2, '0')}-${name}.png`);
	await page.screenshot({path: file});
	return file;
}

// step runs one step, then takes its screenshot; a failure names the step.
async function step(name, fn) {
	process.stdout.write(`step ${name} ... `);
	try {
		await fn();
	} catch (err) {
		const file = await shot(`FAILED-${name}`).catch(() => '(no screenshot)');
		console.log('FAILED');
		throw new Error(`step "${name}" failed: ${err.message}\n  screenshot: ${file}${problems.length ? `\n  ${problems.join('\n  ')}` : ''}`);
	}
	await shot(name);
	console.log('ok');
}

// see waits until the locator's visible text contains every want.
async function see(locator, ...wants) {
	const until = Date.now() + WAIT;
	let text = '';
	for (;;) {
		text = await locator.innerText({timeout: WAIT}).catch((e) => `(unreadable: ${e.message.split('\n')[0]})`);
		const missing = wants.filter((w) => !text.includes(w));
		if (missing.length === 0) return text;
		if (Date.now() > until) throw new Error(`expected ${JSON.stringify(missing)} in ${locator}, which shows:\n${text}`);
		await page.waitForTimeout(100);
	}
}

// notSee waits until the locator's visible text lacks every unwanted.
async function notSee(locator, ...unwanted) {
	const until = Date.now() + WAIT;
	for (;;) {
		const text = await locator.innerText({timeout: WAIT});
		const present = unwanted.filter((w) => text.includes(w));
		if (present.length === 0) return;
		if (Date.now() > until) throw new Error(`did not expect ${JSON.stringify(present)} in ${locator}, which shows:\n${text}`);
		await page.waitForTimeout(100);
	}
}

// labelled matches a field's label: a required one's ends in a star
// (hidden from assistive technology, so getByRole names lack it).
const labelled = (label) => new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\*?$`);
// field is the payload field labelled label; fieldMessage its message.
const field = (label) => page.locator('#cmd-fields').getByLabel(labelled(label));
const fieldMessage = (label) => page.locator('#cmd-fields .field').filter({has: page.getByLabel(labelled(label))}).locator('.msg');

const result = page.locator('#result');
// adminToken is the play session's, as the page got it.
const adminToken = () => page.locator('meta[name="cuesource-admin-token"]').getAttribute('content');
const scenarios = [];

async function saveScenario(name, ...wants) {
	await page.getByRole('button', {name: 'Save as scenario'}).click();
	const nameInput = page.getByLabel('Scenario name');
	await nameInput.fill(name);
	const text = await page.getByLabel(/^Scenario \(CUE/).inputValue();
	for (const w of wants) {
		if (!text.includes(w)) throw new Error(`the exported scenario lacks ${JSON.stringify(w)}:\n${text}`);
	}
	scenarios.push(text);
	await page.getByRole('button', {name: 'Copy'}).click();
	await see(page.locator('#scenario-note'), 'Copied.');
}

async function send(command, fill) {
	await page.getByLabel('Command', {exact: true}).selectOption(command);
	for (const [label, value] of Object.entries(fill)) await field(label).fill(value);
	await page.getByRole('button', {name: 'Send', exact: true}).click();
}

try {
	await step('overview', async () => {
		await page.goto(url);
		await page.locator('body[data-ready=true]').waitFor();
		// A mark that survives only while the page is not reloaded.
		await page.evaluate(() => (window.notReloaded = true));
		await see(page.locator('header'), 'shop', 'play');
		await see(page.locator('#model'), 'AddItem', 'ItemAdded', 'cart_summary');
		await page.locator('#diagram svg g.node[data-kind="command"][data-name="cart.Open"]').waitFor();
		// By keyboard: a command of the diagram opens its form.
		await page.locator('#diagram g.node[data-name="cart.AddItem"]').focus();
		await page.keyboard.press('Enter');
		await page.locator('#panel-commands').waitFor();
		if (await page.getByLabel('Command', {exact: true}).inputValue() !== 'AddItem') throw new Error('Enter on cart.AddItem did not open its form');
		await page.getByRole('tab', {name: 'Overview'}).click();
		await page.locator('#panel-overview').waitFor();
	});

	await step('form-from-schema', async () => {
		// The example's payloads are flat: the generator's other kinds
		// (nested objects, arrays, maps, enums, booleans, allOf, defaults)
		// on a schema of their own, in the page, typed into like the rest.
		await page.evaluate(async () => {
			const forms = await import('./ui/form.js');
			const form = forms.build({
				type: 'object', required: ['name', 'kind', 'active', 'address', 'lines'],
				properties: {
					name: {type: 'string', minLength: 2},
					kind: {enum: ['small', 'large']},
					active: {type: 'boolean'},
					gift: {type: 'boolean'},
					address: {type: 'object', required: ['city'], properties: {city: {type: 'string'}, zip: {type: 'string', pattern: '^[0-9]{5}$'}}},
					lines: {type: 'array', minItems: 1, items: {type: 'object', required: ['sku', 'qty'], properties: {sku: {type: 'string'}, qty: {type: 'integer', minimum: 1}}}},
					tags: {type: 'object', additionalProperties: {type: 'integer'}},
					count: {allOf: [{type: 'number'}, {type: 'integer', exclusiveMinimum: 0}], default: 3},
				},
			}, {idPrefix: 'kinds'});
			const box = document.createElement('form');
			box.id = 'form-kinds';
			box.noValidate = true;
			box.append(form.el);
			document.getElementById('panel-overview').prepend(box);
			window.kindsForm = form;
		});
		const box = page.locator('#form-kinds');
		const input = (label) => box.getByLabel(labelled(label));
		const message = (label) => box.locator('.field').filter({has: page.getByLabel(labelled(label))}).locator('.msg');
		await input('name').fill('x');
		await see(message('name'), 'at least 2 characters');
		await input('name').fill('xy');
		await notSee(message('name'), 'must have');
		await input('kind').selectOption('large');
		await input('active').check();
		await input('city').fill('Paris');
		await input('zip').fill('75');
		await see(message('zip'), 'does not match ^[0-9]{5}$');
		await input('zip').fill('75001');
		await box.getByRole('button', {name: 'Add an item to lines'}).click();
		await input('sku').fill('TEA-01');
		await input('qty').fill('0');
		await see(message('qty'), 'must be ≥ 1');
		await input('qty').fill('2');
		await box.getByRole('button', {name: 'Add an entry to tags'}).click();
		await box.getByLabel('key of tags entry 1').fill('red');
		await input('value').fill('7');
		const got = await page.evaluate(() => JSON.stringify(window.kindsForm.read()));
		const want = JSON.stringify({name: 'xy', kind: 'large', active: true, address: {city: 'Paris', zip: '75001'}, lines: [{sku: 'TEA-01', qty: 2}], tags: {red: 7}, count: 3});
		if (got !== want) throw new Error(`the form reads ${got}, want ${want}`);
		// The server's violations land on the fields their pointers name.
		await page.evaluate(() => window.kindsForm.violations([
			{pointer: '/lines/0/qty', message: 'must be at most 1'},
			{pointer: '', message: "must have the properties 'gift'"},
		]));
		await see(message('qty'), 'must be at most 1');
		await see(message('gift'), 'required (missing)');
		await shot('form-from-schema-filled');
		await box.getByRole('button', {name: 'Remove lines item 1'}).click();
		await notSee(box, 'TEA-01');
		await page.evaluate(() => document.getElementById('form-kinds').remove());
	});

	await step('open-command-from-diagram', async () => {
		await page.locator('#diagram g.node[data-name="cart.Open"]').click();
		await page.locator('#panel-commands').waitFor();
		if (await page.getByLabel('Command', {exact: true}).inputValue() !== 'Open') throw new Error('the diagram did not open the form of Open');
		await page.getByLabel('Instance id').fill('c1');
		await field('customer').fill('ada');
		await page.getByRole('button', {name: 'Send', exact: true}).click();
		await see(result, 'Accepted: Open', 'CartOpened', 'version 1');
		await see(result.locator('li.changed[data-path="status"]'), '"new" → "open"');
		await see(result.locator('li.added[data-path="customer"]'), '"ada"');
	});

	await step('schema-error-on-field', async () => {
		await page.getByLabel('Command', {exact: true}).selectOption('AddItem');
		await field('sku').fill('x');
		// Inline, before sending: the browser checks the pattern.
		await see(fieldMessage('sku'), 'does not match ^[A-Z0-9-]{3,20}$');
		await field('qty').fill('2');
		await page.getByRole('button', {name: 'Send', exact: true}).click();
		await see(result, 'Rejected: the payload does not fit the schema', '/sku');
		// The server's violations, on their fields.
		await see(fieldMessage('sku'), "must match '^[A-Z0-9-]{3,20}$', got 'x'");
		await see(fieldMessage('price'), 'required');
		if (await field('sku').getAttribute('aria-invalid') !== 'true') throw new Error('sku is not marked invalid');
	});

	await step('command-result', async () => {
		await field('sku').fill('TEA-01');
		await field('price').fill('4.5');
		await notSee(page.locator('#cmd-fields'), 'does not match');
		await page.getByRole('button', {name: 'Send', exact: true}).click();
		await see(result, 'Accepted: AddItem', 'ItemAdded', '"TEA-01"', 'version 1 → 2');
		await see(result.locator('li.changed[data-path="total"]'), '0 → 9');
		await see(result.locator('li.added[data-path="items.TEA-01"]'), 'qty', '2', 'price', '4.5');
	});

	await step('save-scenario', async () => {
		await saveScenario('playground: ada adds tea',
			'aggregate: "cart"', 'id: "c1"', '{event: "CartOpened", payload: {customer: "ada"}}',
			'when: {command: "AddItem", payload: {', 'sku: "TEA-01"', 'then: events: [', 'event: "ItemAdded"');
	});

	await step('guard-rejection', async () => {
		await page.getByLabel('Instance id').fill('c2');
		await send('Open', {customer: 'bob'});
		await see(result, 'Accepted: Open');
		await send('CheckOut', {});
		await see(result, 'Rejected by guard: cart is empty', 'unchanged at version 1');
		await saveScenario('playground: an empty cart cannot check out',
			'id: "c2"', 'when: {command: "CheckOut"}', 'then: error: "cart is empty"');
	});

	await step('live-seeded-history', async () => {
		// History written from outside the page, with an event stored at
		// version 0: it must appear without a reload (the live stream).
		const resp = await fetch(`${url.replace(/\/$/, '')}/admin/seed/cart/c-old`, {
			method: 'POST',
			headers: {'Content-Type': 'application/json', Authorization: `Bearer ${await adminToken()}`},
			body: JSON.stringify({events: [
				{event: 'CartOpened', payload: {customer: 'eve'}},
				{event: 'ItemAdded', version: 0, payload: {sku: 'MUG-1', quantity: 3}},
			]}),
			signal: AbortSignal.timeout(WAIT),
		});
		if (!resp.ok) throw new Error(`seeding c-old: HTTP ${resp.status}: ${await resp.text()}`);
		await see(page.locator('#live-count'), 'new');
		await page.getByRole('tab', {name: /Live/}).click();
		await see(page.locator('#live-log'), 'c-old', 'ItemAdded', 'c2', 'CartOpened', '"TEA-01"');
		if (!(await page.evaluate(() => window.notReloaded === true))) throw new Error('the page was reloaded');
	});

	await step('timeline-time-travel', async () => {
		await page.getByRole('tab', {name: 'Timeline'}).click();
		await page.locator('#tl-instances button', {hasText: 'c1'}).click();
		await see(page.locator('#tl-version-out'), 'Version 2 of 2');
		await see(page.locator('#tl-state'), 'TEA-01');
		await page.getByRole('button', {name: '◀ Previous'}).click();
		await see(page.locator('#tl-version-out'), 'Version 1 of 2');
		await see(page.locator('#tl-step'), 'CartOpened applied to the state of version 0');
		await see(page.locator('#tl-state'), '"open"', '"ada"');
		await notSee(page.locator('#tl-state'), 'TEA-01');
		// The slider by keyboard: Home is the initial state.
		await page.getByLabel('Version', {exact: true}).focus();
		await page.keyboard.press('Home');
		await see(page.locator('#tl-version-out'), 'Version 0 of 2');
		await see(page.locator('#tl-state'), '"new"');
		await notSee(page.locator('#tl-state'), '"ada"');
		await page.keyboard.press('ArrowRight');
		await see(page.locator('#tl-version-out'), 'Version 1 of 2');
	});

	await step('timeline-lenses', async () => {
		await page.locator('#tl-instances button', {hasText: 'c-old'}).click();
		await see(page.locator('#tl-version-out'), 'Version 2 of 2');
		const item = page.locator('#tl-events > li[data-version="2"]');
		await see(item, 'ItemAdded', 'read from v0');
		await item.locator('summary').click();
		await see(item, 'ItemAdded (schema version 0)', 'version 0 (stored)', 'quantity',
			'after lens 0 → version 1', 'after lens 1 → version 2', 'price');
		await see(page.locator('#tl-state'), 'MUG-1');
	});

	await step('read-side', async () => {
		// The tabs by keyboard: from Timeline, the right arrow.
		await page.getByRole('tab', {name: 'Timeline'}).focus();
		await page.keyboard.press('ArrowRight');
		await page.locator('#panel-readside').waitFor();
		await see(page.locator('#projections'), 'cart_summary', 'inline', 'running', 'sales_by_sku', 'lag');
		await page.getByLabel('Query', {exact: true}).selectOption('open_carts');
		await page.locator('#query-fields').getByLabel(labelled('limit')).fill('5');
		await page.getByRole('button', {name: 'Run query'}).click();
		await see(page.locator('#query-result'), 'open_carts', 'c1', 'ada', 'c2', 'bob');
		await see(page.locator('#effects'), 'place_order', 'cart.CheckedOut');
		await see(page.locator('#dead-letters'), 'No dead letters');
	});

	await step('dead-letters-and-rebuild', async () => {
		// An effect that is refused for good: order d1 exists already when
		// cart d1's checkout sends Place to it.
		const token = await adminToken();
		for (const [path, body] of [['/order/d1/Place', {cart: 'd1', total: 5}], ['/cart/d1/Open', {customer: 'dee'}],
			['/cart/d1/AddItem', {sku: 'TEA-01', qty: 1, price: 4.5}], ['/cart/d1/CheckOut', {}]]) {
			const r = await page.request.post(url.replace(/\/$/, '') + path, {data: body, headers: {Authorization: `Bearer ${token}`}});
			if (r.status() >= 300) throw new Error(`POST ${path}: ${r.status()} ${await r.text()}`);
		}
		const dead = page.locator('#dead-letters');
		const until = Date.now() + WAIT;
		for (;;) {
			await page.getByRole('button', {name: 'Refresh the dead letters'}).click();
			if ((await dead.innerText()).includes('place_order')) break;
			if (Date.now() > until) throw new Error(`no dead letter appeared:\n${await dead.innerText()}`);
			await page.waitForTimeout(200);
		}
		await see(dead, 'place_order', 'instance_exists');
		// Retry takes it off the list and delivers it again; it is refused
		// again and comes back.
		await page.getByRole('button', {name: /^Retry dead letter /}).click();
		await see(page.locator('#status'), '/retry: done.');
		for (const until = Date.now() + WAIT; ;) {
			await page.getByRole('button', {name: 'Refresh the dead letters'}).click();
			await page.waitForTimeout(200);
			const text = await dead.innerText();
			if (text.includes('place_order') && text.includes('instance_exists')) break;
			if (Date.now() > until) throw new Error(`the retried delivery did not come back:\n${text}`);
		}
		await page.getByRole('button', {name: /^Discard dead letter /}).click();
		await see(dead, 'No dead letters');
		// A projection rebuilt from the page replays the whole log.
		await page.getByRole('button', {name: 'rebuild sales_by_sku'}).click();
		await see(page.locator('#status'), '/projections/sales_by_sku/rebuild: done.');
		await see(page.locator('#projections'), 'sales_by_sku', 'running');
	});

	await step('reset', async () => {
		await page.getByRole('button', {name: 'Reset'}).click();
		await see(page.locator('#status'), 'Reset');
		await page.getByRole('tab', {name: 'Timeline'}).click();
		await see(page.locator('#tl-instances'), 'No events yet');
		// The simulation starts over: c1 can be opened again.
		await page.getByRole('tab', {name: 'Commands'}).click();
		await page.getByLabel('Instance id').fill('c1');
		await send('Open', {customer: 'ada'});
		await see(result, 'Accepted: Open', 'version 1');
		await page.getByRole('tab', {name: 'Live'}).click();
		await see(page.locator('#live-log'), 'c1', 'CartOpened');
	});

	await step('reset-from-elsewhere', async () => {
		// A reset the page did not ask for ends its stream; it sees the
		// log start over and clears what it shows.
		const resp = await fetch(`${url.replace(/\/$/, '')}/admin/reset`, {
			method: 'POST', headers: {Authorization: `Bearer ${await adminToken()}`}, signal: AbortSignal.timeout(WAIT),
		});
		if (resp.status !== 204) throw new Error(`POST /admin/reset: HTTP ${resp.status}: ${await resp.text()}`);
		await notSee(page.locator('#live-log'), 'c1');
		await page.getByRole('tab', {name: 'Timeline'}).click();
		await see(page.locator('#tl-instances'), 'No events yet');
		await see(page.locator('#live-status'), 'connected');
		if (!(await page.evaluate(() => window.notReloaded === true))) throw new Error('the page was reloaded');
	});

	if (problems.length) throw new Error(`the page reported:\n  ${problems.join('\n  ')}`);
	fs.writeFileSync(path.join(artifacts, 'scenarios.cue'), scenarios.join(''));
	console.log(`ok: ${n} screenshots and ${scenarios.length} scenarios in ${artifacts}`);
} catch (err) {
	console.error(err.message);
	process.exitCode = 1;
} finally {
	await browser.close().catch(() => {});
	clearTimeout(deadline);
}
