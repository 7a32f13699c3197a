// The Workers benchmark: cuesource Workers against a hand-written JavaScript
// Worker with the same SQL (baseline/), all under real workerd through
// e2e/workerd/harness.mjs.
//
//   scripts/node bench/workers/bench.mjs --example DIR [--cart DIR] [--baseline DIR] [flags]
//
// It builds nothing (`make bench-workers` builds the Workers). Two pairs:
//   engine   --cart: the Worker of bench/workers/cart.cue (the example's cart
//            alone: no projections, so the shell forwards in waitUntil)
//            against the baseline forwarding in waitUntil: the same I/O per
//            command, so the difference is the engine;
//   example  --example: the Worker of contexts/example.cue as built (its
//            inline projection makes a command wait for the forwarding and
//            the projector's run) against the baseline with AWAIT_FORWARD=1
//            (it waits for the forwarding; it has no projections).
// In one run it:
//   0. checks that each pair answers a fixed command script alike (statuses,
//      bodies without ids and times, problem kinds and names);
//   1. starts the four Workers side by side and warms them up;
//   2. measures in --rounds rounds, the order alternating (forward, then
//      reversed): (a) sequential latency, --seq AddItem commands one after
//      another on one cart over one keep-alive connection; (b) throughput,
//      --clients clients, each on its own cart and connection, --per-client
//      AddItem commands each, all at once; each round uses new carts, opened
//      with 5 lines first (not measured);
//   3. checks that each Worker's D1 log holds every event it accepted;
//   4. cold starts: --cold fresh harness starts of each cuesource Worker and
//      the baseline, alternating: the time from the ready line to the first
//      command's answer (Open), and the Go runtime's start within it;
//   5. sizes: engine.wasm raw and gzip -9, and each Worker's modules;
//   6. unless --profile 0, a profile with a timing wrapper (timing.mjs) on
//      copies of the four: where a command's time goes, and the Go calls of
//      one command replayed in a loop inside workerd and in Node
//      (gocalls.mjs), with the engine's start-up steps in Node.
// It prints markdown tables and writes every number as JSON (--out).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { Client } from "undici";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const harnessPath = path.join(root, "e2e/workerd/harness.mjs");

// ------------------------------------------------------------------ flags

function parseArgs(argv) {
  const o = {
    example: null,
    cart: null,
    baseline: path.join(here, "baseline"),
    rounds: 5,
    seq: 300,
    clients: 8,
    perClient: 100,
    warmup: 300,
    cold: 5,
    profile: 300,
    out: path.join(root, ".bin/bench-workers.json"),
    logs: path.join(root, ".bin/bench-workers-logs"),
  };
  const num = new Set(["rounds", "seq", "clients", "perClient", "warmup", "cold", "profile"]);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith("--")) usage(`unexpected argument ${a}`);
    let v;
    const eq = a.indexOf("=");
    if (eq >= 0) [a, v] = [a.slice(0, eq), a.slice(eq + 1)];
    else v = argv[++i];
    const k = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in o)) usage(`unknown flag ${a}`);
    if (v === undefined) usage(`${a} needs a value`);
    if (num.has(k)) {
      if (!/^\d+$/.test(v)) usage(`${a} wants a number, got ${v}`);
      o[k] = Number(v);
    } else {
      o[k] = path.resolve(v);
    }
  }
  if (!o.example && !o.cart) usage("--example DIR or --cart DIR is required (cuesource worker build CONTEXT -o DIR)");
  if (o.rounds < 1 || o.seq < 1 || o.clients < 1 || o.perClient < 1) usage("rounds, seq, clients and per-client must be at least 1");
  return o;
}

function usage(msg) {
  process.stderr.write(
    `bench: ${msg}\nusage: bench.mjs --example DIR [--cart DIR] [--baseline DIR] [--rounds 5] [--seq 300] [--clients 8] [--per-client 100] [--warmup 300] [--cold 5] [--profile 300] [--out FILE] [--logs DIR]\n`,
  );
  process.exit(2);
}

const log = (...a) => process.stderr.write(a.join(" ") + "\n");

// ---------------------------------------------------------------- harness

const running = new Set();

