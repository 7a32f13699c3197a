// Replays the Go engine's calls of one command outside workerd, in Node's
// V8, with a microsecond clock: bench.mjs runs it after its profile step.
//
//   scripts/node bench/workers/gocalls.mjs WORKERDIR INPUTS.json
//
// WORKERDIR is a `cuesource worker build` output (engine.wasm, wasm_exec.js,
// context.mjs); INPUTS.json maps a Go function name to the inputs the
// shell gave it (timing.mjs's /__bench/inputs). It prints one JSON object:
// the start-up steps in ms (compile the module, Go's runtime start, compile
// the manifest) and, per function and input, the mean µs of a call after a
// warm-up.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dir, inputsPath] = process.argv.slice(2);
if (!dir || !inputsPath) {
  process.stderr.write("usage: gocalls.mjs WORKERDIR INPUTS.json\n");
  process.exit(2);
}
const inputs = JSON.parse(fs.readFileSync(inputsPath, "utf8"));
const log = console.log;
console.log = console.error; // Go's stdout must not mix with the answer

await import(pathToFileURL(path.resolve(dir, "wasm_exec.js")).href);
const { manifest, build } = await import(pathToFileURL(path.resolve(dir, "context.mjs")).href);

const out = { start: {}, calls: {} };
let t = performance.now();
const mod = await WebAssembly.compile(fs.readFileSync(path.join(dir, "engine.wasm")));
out.start.compileMs = performance.now() - t;
const go = new Go();
const instance = await WebAssembly.instantiate(mod, go.importObject);
t = performance.now();
go.run(instance);
out.start.goRunMs = performance.now() - t;
t = performance.now();
const err = globalThis.cuesource.init(JSON.stringify(manifest), JSON.stringify({ token: "", adminToken: "", env: {}, queryJSON: build.queryJSON }));
out.start.initMs = performance.now() - t;
if (err) {
  process.stderr.write("gocalls: init: " + err + "\n");
  process.exit(1);
}

const warm = 2000;
const n = 5000;
// A script (recorded with its results) is run with each result given back
// at once.
const runOnce = (name, rec) => {
  let i = 0;
  return globalThis.cuesource.run(name, rec.input, (op, ticket) => {
    const r = rec.results[i++] ?? JSON.stringify({ error: "no recorded result" });
    Promise.resolve().then(() => globalThis.cuesource.resume(ticket, r));
  });
};
for (const [name, list] of Object.entries(inputs)) {
  if (name === "info") continue;
  out.calls[name] = [];
  for (const input of list) {
    const once = typeof input === "string" ? async () => globalThis.cuesource.call(name, input) : () => runOnce(name, input);
    // A script whose run depends on what Go kept from earlier runs (the
    // projector's checkpoints) does not replay alone: left out.
    if (typeof input !== "string" && String(await once()).startsWith('{"fault"')) {
      process.stderr.write(`gocalls: ${name} does not replay on its own; left out\n`);
      continue;
    }
    let res;
    for (let k = 0; k < warm; k++) res = await once();
    const s = performance.now();
    for (let k = 0; k < n; k++) res = await once();
    const us = ((performance.now() - s) / n) * 1000;
    if (typeof res !== "string" || res.startsWith('{"fault"')) throw new Error(`${name}: ${String(res).slice(0, 200)}`);
    const text = typeof input === "string" ? input : input.input;
    out.calls[name].push({ us, inBytes: text.length, outBytes: res.length });
  }
  if (!out.calls[name].length) delete out.calls[name];
}
log(JSON.stringify(out));
process.exit(0);
