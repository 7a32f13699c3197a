// The watch in a real browser: Debian's Chromium driven by playwright-core.
// Run by watch_test.go:
//
//	scripts/node e2e/playground/watch.mjs PAGE CONTEXT_FILE ARTIFACTS
//
// PAGE is `cuesource play CONTEXT_FILE` (watching). The user has the form
// of cart.AddItem open with a sku typed; a command added to the file
// appears in the page with a note of what changed, and the form keeps
// what was typed; a typo shows the overlay, its error linked to its line;
// the fix clears it. Exits 1 with the failing step.

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [pageURL, file, artifacts] = process.argv.slice(2);
fs.mkdirSync(artifacts, {recursive: true});
const WAIT = 20_000;
const deadline = setTimeout(() => { console.error('watch.mjs: not done after 120s'); process.exit(1); }, 120_000);

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium', headless: true, timeout: 30_000,
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({viewport: {width: 1280, height: 800}})).newPage();
page.setDefaultTimeout(WAIT);

let n = 0;
async function step(name, fn) {
	process.stdout.write(`step ${name} ... `);
	try {
		await fn();
	} catch (err) {
		const shot = path.join(artifacts, `FAILED-${name}.png`);
		await page.screenshot({path: shot}).catch(() => {});
		console.log('FAILED');
		throw new Error(`step "${name}" failed: ${err.message}\n  screenshot: ${shot}`);
	}
	await page.screenshot({path: path.join(artifacts, `${String(++n).padStart(2, '0')}-${name}.png`)});
	console.log('ok');
}

async function see(locator, ...wants) {
	const until = Date.now() + WAIT;
	for (;;) {
		const text = await locator.innerText({timeout: WAIT}).catch(() => '');
		const missing = wants.filter((w) => !text.includes(w));
		if (missing.length === 0) return;
		if (Date.now() > until) throw new Error(`expected ${JSON.stringify(missing)} in ${locator}, which shows:\n${text}`);
		await page.waitForTimeout(100);
	}
}

// save writes the file as editors do: a new file renamed over it.
function save(src) {
	fs.writeFileSync(file + '.swp', src);
	fs.renameSync(file + '.swp', file);
}

const field = (label) => page.locator('#cmd-fields').getByLabel(new RegExp(`^${label}\\*?$`));
const original = fs.readFileSync(file, 'utf8');
const renamed = original.replace('\t\t\tCheckOut: {',
	'\t\t\tRename: {\n\t\t\t\t#payload: customer: string & !=""\n\t\t\t\temit: [{event: "CartOpened", payload: customer: "cmd.customer"}]\n\t\t\t}\n\t\t\tCheckOut: {');
const broken = renamed.replace('payload: customer: "cmd.customer"}]\n\t\t\t}\n\t\t\tCheckOut: {', 'payload: customer: "cmd.custmer"}]\n\t\t\t}\n\t\t\tCheckOut: {');
if (renamed === original || broken === renamed) throw new Error('the edits did not apply to the context');
const line = broken.slice(0, broken.indexOf('cmd.custmer')).split('\n').length;

try {
	await step('form-open', async () => {
		await page.goto(pageURL);
		await page.locator('body[data-ready="true"]').waitFor();
		await page.locator('body[data-watch-seq]').waitFor({state: 'attached'});
		await page.locator('#diagram g.node[data-name="cart.AddItem"]').click();
		await page.locator('#panel-commands').waitFor();
		await page.getByLabel('Instance id').fill('c9');
		await field('sku').fill('TEA-01');
	});

	await step('valid-edit-reloads', async () => {
		save(renamed);
		await see(page.locator('#watch-note'), 'Reloaded: commands added: cart.Rename');
		const options = await page.getByLabel('Command', {exact: true}).locator('option').allInnerTexts();
		if (!options.includes('Rename')) throw new Error(`the command list lacks Rename: ${options}`);
		if (await page.getByLabel('Command', {exact: true}).inputValue() !== 'AddItem') throw new Error('the form left AddItem');
		if (await field('sku').inputValue() !== 'TEA-01') throw new Error('the form lost the sku typed');
		if (await page.getByLabel('Instance id').inputValue() !== 'c9') throw new Error('the form lost the instance id');
		await see(page.locator('#model'), 'Rename');
		await page.locator('#diagram g.node[data-name="cart.Rename"]').waitFor({state: 'attached'});
	});

	await step('invalid-edit-overlay', async () => {
		save(broken);
		const overlay = page.locator('#watch-overlay');
		await overlay.waitFor({state: 'visible'});
		await see(overlay, 'does not vet', `:${line}:`, 'cmd has no field custmer');
		const href = await overlay.locator('a.at').first().getAttribute('href');
		if (!href.startsWith('vscode://file/') || !href.includes(`${path.basename(file)}:${line}:`)) throw new Error(`the error links to ${href}`);
	});

	await step('fix-clears-overlay', async () => {
		save(renamed);
		await page.locator('#watch-overlay').waitFor({state: 'hidden'});
		if (await field('sku').inputValue() !== 'TEA-01') throw new Error('the form lost the sku typed');
	});
} catch (err) {
	console.error(err.message);
	process.exitCode = 1;
} finally {
	clearTimeout(deadline);
	await browser.close();
}
