// The playground over a Worker, in a real browser: Debian's Chromium
// driven by playwright-core against `cuesource inspect WORKER_URL`. Run by
// inspect_test.go:
//
//	scripts/node e2e/workerd/inspect.mjs URL ARTIFACTS
//
// It sends commands from the page's form, sees them in the timeline (the
// live stream, through inspect, from the Worker's D1 log) with time travel,
// and the Worker's projections on the read side. Screenshots go to
// ARTIFACTS. Exits 1 with the failing step and what the page showed.

import {open} from '../e2etest/browser.mjs';

const [url, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'inspect', artifacts, wait: 30_000, budget: 180_000});

const field = (label) => page.locator('#cmd-fields').getByLabel(new RegExp(`^${label}\\*?$`));
async function send(command, fill) {
	await page.getByLabel('Command', {exact: true}).selectOption(command);
	for (const [label, value] of Object.entries(fill)) await field(label).fill(value);
	await page.getByRole('button', {name: 'Send', exact: true}).click();
}

try {
	await step('overview', async () => {
		await page.goto(url);
		await page.locator('body[data-ready=true]').waitFor();
		await see(page.locator('header'), 'shop', 'inspect: http://127.0.0.1:');
		await page.locator('#diagram svg g.node[data-name="cart.AddItem"]').waitFor();
	});
	await step('commands', async () => {
		await page.getByRole('tab', {name: 'Commands'}).click();
		await page.locator('#cmd-id').fill('w1');
		await send('Open', {customer: 'ada'});
		await see(page.locator('#result'), 'Accepted: Open', 'CartOpened');
		await send('AddItem', {sku: 'TEA-01', qty: '2', price: '4.5'});
		await see(page.locator('#result'), 'Accepted: AddItem', 'ItemAdded');
	});
	await step('timeline', async () => {
		await page.getByRole('tab', {name: 'Timeline'}).click();
		await page.locator('#tl-instances button', {hasText: 'w1'}).click();
		await see(page.locator('#tl-events'), 'CartOpened', 'ItemAdded');
		await see(page.locator('#tl-version-out'), 'Version 2 of 2');
		await page.getByRole('button', {name: '◀ Previous'}).click();
		await see(page.locator('#tl-version-out'), 'Version 1 of 2');
	});
	await step('read-side', async () => {
		await page.getByRole('tab', {name: 'Read side'}).click();
		await see(page.locator('#projections'), 'cart_summary', 'sales_by_sku');
	});
	await browser.close();
	done();
} catch (err) {
	console.error(err.message);
	await browser.close().catch(() => {});
	process.exit(1);
}
