// `cuesource inspect URL --as CLAIMS` in a real browser: Debian's Chromium
// driven by playwright-core. Run by identity_test.go:
//
//	scripts/node e2e/playground/inspect.mjs PAGE ARTIFACTS
//
// PAGE is inspect in front of `serve --dev-tokens` of the owned context,
// started --as bob (a customer); cart k1 is ada's. The page starts acting
// as bob, who is refused filling k1 with the rule's name, and may open a
// cart of his own. Exits 1 with the failing step.

import {open} from '../e2etest/browser.mjs';

const [url, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'inspect', artifacts, wait: 20_000, budget: 90_000});
const field = (label) => page.locator('#cmd-fields').getByLabel(new RegExp(`^${label}\\*?$`));
const result = page.locator('#result');

async function send(id, command, fill = {}) {
	await page.getByRole('tab', {name: 'Commands'}).click();
	await page.getByLabel('Aggregate').selectOption('cart');
	await page.getByLabel('Instance id').fill(id);
	await page.getByLabel('Command', {exact: true}).selectOption(command);
	for (const [label, value] of Object.entries(fill)) await field(label).fill(value);
	await page.getByRole('button', {name: 'Send', exact: true}).click();
}

try {
	await step('starts-as-bob', async () => {
		await page.goto(url);
		await page.locator('body[data-ready=true]').waitFor();
		await see(page.locator('header'), 'owned', 'inspect');
		const chosen = await page.getByLabel('Act as').locator('option:checked').innerText();
		if (chosen !== 'bob (customer)') throw new Error(`the page acts as ${chosen}`);
	});
	await step('bob-refused-on-adas-cart', async () => {
		await send('k1', 'AddItem', {sku: 'TEA-01', qty: '1'});
		await see(result, 'Forbidden (403) as bob (customer) by rule: owner acts');
	});
	await step('bob-opens-his-own', async () => {
		await send('k2', 'Open');
		await see(result, 'Accepted: Open', 'as bob (customer)', '"bob"');
	});
	await browser.close();
	done();
} catch (err) {
	console.error(err.message);
	await browser.close().catch(() => {});
	process.exit(1);
}
