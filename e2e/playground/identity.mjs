// Acting as identities in a real browser: Debian's Chromium driven by
// playwright-core. Run by identity_test.go:
//
//	scripts/node e2e/playground/identity.mjs URL ARTIFACTS
//
// URL is `cuesource play contexts/owned`. The page mints an identity from
// its #claims form (ada, a customer), opens a cart as ada, then as bob (a
// customer too) is refused filling it: 403 with the rule's name, saved as
// a scenario with as:. Queries run as the identity (my_carts binds the
// owner from the token; carts_of is support's), anonymous is a 401, the
// identities are remembered across a reload, and the Storage tab shows
// the log's head and the hot store after the commands. The scenarios go
// to ARTIFACTS/scenarios.cue for the Go test to pass through `cuesource
// test`. Exits 1 with the failing step.

import fs from 'node:fs';
import path from 'node:path';
import {open} from '../e2etest/browser.mjs';

const [url, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'identity', artifacts, wait: 20_000, budget: 180_000});
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

const labelled = (label) => new RegExp(`^${label}\\*?$`);
const field = (label) => page.locator('#cmd-fields').getByLabel(labelled(label));
const result = page.locator('#result');
const picker = page.getByLabel('Act as');
const scenarios = [];

// newIdentity fills the identity form (generated from #claims) and acts
// as it.
async function newIdentity(sub, roles) {
	await picker.selectOption('new');
	const dialog = page.locator('#identity-dialog');
	await dialog.getByLabel(labelled('sub')).fill(sub);
	for (const [i, r] of roles.entries()) {
		await dialog.getByRole('button', {name: 'Add an item to roles'}).click();
		await dialog.getByLabel(labelled(`roles ${i + 1}`)).fill(r);
	}
	await dialog.getByRole('button', {name: 'Act as this identity'}).click();
	await see(page.locator('#status'), `now sent as ${sub}`);
}

async function send(id, command, fill = {}) {
	await page.getByRole('tab', {name: 'Commands'}).click();
	await page.getByLabel('Aggregate').selectOption('cart');
	await page.getByLabel('Instance id').fill(id);
	await page.getByLabel('Command', {exact: true}).selectOption(command);
	for (const [label, value] of Object.entries(fill)) await field(label).fill(value);
	await page.getByRole('button', {name: 'Send', exact: true}).click();
}

async function query(name, fill = {}) {
	await page.getByRole('tab', {name: 'Read side'}).click();
	await page.getByLabel('Query', {exact: true}).selectOption(name);
	for (const [label, value] of Object.entries(fill)) await page.locator('#query-fields').getByLabel(labelled(label)).fill(value);
	await page.getByRole('button', {name: 'Run query'}).click();
}

