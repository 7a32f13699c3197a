// Measures where a Worker's cold start goes, outside workerd, in Node's V8
// with a microsecond clock (workerd's clock stands still while JavaScript
// runs): each start runs in a fresh Node process, as a fresh isolate would.
//
//   scripts/node bench/workers/coldstart.mjs WORKERDIR [STARTS [INPUTS.json]]
//
// WORKERDIR is a `cuesource worker build` output. It prints, per step, the
// median and range of STARTS (default 9) starts in ms: compile the module,
// instantiate it, Go's runtime start (go.run until main has registered its
// functions), init (decode and compile the manifest, make the API), the
// first call (info, which the shell makes right after init) and, given
// INPUTS.json (a Go function name -> inputs, as timing.mjs's
// /__bench/inputs answers), the first call of each function with its
// first input: the Go part of a first command, code run for the first time
// and expressions compiled on first use included.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dir, startsArg, inputsPath, child] = process.argv.slice(2);
if (!dir) {
  process.stderr.write("usage: coldstart.mjs WORKERDIR [STARTS]\n");
  process.exit(2);
}

if (child === "--one") {
  const log = console.log;
  console.log = console.error; // Go's stdout must not mix with the answer
  await import(pathToFileURL(path.resolve(dir, "wasm_exec.js")).href);
  const { manifest, build } = await import(pathToFileURL(path.resolve(dir, "context.mjs")).href);
  const bytes = fs.readFileSync(path.join(dir, "engine.wasm"));
  const out = {};
  let t = performance.now();
  const step = (name) => {
    const now = performance.now();
    out[name] = now - t;
    t = now;
  };
  const mod = await WebAssembly.compile(bytes);
  step("compile");
  const go = new Go();
  const instance = await WebAssembly.instantiate(mod, go.importObject);
  step("instantiate");
  go.run(instance);
  step("goRun");
  const err = globalThis.cuesource.init(JSON.stringify(manifest), JSON.stringify({ token: "", adminToken: "", env: {}, queryJSON: build.queryJSON }));
  step("init");
  if (err) throw new Error("init: " + err);
  globalThis.cuesource.call("info", "{}");
  step("info");
  const inputs = inputsPath ? JSON.parse(fs.readFileSync(inputsPath, "utf8")) : {};
  for (const [name, list] of Object.entries(inputs)) {
    if (name === "info") continue;
    const res = globalThis.cuesource.call(name, list[0]);
    if (typeof res !== "string" || res.startsWith('{"fault"')) throw new Error(`${name}: ${String(res).slice(0, 200)}`);
    step(`first ${name}`);
  }
  log(JSON.stringify(out));
  process.exit(0);
}

const starts = Number(startsArg || 9);
const runs = [];
for (let i = 0; i < starts; i++) {
  runs.push(JSON.parse(execFileSync(process.execPath, [process.argv[1], dir, "1", inputsPath ?? "", "--one"], { encoding: "utf8" })));
}
const total = runs.map((r) => Object.values(r).reduce((a, b) => a + b, 0));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cell = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
console.log(`| step (${starts} starts, ms: median (min–max)) | ${path.basename(dir)} |\n|---|---:|`);
for (const k of Object.keys(runs[0])) console.log(`| ${k} | ${cell(runs.map((r) => r[k]))} |`);
console.log(`| total | ${cell(total)} |`);
