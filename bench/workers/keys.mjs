// The cost of a unique key on Workers: a command that claims a key (Open
// of bench/workers/keys.cue's cart: one open cart per client, so the
// instance reserves the client's key at the key's object before it
// commits) against the same command without the constraint (Open of its
// plain), under workerd, one request at a time on one connection.
//
//   scripts/node bench/workers/keys.mjs --worker DIR [--rounds 5] [--n 200] [--warmup 100]
//
// DIR is `cuesource worker build bench/workers/keys.cue -o DIR`. Each round
// sends n pairs of Opens to new carts of new clients, one to each
// aggregate, back to back (alternating which goes first), so that a
// change of the machine's load meets both alike. The report: per round
// the median latency of each and the median of the pairs' ratios; overall
// the medians of those (target <= 1.5x). Two cases of the claim: a new
// client's key (its key's object is made by the claim), and a returning
// client's (the key's object exists and records the client's abandoned
// cart, which it asks before it passes the key on; the Open and Abandon of
// that cart are not timed).
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
async function post(p, body, want) {
  const t0 = performance.now();
  const r = await client.request({ method: "POST", path: p, headers: { "content-type": "application/json" }, body });
  await r.body.text();
  const ms = performance.now() - t0;
  if (r.statusCode !== want) throw new Error(`${p}: ${r.statusCode}, want ${want}`);
  return ms;
}
// open opens a new cart of agg for a new client, or, with returning, for
// a client whose earlier cart of agg was abandoned.
async function open(agg, returning) {
  const n = seq++;
  const body = JSON.stringify({ client: `client-${n}` });
  if (returning) {
    await post(`/${agg}/a${n}/Open`, body, 201);
    await post(`/${agg}/a${n}/Abandon`, "{}", 200);
  }
  return post(`/${agg}/c${n}/Open`, body, 201);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
// pairs sends n pairs and answers the medians and the median pair ratio.
async function pairs(n, returning) {
  const cart = [], plain = [], ratio = [];
  for (let i = 0; i < n; i++) {
    let c, p;
    if (i % 2) {
      p = await open("plain", returning);
      c = await open("cart", returning);
    } else {
      c = await open("cart", returning);
      p = await open("plain", returning);
    }
    cart.push(c);
    plain.push(p);
    ratio.push(c / p);
  }
  return { cart: median(cart), plain: median(plain), ratio: median(ratio) };
}

await pairs(opts.warmup, false);
const out = { rounds: opts.rounds, n: opts.n };
for (const [name, returning] of [["new client", false], ["returning client", true]]) {
  const rounds = [];
  for (let r = 0; r < opts.rounds; r++) rounds.push(await pairs(opts.n, returning));
  const cart = median(rounds.map((r) => r.cart)), plain = median(rounds.map((r) => r.plain)), ratio = median(rounds.map((r) => r.ratio));
  out[name] = { claimingMedianMs: cart, plainMedianMs: plain, ratio, perRound: rounds };
  process.stdout.write(`Open claiming a unique key, ${name}: ${cart.toFixed(2)} ms; without the constraint: ${plain.toFixed(2)} ms; median pair ratio ${ratio.toFixed(2)}x (${opts.rounds} rounds of ${opts.n} pairs)\n`);
}
process.stdout.write(JSON.stringify(out) + "\n");
await client.close();
stop();
process.exit(0);
