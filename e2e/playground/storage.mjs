// The Storage tab of `cuesource serve --archive DIR --dev-tokens` in a real
// browser: Debian's Chromium driven by playwright-core. Run by
// identity_test.go:
//
//	scripts/node e2e/playground/storage.mjs URL ADMIN ARTIFACTS
//
// URL serves a copy of the owned context that keeps one event hot per
// instance (keepLast: 1). The page starts without the admin token (the
// tab says it needs it), gets it through Connect, acts as ada (a token
// the server's development key minted) to write events, and the tab then
// shows what GET /admin/storage answers: the head, the segments the
// archiver wrote with their counts and ranges, and what keepLast would let
// go next. Exits 1 with the failing step.

import {open} from '../e2etest/browser.mjs';

const [url, admin, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'storage', artifacts, wait: 20_000, budget: 150_000});
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

const labelled = (label) => new RegExp(`^${label}\\*?$`);
const field = (label) => page.locator('#cmd-fields').getByLabel(labelled(label));
const box = page.locator('#storage');

async function send(id, command, fill = {}) {
	await page.getByRole('tab', {name: 'Commands'}).click();
	await page.getByLabel('Instance id').fill(id);
	await page.getByLabel('Command', {exact: true}).selectOption(command);
	for (const [label, value] of Object.entries(fill)) await field(label).fill(value);
	await page.getByRole('button', {name: 'Send', exact: true}).click();
	await see(page.locator('#result'), `Accepted: ${command}`);
}

async function storage() {
	const r = await page.request.get(`${url.replace(/\/$/, '')}/admin/storage`, {headers: {Authorization: `Bearer ${admin}`}});
	if (!r.ok()) throw new Error(`GET /admin/storage: ${r.status()} ${await r.text()}`);
	return r.json();
}

try {
	await step('needs-admin-token', async () => {
		await page.goto(url);
		await page.locator('body[data-ready=true]').waitFor();
		await page.getByRole('tab', {name: 'Storage'}).click();
		await see(box, 'connect with the admin token');
		if (await page.locator('#identity-box').isVisible()) throw new Error('the identity picker shows without the admin token');
	});

	await step('connect-admin', async () => {
		await page.getByRole('button', {name: 'Connect…'}).click();
		await page.getByLabel(/^Token/).fill(admin);
		await page.getByRole('button', {name: 'Save and reload'}).click();
		await page.locator('body[data-ready=true]').waitFor();
		await page.getByRole('tab', {name: 'Storage'}).click();
		await see(box, 'Hot store', 'position 0', 'would let nothing go now');
	});

	await step('write-as-ada', async () => {
		await page.getByLabel('Act as').selectOption('new');
		const dialog = page.locator('#identity-dialog');
		await dialog.getByLabel(labelled('sub')).fill('ada');
		await dialog.getByRole('button', {name: 'Add an item to roles'}).click();
		await dialog.getByLabel(labelled('roles 1')).fill('customer');
		await dialog.getByRole('button', {name: 'Act as this identity'}).click();
		await see(page.locator('#status'), 'now sent as ada');
		for (const id of ['s1', 's2']) {
			await send(id, 'Open');
			for (const sku of ['TEA-01', 'MUG-01', 'CUP-01']) await send(id, 'AddItem', {sku, qty: '1'});
		}
	});

	await step('segments', async () => {
		// The archiver runs every 200ms: the tab shows its segments once
		// it has written some (Refresh, as a person would).
		await page.getByRole('tab', {name: 'Storage'}).click();
		let s;
		for (const until = Date.now() + 20_000; ;) {
			s = await storage();
			// All but the head (8) is archived: nothing changes after.
			if (s.archived >= 7) break;
			if (Date.now() > until) throw new Error(`nothing was archived: ${JSON.stringify(s)}`);
			await page.waitForTimeout(200);
		}
		await page.getByRole('button', {name: 'Refresh the storage report'}).click();
		s = await storage();
		await see(box, `position ${s.head}`, `position ${s.archived}`, s.target, `${s.segmentCount}, `, 'Archive segments, newest first',
			s.next.length ? 'What each retention policy would let go next' : 'would let nothing go now');
		const first = s.segments[s.segments.length - 1];
		const row = box.locator('tbody tr').filter({hasText: first.name});
		await see(row, `${first.first}–${first.last}`, String(first.count));
		if (s.head !== 8) throw new Error(`head ${s.head}, want 8`);
	});

	if (problems.length) throw new Error(`the page reported:\n  ${problems.join('\n  ')}`);
	await browser.close();
	done();
} catch (err) {
	console.error(err.message);
	await browser.close().catch(() => {});
	process.exit(1);
}