// start runs the harness on a Worker ({name, dir, args}) and resolves when
// it is ready, with its url and the milliseconds from spawn to ready.
async function start(w, logName = w.name) {
  fs.mkdirSync(opts.logs, { recursive: true });
  const logFd = fs.openSync(path.join(opts.logs, logName + ".log"), "a");
  const t0 = performance.now();
  const child = spawn(process.execPath, [harnessPath, w.dir, ...(w.args ?? [])], { stdio: ["pipe", "pipe", logFd], detached: true });
  fs.closeSync(logFd);
  const h = { name: w.name, awaits: !!w.awaits, child, exited: new Promise((r) => child.on("exit", (code, sig) => r({ code, sig }))) };
  running.add(h);
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)).url);
    });
    h.exited.then(({ code, sig }) => reject(new Error(`harness on ${w.dir} exited (${code ?? sig}) before it was ready; see ${opts.logs}/${logName}.log`)));
  });
  h.readyMs = performance.now() - t0;
  h.url = url;
  return h;
}

async function stop(h) {
  if (!running.has(h)) return;
  h.child.stdin.end();
  const t = setTimeout(() => {
    try {
      process.kill(-h.child.pid, "SIGKILL");
    } catch {}
  }, 15_000);
  await h.exited;
  clearTimeout(t);
  // The harness's exit hook kills workerd; the group kill is for one that could not.
  try {
    process.kill(-h.child.pid, "SIGKILL");
  } catch {}
  running.delete(h);
}

