// The cost of the shell protocol alone, in Node's V8: the projector script
// catching an inline projection up with a log of P pages (100 events each;
// per page the script reads the events, reads the rows they touch and
// writes one batch), its operations answered at once by this file instead
// of D1. It drives either protocol, whichever the build has:
//
//   replay (before): call(name, input + every result so far) is run again
//     from the start after each operation, and a run stops after 24
//     operations (the shell then starts another);
//   await (after): run(name, input, perform) runs once; Go blocks on each
//     operation and resume(ticket, result) continues it.
//
//   scripts/node bench/workers/protocol.mjs WORKERDIR [PAGES...]
//
// It prints one JSON object: per page count, the median ms of a run over
// 15 runs and the number of calls into Go; and serveUs, the mean µs of the
// router's serve script for one command (one operation) in a loop.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dir, ...rest] = process.argv.slice(2);
if (!dir) {
  process.stderr.write("usage: protocol.mjs WORKERDIR [PAGES...]\n");
  process.exit(2);
}
const pages = rest.length ? rest.map(Number) : [1, 5, 20];
const log = console.log;
console.log = console.error;

await import(pathToFileURL(path.resolve(dir, "wasm_exec.js")).href);
const { manifest, build } = await import(pathToFileURL(path.resolve(dir, "context.mjs")).href);
const go = new Go();
const instance = await WebAssembly.instantiate(await WebAssembly.compile(fs.readFileSync(path.join(dir, "engine.wasm"))), go.importObject);
go.run(instance);
const api = globalThis.cuesource;
const err = api.init(JSON.stringify(manifest), JSON.stringify({ token: "", adminToken: "", env: {}, queryJSON: build.queryJSON }));
if (err) throw new Error(err);

const cols = ["position", "id", "aggregate", "instance", "version", "type", "schema_version", "time", "command_id", "payload"];
// answer is the result of an op against a log of n pages.
function answer(op, n) {
  if (op.kind === "batch") return { ok: op.statements.map(() => []) };
  const sql = op.statement.sql;
  if (sql.includes("FROM events WHERE position > ?1")) {
    const after = op.statement.params[0];
    const rows = [];
    for (let p = after + 1; p <= Math.min(after + op.statement.params[1], n * 100); p++) {
      const c = `c${p % 10}`;
      rows.push(p % 100 === 1 ? [p, `e${p}`, "cart", c, p, "CartOpened", 0, "2026-12-07T12:00:00Z", `k${p}`, '{"customer":"ada"}'] : [p, `e${p}`, "cart", c, p, "ItemAdded", 2, "2026-12-07T12:00:00Z", `k${p}`, '{"sku":"S-1","qty":1,"price":2}']);
    }
    return { ok: { columns: cols, rows } };
  }
  return { ok: { columns: ["key"], rows: [] } };
}

let calls = 0;
const checkpoints = () => Object.keys(manifest.projections).map((name) => ({ name, position: 0, hash: hashOf(name), state: "running", errorAt: 0 }));
let hashes = null;
function hashOf(name) {
  return hashes[name];
}

async function replay(n, input) {
  for (;;) {
    const results = [];
    let step;
    for (;;) {
      calls++;
      step = JSON.parse(api.call("project", JSON.stringify({ ...input, results })));
      if (step.fault) throw new Error(step.fault.message);
      if (!step.op) break;
      results.push(await Promise.resolve(answer(step.op, n)));
    }
    if (!step.done.more) return step.done;
    input = { ...input, checkpoints: step.done.checkpoints ?? input.checkpoints };
  }
}

function awaiting(n, input) {
  calls++;
  return api
    .run("project", JSON.stringify(input), (op, ticket) => {
      Promise.resolve().then(() => {
        calls++;
        api.resume(ticket, JSON.stringify(answer(JSON.parse(op), n)));
      });
    })
    .then((out) => JSON.parse(out));
}

const protocol = api.run ? "await" : "replay";
const once = (n, input) => (protocol === "await" ? awaiting(n, input) : replay(n, input));

// The projections' hashes: a first run against an empty log makes them.
hashes = {};
{
  const input = { now: "2026-12-07T12:00:00Z", action: "", name: "", inline: true, checkpoints: null };
  const emptyAnswer = (op) => (op.kind === "d1" ? { ok: { columns: cols, rows: [] } } : { ok: op.statements.map(() => []) });
  let d;
  if (protocol === "await") {
    d = JSON.parse(await api.run("project", JSON.stringify(input), (op, t) => Promise.resolve().then(() => api.resume(t, JSON.stringify(emptyAnswer(JSON.parse(op)))))));
  } else {
    const results = [];
    for (;;) {
      const step = JSON.parse(api.call("project", JSON.stringify({ ...input, results })));
      if (!step.op) {
        d = step.done;
        break;
      }
      results.push(emptyAnswer(step.op));
    }
  }
  for (const cp of d.checkpoints) hashes[cp.name] = cp.hash;
}

const out = { protocol, runs: {} };
for (const n of pages) {
  const input = { now: "2026-12-07T12:00:00Z", action: "", name: "", inline: true, checkpoints: checkpoints() };
  for (let k = 0; k < 3; k++) await once(n, input);
  const ms = [];
  calls = 0;
  for (let k = 0; k < 15; k++) {
    const t = performance.now();
    const d = await once(n, input);
    ms.push(performance.now() - t);
    const cp = d.checkpoints.find((c) => c.name === "cart_summary");
    if (cp.position !== n * 100) throw new Error(`projected to ${cp.position}, want ${n * 100}`);
  }
  ms.sort((a, b) => a - b);
  out.runs[n] = { pages: n, ops: 1 + 3 * n, medianMs: +ms[7].toFixed(2), goCalls: calls / 15 };
}
// A command as the router serves it: one operation (the object's
// execute), whose answer is the response.
{
  const input = JSON.stringify({ request: { method: "POST", path: "/cart/c1/AddItem", query: "", headers: [["Content-Type", "application/json"]], body: '{"sku":"S-1","qty":1,"price":2}' }, now: "2026-12-07T12:00:00Z", id: "x" });
  const resp = { ok: { status: 200, headers: [["Content-Type", "application/json"]], body: '{"version":2}' } };
  const serve = () => {
    if (protocol === "await") return api.run("serve", input, (op, t) => Promise.resolve().then(() => api.resume(t, JSON.stringify(resp))));
    const step = JSON.parse(api.call("serve", input));
    return Promise.resolve(step.op.answer ? resp.ok : null);
  };
  const n = 5000;
  for (let k = 0; k < 1000; k++) await serve();
  const t = performance.now();
  for (let k = 0; k < n; k++) await serve();
  out.serveUs = +(((performance.now() - t) / n) * 1000).toFixed(1);
}
log(JSON.stringify(out));
process.exit(0);
