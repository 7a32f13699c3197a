// Connect in a real browser: Debian's Chromium driven by playwright-core.
// Run by connect_test.go:
//
//	scripts/node e2e/playground/connect.mjs PAGE OTHER ARTIFACTS
//
// PAGE is `cuesource serve --token user-token --admin-token admin-token`;
// OTHER another origin in front of it that allows the page by CORS. The
// page is refused without a token; Connect points it at OTHER with the
// admin token; it then reads the model and sends a command from its
// form, and polls the log (the live stream cannot carry the token), so an
// event written from outside appears. Exits 1 with the failing step.

import {open} from '../e2etest/browser.mjs';

const [pageURL, other, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'connect', artifacts, wait: 20_000, budget: 120_000});

const field = (label) => page.locator('#cmd-fields').getByLabel(new RegExp(`^${label}\\*?$`));

try {
	await step('refused-without-token', async () => {
		await page.goto(pageURL);
		await see(page.locator('#status'), 'Connect');
	});
	await step('connect', async () => {
		await page.getByRole('button', {name: 'Connect…'}).click();
		await page.getByLabel('Base URL').fill(other);
		await page.getByLabel(/^Token/).fill('admin-token');
		await page.getByRole('button', {name: 'Save and reload'}).click();
		await page.locator('body[data-ready=true]').waitFor();
		await see(page.locator('header'), 'shop', `connected to ${other}`);
		await see(page.locator('#model'), 'AddItem', 'cart_summary');
	});
	await step('command-through-other', async () => {
		await page.getByRole('tab', {name: 'Commands'}).click();
		await page.locator('#cmd-id').fill('k1');
		await page.getByLabel('Command', {exact: true}).selectOption('Open');
		await field('customer').fill('kim');
		await page.getByRole('button', {name: 'Send', exact: true}).click();
		await see(page.locator('#result'), 'Accepted: Open', 'CartOpened');
	});
	await step('polled-live', async () => {
		await see(page.locator('#live-status'), 'polling');
		const r = await page.request.post(`${pageURL.replace(/\/$/, '')}/cart/k2/Open`, {data: {customer: 'lee'}, headers: {Authorization: 'Bearer user-token'}});
		if (r.status() !== 201) throw new Error(`POST /cart/k2/Open: ${r.status()} ${await r.text()}`);
		await page.getByRole('tab', {name: /^Live/}).click();
		await see(page.locator('#live-log'), 'k2', 'CartOpened');
	});
	await browser.close();
	done();
} catch (err) {
	console.error(err.message);
	await browser.close().catch(() => {});
	process.exit(1);
}
