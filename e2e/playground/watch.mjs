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

import fs from 'node:fs';
import path from 'node:path';
import {open} from '../e2etest/browser.mjs';

const [pageURL, file, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'watch', artifacts, wait: 20_000, budget: 120_000});

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
	done();
	await browser.close();
}
