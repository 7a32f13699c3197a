// The cost of a unique key on Workers: a command that claims a key (Open
// of bench/workers/keys.cue's cart: one open cart per client, so the
// instance reserves the client's key at the key's object before it
// commits) against the same command without the constraint (Open of its
// plain), under workerd, one request at a time on one connection.
//
//   scripts/node bench/workers/keys.mjs --worker DIR [--rounds 5] [--n 200] [--warmup 100]
//
// DIR is `cuesource worker build bench/workers/keys.cue -o DIR`. Each round
// sends n Opens to new carts of new clients, first to one aggregate then to
// the other (alternating which goes first); the report is the median of the
// rounds' median latencies and their ratio (target <= 1.5x).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "undici";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const opts = { worker: null, rounds: 5, n: 200, warmup: 100 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, "");
  if (!(k in opts)) throw new Error(`unknown flag ${process.argv[i]}`);
  opts[k] = k === "worker" ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
if (!opts.worker) throw new Error("--worker DIR is required");

const child = spawn(process.execPath, [path.join(root, "e2e/workerd/harness.mjs"), path.resolve(opts.worker)], { stdio: ["pipe", "pipe", "inherit"], detached: true });
const stop = () => {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {}
};
process.on("exit", stop);
const url = await new Promise((resolve, reject) => {
  let buf = "";
  child.stdout.on("data", (d) => {
    buf += d;
    const nl = buf.indexOf("\n");
    if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)).url);
  });
  child.on("exit", (c) => reject(new Error(`the harness exited (${c}) before it was ready`)));
});

const client = new Client(url, { pipelining: 1, keepAliveTimeout: 60_000 });
let seq = 0;
async function open(agg) {
  const n = seq++;
  const t0 = performance.now();
  const r = await client.request({ method: "POST", path: `/${agg}/c${n}/Open`, headers: { "content-type": "application/json" }, body: JSON.stringify({ client: `client-${n}` }) });
  await r.body.text();
  const ms = performance.now() - t0;
  if (r.statusCode !== 201) throw new Error(`${agg} Open: ${r.statusCode}`);
  return ms;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
async function series(agg, n) {
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await open(agg));
  return median(xs);
}

await series("cart", opts.warmup);
await series("plain", opts.warmup);
const res = { cart: [], plain: [] };
for (let r = 0; r < opts.rounds; r++) {
  const order = r % 2 ? ["plain", "cart"] : ["cart", "plain"];
  for (const agg of order) res[agg].push(await series(agg, opts.n));
}
const cart = median(res.cart), plain = median(res.plain);
const out = { rounds: opts.rounds, n: opts.n, claimingMedianMs: cart, plainMedianMs: plain, ratio: cart / plain, perRound: res };
process.stdout.write(`Open claiming a unique key: ${cart.toFixed(2)} ms; without the constraint: ${plain.toFixed(2)} ms; ratio ${(cart / plain).toFixed(2)}x (median of ${opts.rounds} rounds of ${opts.n} sequential requests)\n`);
process.stdout.write(JSON.stringify(out) + "\n");
await client.close();
stop();
process.exit(0);
