// The browser tests' harness: Debian's headless Chromium driven by
// playwright-core (never a downloaded browser), a page, and the two helpers
// every script uses: step (run a named step, screenshot it, and on failure
// keep a FAILED screenshot and say which step) and see (wait until a
// locator shows every text wanted, or fail with what it shows).
//
//	const {browser, page, step, see, done} = await open({name: 'watch', artifacts, wait: 20_000, budget: 120_000});

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export async function open({name, artifacts, wait = 20_000, budget = 120_000}) {
	fs.mkdirSync(artifacts, {recursive: true});
	// A script that hangs fails on its own rather than holding the test.
	const deadline = setTimeout(() => { console.error(`${name}.mjs: not done after ${budget / 1000}s`); process.exit(1); }, budget);
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium', headless: true, timeout: 30_000,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const page = await (await browser.newContext({viewport: {width: 1280, height: 800}})).newPage();
	page.setDefaultTimeout(wait);

	let n = 0;
	async function step(stepName, fn) {
		process.stdout.write(`step ${stepName} ... `);
		try {
			await fn();
		} catch (err) {
			const shot = path.join(artifacts, `FAILED-${stepName}.png`);
			await page.screenshot({path: shot}).catch(() => {});
			console.log('FAILED');
			throw new Error(`step "${stepName}" failed: ${err.message}\n  screenshot: ${shot}`);
		}
		await page.screenshot({path: path.join(artifacts, `${String(++n).padStart(2, '0')}-${stepName}.png`)});
		console.log('ok');
	}

	async function see(locator, ...wants) {
		const until = Date.now() + wait;
		for (;;) {
			const text = await locator.innerText({timeout: wait}).catch(() => '');
			const missing = wants.filter((w) => !text.includes(w));
			if (missing.length === 0) return;
			if (Date.now() > until) throw new Error(`expected ${JSON.stringify(missing)} in ${locator}, which shows:\n${text}`);
			await page.waitForTimeout(100);
		}
	}

	// done stops the deadline; the caller closes the browser.
	const done = () => clearTimeout(deadline);
	return {browser, page, step, see, done};
}