const temps = [];
function cleanup() {
  for (const h of running) {
    try {
      process.kill(-h.child.pid, "SIGKILL");
    } catch {}
  }
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

function tempDir(name) {
  const d = path.join(os.tmpdir(), `cuesource-bench-${process.pid}-${name}`);
  fs.rmSync(d, { recursive: true, force: true });
  temps.push(d);
  return d;
}

// ------------------------------------------------------------------- HTTP

const json = { "content-type": "application/json" };

// post sends one command and reads its answer.
async function post(client, p, body, headers = json) {
  const r = await client.request({ method: "POST", path: p, headers, body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text };
}

async function get(client, p) {
  const r = await client.request({ method: "GET", path: p });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`GET ${p}: ${r.statusCode} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

const addTea = JSON.stringify({ sku: "TEA-01", qty: 1, price: 4.5 });
const lines = [
  { sku: "TEA-01", qty: 1, price: 4.5 },
  { sku: "MUG-02", qty: 2, price: 12 },
  { sku: "CHAIR-9", qty: 1, price: 300 },
  { sku: "LAMP-04", qty: 1, price: 45 },
  { sku: "BOOK-05", qty: 3, price: 9.99 },
];

// Commands accepted per Worker (each emits one event), for the log check.
const accepted = new Map();
const accept = (h, n = 1) => accepted.set(h.name, (accepted.get(h.name) ?? 0) + n);

function must(h, r, want, what) {
  if (!want.includes(r.status)) throw new Error(`${h.name}: ${what}: status ${r.status}, want ${want.join("/")}: ${r.text.slice(0, 300)}`);
  if (r.status < 300) accept(h);
}

function client(h) {
  return new Client(h.url, { pipelining: 1, keepAliveTimeout: 60_000 });
}

// openCart opens a cart with 5 lines.
async function openCart(h, c, id) {
  must(h, await post(c, `/cart/${id}/Open`, JSON.stringify({ customer: "ada" })), [201], `open ${id}`);
  for (const l of lines) must(h, await post(c, `/cart/${id}/AddItem`, JSON.stringify(l)), [200], `fill ${id}`);
}

async function addItems(h, c, id, n) {
  const lat = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await post(c, `/cart/${id}/AddItem`, addTea);
    lat[i] = performance.now() - t0;
    must(h, r, [200], "AddItem");
  }
  return lat;
}

// sequential opens a cart and sends n AddItem commands one after another
// on it; latencies in ms.
async function sequential(h, id, n) {
  const c = client(h);
  try {
    await openCart(h, c, id);
    return await addItems(h, c, id, n);
  } finally {
    await c.close();
  }
}

// concurrent runs k clients on k carts, m AddItem commands each, at once.
async function concurrent(h, prefix, k, m) {
  const cs = Array.from({ length: k }, () => client(h));
  try {
    await Promise.all(cs.map((c, i) => openCart(h, c, `${prefix}-${i}`)));
    const lat = [];
    const t0 = performance.now();
    await Promise.all(
      cs.map(async (c, i) => {
        for (let j = 0; j < m; j++) {
          const s = performance.now();
          const r = await post(c, `/cart/${prefix}-${i}/AddItem`, addTea);
          lat.push(performance.now() - s);
          must(h, r, [200], "AddItem");
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    return { perSec: (k * m) / secs, lat };
  } finally {
    await Promise.all(cs.map((c) => c.close()));
  }
}

// ------------------------------------------------------------- statistics

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const latStats = (lat) => ({ median: median(lat), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), mean: mean(lat) });

// ------------------------------------------------------------ conformance

// The script both Workers of a pair must answer alike: every command the
// baseline implements, accepted and rejected.
const script = [
  ["c1", "Open", { customer: "ada" }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 2, price: 4.5 }],
  ["c1", "AddItem", { sku: "MUG-02", qty: 1, price: 12 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 1, price: 4.5 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 1, price: 5 }],
  ["c1", "RemoveItem", { sku: "TEA-01" }],
  ["c1", "RemoveItem", { sku: "TEA-01" }],
  ["c1", "Open", { customer: "bob" }],
  ["c1", "AddItem", { sku: "x", qty: 1, price: 1 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 2.5, price: 4.5 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 0, price: 4.5 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 1, price: 10001 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 1 }],
  ["c1", "AddItem", { sku: "TEA-01", qty: 1, price: 4.5, extra: true }],
  ["c1", "RemoveItem", { sku: 5 }],
  ["c1", "Open", null],
  ["c2", "AddItem", { sku: "TEA-01", qty: 1, price: 4.5 }],
  ["c2", "RemoveItem", { sku: "TEA-01" }],
  ["c3", "Open", { customer: "" }],
  ["c3", "Open", { customer: "eve" }],
  ["c3", "AddItem", "[1]"],
  ["c3", "AddItem", "{not json"],
  ["c3", "Frobnicate", {}],
];

function normalize(r) {
  let body;
  try {
    body = JSON.parse(r.text);
  } catch {
    return { status: r.status, text: r.text };
  }
  if (r.status >= 400) return { status: r.status, kind: body.kind, name: body.name, pointers: body.violations?.map((v) => v.pointer) };
  for (const e of body.events ?? []) {
    e.id = "<id>";
    e.time = "<time>";
  }
  return { status: r.status, etag: r.headers.etag, location: r.headers.location, body };
}

async function conformance(a, b) {
  const ca = client(a);
  const cb = client(b);
  const diffs = [];
  try {
    for (const [id, cmd, payload] of script) {
      const body = typeof payload === "string" ? payload : JSON.stringify(payload);
      const p = `/cart/conf-${id}/${cmd}`;
      const [ra, rb] = [normalize(await post(ca, p, body)), normalize(await post(cb, p, body))];
      if (ra.status < 300) accept(a);
      if (rb.status < 300) accept(b);
      if (JSON.stringify(ra) !== JSON.stringify(rb)) diffs.push({ command: `${cmd} ${body}`, [a.name]: ra, [b.name]: rb });
    }
  } finally {
    await Promise.all([ca.close(), cb.close()]);
  }
  return diffs;
}

// logCount pages through GET /events and counts.
async function logCount(h) {
  const c = client(h);
  try {
    let after = 0;
    let n = 0;
    for (;;) {
      const page = await get(c, `/events?after=${after}&limit=1000`);
      n += page.events.length;
      if (page.events.length === 0) return n;
      after = page.next;
    }
  } finally {
    await c.close();
  }
}

// ------------------------------------------------------------------ sizes

function dirFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...dirFiles(p));
    else if (/\.(m?js|wasm)$/.test(e.name)) out.push(p);
  }
  return out;
}

// gzip9 is the size of a file through `gzip -9` (zlib's level 9 without
// the gzip command, about 1 % larger).
let gzipTool = "gzip -9";
function gzip9(file) {
  try {
    return execFileSync("gzip", ["-9", "-c", file], { maxBuffer: 1 << 30 }).length;
  } catch {
    gzipTool = "zlib level 9";
    return zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
  }
}

function sizes(dir) {
  const files = dirFiles(dir);
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    raw += fs.statSync(f).size;
    gz += gzip9(f);
  }
  return { files: files.map((f) => path.relative(dir, f)).sort(), raw, gzip9: gz };
}

// ---------------------------------------------------------------- profile

// timed is a copy of a Worker with timing.mjs as its main.
function timed(w) {
  const to = tempDir(`${w.name}-timed`);
  fs.cpSync(w.dir, to, { recursive: true });
  fs.copyFileSync(path.join(here, "timing.mjs"), path.join(to, "bench-timing.mjs"));
  const cfgPath = path.join(to, "wrangler.jsonc");
  const cfg = fs.readFileSync(cfgPath, "utf8");
  const next = cfg.replace(/"main":\s*"worker\.mjs"/, '"main": "bench-timing.mjs"');
  if (next === cfg) throw new Error(`${cfgPath}: no "main": "worker.mjs" to replace`);
  fs.writeFileSync(cfgPath, next);
  return { ...w, dir: to };
}

// profile runs timed copies of the Workers side by side: after a warm-up,
// n sequential AddItem commands each on one open cart, in chunks whose
// order alternates; then the wrapper's sums, and the last command's Go
// calls replayed in a loop.
async function profile(workers, n) {
  const chunks = 5;
  const hs = [];
  try {
    for (const w of workers) hs.push(await start(timed(w), `${w.name}-profile`));
    for (const h of hs) {
      await sequential(h, "warm", opts.warmup);
      h.c = client(h);
      await openCart(h, h.c, "prof");
      await post(h.c, "/__bench/reset", "");
      h.lat = [];
    }
    for (let i = 0; i < chunks; i++) {
      for (const h of i % 2 === 0 ? hs : [...hs].reverse()) h.lat.push(...(await addItems(h, h.c, "prof", Math.ceil(n / chunks))));
    }
    const out = {};
    for (const h of hs) {
      const sums = await get(h.c, "/__bench/timings");
      const per = {};
      for (const [k, v] of Object.entries(sums)) per[k] = { calls: v.n / h.lat.length, ms: v.ms / h.lat.length };
      const p = { commands: h.lat.length, clientMean: mean(h.lat), clientMedian: median(h.lat), per };
      p.parts = parts(p, h.awaits);
      if (Object.keys(per).some((k) => k.startsWith("go."))) {
        p.goInputs = await get(h.c, "/__bench/inputs");
        p.goReplay = await get(h.c, "/__bench/replay?n=2000");
      }
      out[h.name] = p;
      await h.c.close();
    }
    return out;
  } finally {
    for (const h of hs) await stop(h);
  }
}

// parts splits a profile's mean command into where its time went. Go's
// calls after the commit (forward, project) run inside committed when the
// command awaits the forwarding, else in the background (waitUntil).
function parts(x, awaits) {
  const g = (k) => x.per[k]?.ms ?? 0;
  const goAll = Object.keys(x.per).filter((k) => k.startsWith("go.")).reduce((a, k) => a + g(k), 0);
  const goAfter = goAll - g("go.serve") - g("go.decide");
  return {
    outside: x.clientMean - g("fetch"),
    router: g("fetch") - g("execute") - g("go.serve"),
    transaction: g("execute") - g("committed") - g("go.decide"),
    afterCommit: g("committed") - (awaits ? goAfter : 0),
    go: goAll,
    goAnswer: g("go.serve") + g("go.decide") + (awaits ? goAfter : 0),
  };
}

// goCalls replays Go inputs in Node (gocalls.mjs, a child process) with a
// µs clock, and times the engine's start there.
async function goCalls(dir, inputs) {
  const f = path.join(tempDir(`inputs-${path.basename(dir)}`) + ".json");
  fs.writeFileSync(f, JSON.stringify(inputs));
  temps.push(f);
  const child = spawn(process.execPath, [path.join(here, "gocalls.mjs"), dir, f], { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  const code = await new Promise((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`gocalls.mjs exited ${code}`);
  return JSON.parse(text);
}

// ------------------------------------------------------------------- main

const opts = parseArgs(process.argv.slice(2));

async function main() {
  const started = Date.now();
  // The baseline runs with the build's D1 migrations, whatever its own copy
  // says, so every log has the same schema.
  const built = opts.example ?? opts.cart;
  const baselineRun = tempDir("baseline");
  fs.cpSync(opts.baseline, baselineRun, { recursive: true });
  fs.rmSync(path.join(baselineRun, "migrations"), { recursive: true, force: true });
  fs.cpSync(path.join(built, "migrations"), path.join(baselineRun, "migrations"), { recursive: true });
  fs.rmSync(opts.logs, { recursive: true, force: true });

  // The pairs and their Workers.
  const pairs = [];
  if (opts.cart) {
    pairs.push({
      name: "engine",
      what: "bench/workers/cart.cue (no projections; forwarding in waitUntil) vs baseline (forwarding in waitUntil)",
      cuesource: { name: "cuesource-cart", dir: opts.cart },
      baseline: { name: "baseline", dir: baselineRun },
    });
  }
  if (opts.example) {
    pairs.push({
      name: "example",
      what: "contexts/example.cue as built (forwarding and the projector's run awaited) vs baseline with AWAIT_FORWARD=1 (forwarding awaited, no projections)",
      cuesource: { name: "cuesource-example", dir: opts.example, awaits: true },
      baseline: { name: "baseline-await", dir: baselineRun, args: ["--var", "AWAIT_FORWARD=1"], awaits: true },
    });
  }
  const workers = pairs.flatMap((p) => [p.cuesource, p.baseline]);

  const res = {
    date: new Date(started).toISOString(),
    machine: { nproc: os.cpus().length, cpu: os.cpus()[0]?.model, loadavgAtStart: os.loadavg() },
    node: process.version,
    options: { ...opts },
    pairs: pairs.map((p) => ({ name: p.name, what: p.what, cuesource: p.cuesource.name, baseline: p.baseline.name })),
  };

  log(`bench: starting ${workers.map((w) => w.name).join(", ")}`);
  const hs = [];
  try {
    for (const w of workers) hs.push(await start(w));
    const H = Object.fromEntries(hs.map((h) => [h.name, h]));

    log("bench: conformance script");
    res.conformance = {};
    for (const p of pairs) {
      res.conformance[p.name] = await conformance(H[p.cuesource.name], H[p.baseline.name]);
      for (const d of res.conformance[p.name]) log(`bench: ${p.name}: the Workers differ on`, JSON.stringify(d));
    }

    log("bench: warm-up");
    for (const h of hs) {
      await sequential(h, "warm", opts.warmup);
      await concurrent(h, "warm-c", opts.clients, Math.max(1, Math.floor(opts.warmup / opts.clients)));
    }

    res.rounds = [];
    for (let r = 0; r < opts.rounds; r++) {
      const order = r % 2 === 0 ? hs : [...hs].reverse();
      const round = { order: order.map((h) => h.name) };
      for (const h of order) round[h.name] = { seq: latStats(await sequential(h, `seq-r${r}`, opts.seq)) };
      for (const h of order) {
        const t = await concurrent(h, `tput-r${r}`, opts.clients, opts.perClient);
        round[h.name].tput = { perSec: t.perSec, ...latStats(t.lat) };
      }
      round.loadavg = os.loadavg()[0];
      log(
        `bench: round ${r + 1}/${opts.rounds} (load ${round.loadavg.toFixed(2)}): ` +
          hs.map((h) => `${h.name} ${round[h.name].seq.median.toFixed(2)} ms ${round[h.name].tput.perSec.toFixed(0)}/s`).join("; "),
      );
      res.rounds.push(round);
    }

    log("bench: checking the D1 logs");
    res.logCheck = {};
    for (const h of hs) {
      const n = await logCount(h);
      res.logCheck[h.name] = { events: n, accepted: accepted.get(h.name), ok: n === accepted.get(h.name) };
      if (n !== accepted.get(h.name)) log(`bench: ${h.name}: the D1 log holds ${n} events, ${accepted.get(h.name)} were accepted`);
      if (h.name === "cuesource-example") {
        const c = client(h);
        res.logCheck[h.name].projections = (await get(c, "/projections")).projections.map((p) => ({ name: p.name, state: p.state, lag: p.lag }));
        await c.close();
      }
    }
  } finally {
    await Promise.all(hs.map(stop));
  }

  log("bench: cold starts");
  // The test switches (answered by Go) give the Go runtime's start time (GET
  // /__test/runtime); they change nothing else, and the baseline ignores
  // the variable.
  const coldWorkers = [...pairs.map((p) => p.cuesource), pairs[0].baseline].map((w) => ({ ...w, args: [...(w.args ?? []), "--var", "CUESOURCE_TEST_FAULTS=1"] }));
  res.cold = Object.fromEntries(coldWorkers.map((w) => [w.name, []]));
  for (let i = 0; i < opts.cold; i++) {
    for (const w of i % 2 === 0 ? coldWorkers : [...coldWorkers].reverse()) {
      const h = await start(w, `${w.name}-cold`);
      try {
        const c = client(h);
        let t0 = performance.now();
        const r1 = await post(c, "/cart/cold/Open", JSON.stringify({ customer: "ada" }));
        const firstMs = performance.now() - t0;
        if (r1.status !== 201) throw new Error(`${w.name}: cold Open: ${r1.status} ${r1.text.slice(0, 200)}`);
        t0 = performance.now();
        const r2 = await post(c, "/cart/cold/AddItem", addTea);
        const secondMs = performance.now() - t0;
        if (r2.status !== 200) throw new Error(`${w.name}: cold AddItem: ${r2.status}`);
        const sample = { readyMs: h.readyMs, firstMs, secondMs };
        if (w.name.startsWith("cuesource")) sample.goStartMs = (await get(c, "/__test/runtime")).startMillis;
        await c.close();
        res.cold[w.name].push(sample);
      } finally {
        await stop(h);
      }
    }
  }

  const wasm = path.join(built, "engine.wasm");
  res.sizes = { engineWasm: { raw: fs.statSync(wasm).size, gzip9: gzip9(wasm) } };
  for (const w of [...pairs.map((p) => p.cuesource), { name: "baseline", dir: opts.baseline }]) res.sizes[w.name] = sizes(w.dir);
  res.sizes.gzipTool = gzipTool;

  if (opts.profile > 0) {
    log("bench: profile (timing wrapper)");
    res.profile = await profile(workers, opts.profile);
    log("bench: the Go calls of one command and the engine's start, in Node");
    res.goCalls = {};
    for (const p of pairs) {
      const prof = res.profile[p.cuesource.name];
      res.goCalls[p.cuesource.name] = await goCalls(p.cuesource.dir, prof.goInputs);
      delete prof.goInputs;
    }
  }

  // Errors the Workers logged (a failed forward, a missing class, ...).
  res.logErrors = {};
  for (const f of fs.readdirSync(opts.logs).sort()) {
    const bad = fs
      .readFileSync(path.join(opts.logs, f), "utf8")
      .split("\n")
      .filter((l) => !l.startsWith("[mf:") && /error|fail|warning/i.test(l));
    if (bad.length) res.logErrors[f] = { lines: bad.length, first: bad.slice(0, 3) };
  }
  for (const [f, v] of Object.entries(res.logErrors)) log(`bench: ${opts.logs}/${f}: ${v.lines} error lines, first: ${v.first[0]}`);

  res.summary = summarize(res, pairs);
  res.seconds = (Date.now() - started) / 1000;
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, JSON.stringify(res, null, 2) + "\n");
  process.stdout.write(report(res, pairs));
  log(`bench: wrote ${opts.out} (${res.seconds.toFixed(0)} s)`);
}

// summarize takes, per pair, the medians over rounds, and the ratios
// cuesource/baseline both of those medians and, per round, of the pair
// (their median: the paired ratio).
function summarize(res, pairs) {
  const metrics = {
    seqMedian: (x) => x.seq.median,
    seqP90: (x) => x.seq.p90,
    seqP99: (x) => x.seq.p99,
    tputPerSec: (x) => x.tput.perSec,
    tputMedian: (x) => x.tput.median,
    tputP99: (x) => x.tput.p99,
  };
  const out = { pairs: {}, cold: {} };
  for (const p of pairs) {
    const [c, b] = [p.cuesource.name, p.baseline.name];
    const m = {};
    for (const [k, f] of Object.entries(metrics)) {
      const vc = res.rounds.map((r) => f(r[c]));
      const vb = res.rounds.map((r) => f(r[b]));
      m[k] = {
        cuesource: median(vc),
        baseline: median(vb),
        range: { cuesource: [Math.min(...vc), Math.max(...vc)], baseline: [Math.min(...vb), Math.max(...vb)] },
        ratio: median(vc) / median(vb),
        pairedRatio: median(res.rounds.map((r) => f(r[c]) / f(r[b]))),
      };
    }
    out.pairs[p.name] = m;
  }
  for (const [name, samples] of Object.entries(res.cold)) {
    if (samples.length === 0) continue;
    const o = {};
    for (const k of ["readyMs", "firstMs", "secondMs", "goStartMs"]) {
      const v = samples.map((x) => x[k]).filter((x) => x !== undefined);
      if (v.length) o[k] = { median: median(v), min: Math.min(...v), max: Math.max(...v) };
    }
    out.cold[name] = o;
  }
  return out;
}

function report(res, pairs) {
  const S = res.summary;
  const f = (x, d = 2) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
  let out = "";
  for (const p of pairs) {
    const s = S.pairs[p.name];
    const range = (k, who, d) => `${f(s[k].range[who][0], d)}–${f(s[k].range[who][1], d)}`;
    const row = (label, k, d = 2) =>
      `| ${label} | ${f(s[k].cuesource, d)} (${range(k, "cuesource", d)}) | ${f(s[k].baseline, d)} (${range(k, "baseline", d)}) | ${f(s[k].ratio)} | ${f(s[k].pairedRatio)} |\n`;
    out += `\n### Pair "${p.name}": ${p.what}\n\n`;
    out += `${res.rounds.length} interleaved rounds; medians of the rounds (min–max of the rounds).\n\n`;
    out += `| measure | ${p.cuesource.name} | ${p.baseline.name} | ratio | paired ratio |\n|---|---:|---:|---:|---:|\n`;
    out += row(`(a) sequential latency, median (ms; ${res.options.seq} AddItem on 1 cart)`, "seqMedian");
    out += row("(a) sequential latency, p90 (ms)", "seqP90");
    out += row("(a) sequential latency, p99 (ms)", "seqP99");
    out += row(`(b) throughput (commands/s; ${res.options.clients} clients × ${res.options.perClient} on ${res.options.clients} carts)`, "tputPerSec", 0);
    out += row("(b) latency under load, median (ms)", "tputMedian");
    out += row("(b) latency under load, p99 (ms)", "tputP99");
  }
  out += `\nratio: cuesource / baseline of the medians; paired ratio: the median of each round's cuesource / baseline (throughput: below 1 is slower).\n`;

  const cold = Object.entries(S.cold);
  if (cold.length) {
    out += `\n### Cold start (${res.options.cold} fresh harness starts each, alternating; median (min–max), ms)\n\n`;
    out += `| Worker | ready → first command answered (Open) | of which Go runtime start (instantiate, go.run, compile the manifest) | second command | harness spawn → ready |\n|---|---:|---:|---:|---:|\n`;
    const cell = (x, d = 1) => (x ? `${f(x.median, d)} (${f(x.min, 0)}–${f(x.max, 0)})` : "-");
    for (const [name, c] of cold) out += `| ${name} | ${cell(c.firstMs)} | ${cell(c.goStartMs)} | ${cell(c.secondMs)} | ${cell(c.readyMs, 0)} |\n`;
  }

  const z = res.sizes;
  const mb = (b) => (b < 1e5 ? (b / 1e3).toFixed(1) + " kB" : (b / 1e6).toFixed(2) + " MB");
  out += `\n### Sizes (compressed with ${res.sizes.gzipTool})\n\n| | raw | gzip -9 |\n|---|---:|---:|\n`;
  out += `| engine.wasm | ${mb(z.engineWasm.raw)} | ${mb(z.engineWasm.gzip9)} |\n`;
  for (const [name, v] of Object.entries(z)) if (name !== "engineWasm" && name !== "gzipTool") out += `| ${name}: ${v.files.join(", ")} | ${mb(v.raw)} | ${mb(v.gzip9)} |\n`;

  if (res.profile) {
    const names = Object.keys(res.profile);
    const P = res.profile;
    out += `\n### Profile: mean ms per sequential AddItem (timing wrapper; the Workers in alternating chunks, ${P[names[0]].commands} commands each)\n\n`;
    out += `workerd's clock ticks in whole milliseconds here: each part is a mean of quantised readings (unbiased over many, not exact).\n\n`;
    out += `| part | ${names.join(" | ")} |\n|---|${names.map(() => "---:").join("|")}|\n`;
    const order = ["fetch", "execute", "committed"];
    const keys = [...new Set(names.flatMap((n) => Object.keys(P[n].per)))].sort((a, b) => {
      const ia = order.indexOf(a) < 0 ? 99 : order.indexOf(a);
      const ib = order.indexOf(b) < 0 ? 99 : order.indexOf(b);
      return ia - ib || a.localeCompare(b);
    });
    out += `| client latency (mean) | ${names.map((n) => f(P[n].clientMean, 3)).join(" | ")} |\n`;
    for (const k of keys) out += `| ${k} | ${names.map((n) => (P[n].per[k] ? `${f(P[n].per[k].ms, 3)} (${f(P[n].per[k].calls, 1)}×)` : "-")).join(" | ")} |\n`;
    const prow = (label, k) => `| ${label} | ${names.map((n) => f(P[n].parts[k], 3)).join(" | ")} |\n`;
    out += prow("= outside the Worker: HTTP, Miniflare's entry (client − fetch)", "outside");
    out += prow("= router JS + RPC to the object (fetch − execute − go.serve)", "router");
    out += prow("= the object's transaction without Go (execute − committed − go.decide)", "transaction");
    out += prow("= after the commit without Go (committed − its Go calls): setAlarm, and when awaited the D1 forward, positions, projector", "afterCommit");
    out += prow("= Go calls before the answer", "goAnswer");
    out += prow("= all Go calls (with the background forward of waitUntil)", "go");
    for (const n of names) {
      const p = P[n];
      if (!p.goReplay) continue;
      const perCmd = (calls) => {
        let total = 0;
        const txt = Object.entries(calls).map(([k, v]) => {
          const m = mean(v.map((x) => x.us));
          const times = p.per["go." + k]?.calls ?? 1;
          total += m * times;
          return `${k} ${m.toFixed(0)} µs × ${f(times, 1)}`;
        });
        return `${txt.join(", ")}; ${(total / 1000).toFixed(2)} ms a command`;
      };
      out += `\n${n}: the last command's Go calls replayed 2000 times in a row inside workerd (warm caches, nothing between): ${perCmd(p.goReplay)}`;
      const g = res.goCalls?.[n];
      if (g) {
        out += `; in Node ${res.node}: ${perCmd(g.calls)}. `;
        out += `The engine's start in Node: compile engine.wasm ${g.start.compileMs.toFixed(0)} ms, Go's runtime start (go.run) ${g.start.goRunMs.toFixed(0)} ms, compile the manifest (init) ${g.start.initMs.toFixed(0)} ms`;
      }
      out += ".\n";
    }
  }

  for (const [pair, diffs] of Object.entries(res.conformance)) {
    if (diffs.length) out += `\nConformance (${pair}): ${diffs.length} of the ${script.length} script commands answered differently: ${diffs.map((d) => d.command).join("; ")} (see the JSON).\n`;
  }
  out += `\nD1 log check (events in the log / commands accepted): ${Object.entries(res.logCheck)
    .map(([n, v]) => `${n} ${v.events}/${v.accepted} ${v.ok ? "ok" : "MISSING"}${v.projections ? ` (projections: ${v.projections.map((p) => `${p.name} ${p.state} lag ${p.lag}`).join(", ")})` : ""}`)
    .join(", ")}.\n`;
  const errs = Object.entries(res.logErrors);
  out += errs.length ? `\nErrors in the Workers' logs: ${errs.map(([f, v]) => `${f} ${v.lines}`).join(", ")} (see the JSON and ${res.options.logs}).\n` : "\nNo errors in the Workers' logs.\n";
  return out;
}

main().catch(async (e) => {
  log("bench:", e?.stack ?? e);
  for (const h of [...running]) await stop(h);
  process.exit(1);
});
