// The playground's Storage tab over a Worker, in a real browser: Debian's
// Chromium driven by playwright-core against `cuesource inspect
// WORKER_URL`. Run by storage_test.go:
//
//	scripts/node e2e/workerd/storage.mjs URL ADMIN ARTIFACTS
//
// The Worker serves the ledger context, whose tiny hot budget made the
// Archiver object move most of its log to R2. The tab shows what GET
// /admin/storage answers on the Worker: D1's log against its budget, the
// segments in the R2 bucket with their ranges and counts. Exits 1 with the
// failing step.

import {open} from '../e2etest/browser.mjs';

const [url, admin, artifacts] = process.argv.slice(2);
const {browser, page, step, see, done} = await open({name: 'storage-worker', artifacts, wait: 20_000, budget: 120_000});
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
const box = page.locator('#storage');

try {
	await step('storage', async () => {
		await page.goto(url);
		await page.locator('body[data-ready=true]').waitFor();
		await page.getByRole('tab', {name: 'Storage'}).click();
		const r = await page.request.get(`${url.replace(/\/$/, '')}/admin/storage`, {headers: {Authorization: `Bearer ${admin}`}});
		if (!r.ok()) throw new Error(`GET /admin/storage: ${r.status()} ${await r.text()}`);
		const s = await r.json();
		if (!s.segmentCount) throw new Error(`no segment to show: ${JSON.stringify(s)}`);
		await page.getByRole('button', {name: 'Refresh the storage report'}).click();
		await see(box, 'Hot store', `position ${s.head}`, `position ${s.archived}`, 'R2 bucket ARCHIVE', `${s.segmentCount}, `, 'Archive segments, newest first');
		const first = s.segments[s.segments.length - 1];
		await see(box.locator('tbody tr').filter({hasText: first.name}), `${first.first}–${first.last}`, String(first.count));
	});
	if (problems.length) throw new Error(`the page reported:\n  ${problems.join('\n  ')}`);
	await browser.close();
	done();
} catch (err) {
	console.error(err.message);
	await browser.close().catch(() => {});
	process.exit(1);
}