try {
	await step('picker', async () => {
		await page.goto(url);
		await page.locator('body[data-ready=true]').waitFor();
		await see(page.locator('header'), 'owned', 'Act as');
		if (await picker.inputValue() !== 'page') throw new Error('the page does not start with its own token');
	});

	await step('claims-refused', async () => {
		// The form is #claims: sub is required, and the server refuses
		// claims that do not fit, by where.
		await picker.selectOption('new');
		const dialog = page.locator('#identity-dialog');
		await dialog.getByLabel('More claims (a JSON object, optional)').fill('{"roles": "customer"}');
		await dialog.getByLabel(labelled('sub')).fill('zed');
		await dialog.getByRole('button', {name: 'Act as this identity'}).click();
		await see(page.locator('#identity-msg'), 'Refused', 'invalid_claims');
		await see(dialog.locator('fieldset.list').filter({hasText: 'roles'}).locator('.msg'), 'must be an array');
		await dialog.getByRole('button', {name: 'Cancel'}).click();
	});

	await step('ada-opens', async () => {
		await newIdentity('ada', ['customer']);
		await send('c1', 'Open');
		await see(result, 'Accepted: Open', 'as ada (customer)', 'CartOpened');
		await send('c1', 'AddItem', {sku: 'TEA-01', qty: '2'});
		await see(result, 'Accepted: AddItem', 'as ada (customer)', 'version 1 → 2');
	});

	await step('bob-is-forbidden', async () => {
		await newIdentity('bob', ['customer']);
		await send('c1', 'AddItem', {sku: 'TEA-01', qty: '1'});
		await see(result, 'Forbidden (403) as bob (customer) by rule: owner acts', 'unchanged at version 2');
		await page.getByRole('button', {name: 'Save as scenario'}).click();
		await page.getByLabel('Scenario name').fill('playground: bob cannot fill ada\'s cart');
		const text = await page.getByLabel(/^Scenario \(CUE/).inputValue();
		for (const w of ['as: {sub: "bob", roles: ["customer"]}', 'then: error: "owner acts"', '{event: "CartOpened", payload: {owner: "ada"}}']) {
			if (!text.includes(w)) throw new Error(`the exported scenario lacks ${w}:\n${text}`);
		}
		scenarios.push(text);
	});

	await step('queries-as-identity', async () => {
		await query('my_carts');
		await see(page.locator('#query-result'), 'my_carts: no rows');
		await query('carts_of', {owner: 'ada'});
		await see(page.locator('#query-result'), 'Query carts_of failed', '403 forbidden: support');
		await picker.selectOption({label: 'ada (customer)'});
		await see(page.locator('#status'), 'now sent as ada');
		await query('my_carts');
		await see(page.locator('#query-result'), 'my_carts: 1 row', 'c1');
	});

	await step('ada-accepted-scenario', async () => {
		await send('c1', 'CheckOut');
		await see(result, 'Accepted: CheckOut', 'as ada (customer)');
		await page.getByRole('button', {name: 'Save as scenario'}).click();
		await page.getByLabel('Scenario name').fill('playground: ada checks out');
		const text = await page.getByLabel(/^Scenario \(CUE/).inputValue();
		if (!text.includes('as: {sub: "ada", roles: ["customer"]}')) throw new Error(`the exported scenario lacks ada's as:\n${text}`);
		scenarios.push(text);
	});

	await step('anonymous-is-unauthorized', async () => {
		await picker.selectOption('anonymous');
		await send('c9', 'Open');
		await see(result, 'Unauthorized (401) as anonymous');
		await query('open_count');
		await see(page.locator('#query-result'), 'open_count: 1 row');
	});

	await step('remembered-after-reload', async () => {
		await picker.selectOption({label: 'bob (customer)'});
		await see(page.locator('#status'), 'now sent as bob');
		await page.reload();
		await page.locator('body[data-ready=true]').waitFor();
		const chosen = await picker.locator('option:checked').innerText();
		if (chosen !== 'bob (customer)') throw new Error(`after a reload the page acts as ${chosen}`);
		const options = await picker.locator('option').allInnerTexts();
		for (const w of ['ada (customer)', 'bob (customer)', 'anonymous (no token)']) {
			if (!options.includes(w)) throw new Error(`the picker lacks ${w}: ${options}`);
		}
		await send('c1', 'CheckOut');
		await see(result, 'Forbidden (403) as bob (customer) by rule: owner acts');
		// Back to the admin token: the rules do not apply to it.
		await picker.selectOption('page');
		await send('c1', 'AddItem', {sku: 'MUG-01', qty: '1'});
		await see(result, 'Rejected by guard: cart is not open');
	});

	await step('storage', async () => {
		await page.getByRole('tab', {name: 'Storage'}).click();
		const box = page.locator('#storage');
		// Events: c1 opened, filled and checked out, and the receipt note
		// the checkout's effect wrote.
		const r = await page.request.get(`${url.replace(/\/$/, '')}/admin/storage`, {
			headers: {Authorization: `Bearer ${await page.locator('meta[name="cuesource-admin-token"]').getAttribute('content')}`},
		});
		const s = await r.json();
		if (s.head !== 4) throw new Error(`GET /admin/storage: head ${s.head}, want 4: ${JSON.stringify(s)}`);
		await see(box, 'Hot store', 'Log head', 'position 4', 'nothing archived yet', 'none configured', 'No retention policy');
		const hot = await box.locator('[data-fact=hot]').innerText();
		if (!/^\d+(\.\d)? (B|KiB)/.test(hot) || hot.startsWith('0 B')) throw new Error(`the hot store shows ${hot}`);
		// A command later, the tab shows the new head.
		await page.getByRole('tab', {name: 'Commands'}).click();
		await send('c2', 'Open');
		await page.getByRole('tab', {name: 'Storage'}).click();
		await see(box, 'position 5');
	});

	if (problems.length) throw new Error(`the page reported:\n  ${problems.join('\n  ')}`);
	fs.writeFileSync(path.join(artifacts, 'scenarios.cue'), scenarios.join(''));
	await browser.close();
	done();
} catch (err) {
	console.error(err.message);
	await browser.close().catch(() => {});
	process.exit(1);
}
