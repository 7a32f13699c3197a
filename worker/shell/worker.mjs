// cuesource Worker shell: the same file for every context.
//
// It routes requests, performs the I/O the Go core asks for (Durable Object
// storage, D1, Queues, fetch) and returns what Go answers. Every decision
// (routes, validation, status codes, commands, projections, effects) is
// made in Go, in engine.wasm, by the code the native server runs.
import "./wasm_exec.js";
import engine from "./engine.wasm";
import { manifest, build } from "./context.mjs";
import { DurableObject } from "cloudflare:workers";

// ---------------------------------------------------------------- Go runtime

// One Go runtime per isolate, shared by the Worker and every object in it.
// If it ends, the next call makes another, and the scripts it was running
// fail.
let runtime = null;

class Fault extends Error {
  constructor(f) {
    super(`${f.kind}: ${f.message}`);
    this.fault = f;
  }
}

function config(env, startMillis) {
  const cfg = { token: env.CUESOURCE_TOKEN || "", adminToken: env.CUESOURCE_ADMIN_TOKEN || "", env: {}, queryJSON: build.queryJSON, diagram: build.diagram, openapi: build.openapi, deadLetterQueue: build.deadLetterQueue, archive: !!env.ARCHIVE, restarts, startMillis };
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === "string") cfg.env[k] = v;
  }
  return cfg;
}

// start returns the isolate's Go runtime, making it when there is none;
// requests that come while it is being made wait for the same one.
function start(env) {
  if (runtime && !runtime.go.exited) return Promise.resolve(runtime);
  starting ??= makeRuntime(env).finally(() => {
    starting = null;
  });
  return starting;
}
let starting = null;

async function makeRuntime(env) {
  if (runtime) dropRuntime(runtime);
  const t0 = Date.now();
  const go = new Go();
  const instance = await WebAssembly.instantiate(engine, go.importObject);
  const rt = { go };
  // run() settles when the program ends, which only a fatal error makes it
  // do (main registers globalThis.cuesource and blocks). The scripts still
  // waiting on it learn that when their operation settles (see run): a
  // promise settles only in the request that made it.
  go.run(instance).catch((e) => console.error("cuesource: the Go runtime ended", e));
  rt.api = globalThis.cuesource;
  const err = rt.api.init(JSON.stringify(manifest), JSON.stringify(config(env, Date.now() - t0)));
  if (err) throw new Error("cuesource: the context does not load: " + err);
  info = callOn(rt, "info", {});
  runtime = rt;
  if (restarts > 0) console.warn(`cuesource: Go runtime restarted (${restarts} so far)`);
  return rt;
}
let restarts = 0;
// What Go says at start (the body limit, the queue's retry delay); the
// same for every runtime of the isolate.
let info = null;

// dropRuntime forgets a runtime that ended, once.
function dropRuntime(rt) {
  if (runtime === rt) {
    runtime = null;
    restarts++;
  }
}

function answerOf(name, out) {
  if (typeof out !== "string") throw new Error(`cuesource: the Go runtime ended during ${name}`);
  const v = JSON.parse(out);
  if (v && v.fault) throw new Fault(v.fault);
  return v;
}

// callOn runs one Go function without I/O, synchronously. A runtime that
// ended during the call is dropped (the next start makes a new one) and
// the call fails.
function callOn(rt, name, input) {
  if (rt.go.exited) throw new Error("cuesource: the Go runtime has ended");
  let out;
  try {
    out = rt.api.call(name, JSON.stringify(input));
  } finally {
    if (rt.go.exited) dropRuntime(rt);
  }
  return answerOf(name, out);
}

// run runs a Go script to its end. Go asks for each operation with
// perform(op, ticket) and waits; the shell performs it and hands the result
// back with resume(ticket, result), and Go continues from where it
// waited. A runtime that has ended when an operation settles fails the
// script; nothing is run again. local is the Durable Object whose storage,
// alarm and answer the script's local operations use, with respond(v).
async function run(env, name, input, local = null) {
  const rt = await start(env);
  return new Promise((resolve, reject) => {
    const ended = () => {
      dropRuntime(rt);
      reject(new Error(`cuesource: the Go runtime ended during ${name}`));
    };
    const perform = async (op, ticket) => {
      await null; // never into Go from within its call to perform
      const r = await performOp(env, JSON.parse(op), local, rt);
      try {
        if (!rt.go.exited) rt.api.resume(ticket, JSON.stringify(r));
      } catch {} // the runtime ended during resume
      if (rt.go.exited) ended();
    };
    const answer = rt.api.run(name, JSON.stringify(input), perform);
    if (rt.go.exited) return ended();
    answer.then((out) => answerOf(name, out)).then(resolve, reject);
  });
}

// ---------------------------------------------------------------- operations

// The error of an object's transact whose Go runtime ended during the
// transaction (so it rolled back): an operation failing with it says so
// apart (ended), locally or through a call to the object.
const rolledBack = "cuesource: the Go runtime ended during the transaction, which rolled back";

async function performOp(env, op, local, rt) {
  try {
    return { ok: (await performOk(env, op, local, rt)) ?? null };
  } catch (e) {
    const error = String((e && e.message) || e);
    return { error, ended: error.includes(rolledBack) };
  }
}

async function performOk(env, op, local, rt) {
  switch (op.kind) {
    case "sql":
      return local.sql.exec(op.statement.sql, ...op.statement.params).toArray();
    case "tx":
      return local.ctx.storage.transactionSync(() => {
        for (const s of op.statements) local.sql.exec(s.sql, ...s.params);
      });
    case "getAlarm":
      return await local.ctx.storage.getAlarm();
    case "alarm":
      return await local.ctx.storage.setAlarm(op.arg);
    case "sync":
      return await local.ctx.storage.sync();
    case "respond":
      return local.respond(op.arg);
    case "transact":
      return local.object.transactOn(rt, op.arg);
    case "open":
      return local.stream.open(op.arg);
    case "write":
      return await local.stream.write(op.arg);
    case "sleep":
      return await new Promise((ok) => setTimeout(ok, op.arg));
    case "log":
      return console[op.method](op.arg);
    case "d1": {
      const [columns, ...rows] = await env.DB.prepare(op.statement.sql).bind(...op.statement.params).raw({ columnNames: true });
      return { columns, rows };
    }
    case "batch": {
      const rs = await env.DB.batch(op.statements.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
      return rs.map((r) => r.results || []);
    }
    case "object":
      return await aggregate(env, op.aggregate, op.id)[op.method](op.aggregate, op.id, op.arg ?? null);
    case "projector":
      return await projector(env)[op.method](op.arg ?? null);
    case "archiver":
      return await archiver(env)[op.method]();
    case "r2put":
      await env.ARCHIVE.put(op.method, fromBase64(op.arg));
      return null;
    case "r2get": {
      const o = await env.ARCHIVE.get(op.method);
      return o === null ? null : toBase64(new Uint8Array(await o.arrayBuffer()));
    }
    case "r2head": {
      const o = await env.ARCHIVE.head(op.method);
      return o === null ? null : o.size;
    }
    case "r2delete":
      return await env.ARCHIVE.delete(op.method);
    case "r2list": {
      const l = await env.ARCHIVE.list({ cursor: op.arg.cursor, startAfter: op.arg.startAfter });
      return { names: l.objects.map((o) => o.key), cursor: l.truncated ? l.cursor : "" };
    }
    case "gzip":
    case "gunzip": {
      const s = op.kind === "gzip" ? new CompressionStream("gzip") : new DecompressionStream("gzip");
      const out = new Response(new Blob([fromBase64(op.arg)]).stream().pipeThrough(s)).arrayBuffer();
      return toBase64(new Uint8Array(await out));
    }
    case "enqueue":
      await env.QUEUE.send(op.arg);
      return null;
    case "fetch":
      return await webhook(op.arg);
    case "verify":
      return await verifySignature(op.arg);
  }
  throw new Error(`unknown operation ${op.kind}`);
}

// webhook performs a fetch Go has checked and described (a); no answer
// (network, timeout) is an error, any status an answer, of whose body no
// more than a.maxBytes is read.
async function webhook(a) {
  let r, text;
  try {
    r = await fetch(a.url, { method: a.method, headers: a.headers, body: a.body ?? undefined, redirect: a.redirect, signal: AbortSignal.timeout(a.timeoutMs) });
    text = new TextDecoder().decode((await readUpTo(r.body, a.maxBytes)).bytes);
  } catch (e) {
    if (e && (e.name === "TimeoutError" || e.name === "AbortError")) return { timedOut: true, error: String(e.message || e) };
    throw e;
  }
  return { Status: r.status, reason: r.statusText, RetryAfter: r.headers.get("Retry-After") || "", Location: r.headers.get("Location") || "", Snippet: text };
}

// verifySignature answers whether a.sig is the signature of a.data by
// a.jwk, with the WebCrypto algorithms Go chose.
async function verifySignature(a) {
  const key = await crypto.subtle.importKey("jwk", a.jwk, a.import, false, ["verify"]);
  const sig = Uint8Array.from(atob(a.sig.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return await crypto.subtle.verify(a.params, key, sig, new TextEncoder().encode(a.data));
}

// readUpTo reads at most n bytes of a body and cancels the rest; over says
// there was more.
async function readUpTo(body, n) {
  const chunks = [];
  let got = 0;
  if (body) {
    const reader = body.getReader();
    while (got <= n) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.byteLength;
    }
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(Math.min(got, n));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - at);
    all.set(part, at);
    at += part.length;
  }
  return { bytes: all, over: got > n };
}

// Bytes cross to Go as base64 (R2 objects, the archive's gzip).
function toBase64(b) {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s) {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b;
}

function archiver(env) {
  return env.ARCHIVER.get(env.ARCHIVER.idFromName("archiver"));
}

function aggregate(env, agg, id) {
  return env.AGGREGATE.get(env.AGGREGATE.idFromName(`${agg}/${id}`));
}

function projector(env) {
  return env.PROJECTOR.get(env.PROJECTOR.idFromName("projector"));
}

// ------------------------------------------------------------------- Worker

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    let resp, wire;
    try {
      await start(env);
      const { body, over } = await readBody(request, info.maxBody);
      wire = {
        method: request.method,
        path: url.pathname,
        query: url.search.slice(1),
        headers: [...request.headers],
        body,
        bodyOver: over,
      };
      resp = await run(env, "serve", { request: wire, now: new Date().toISOString(), id: crypto.randomUUID() });
    } catch (e) {
      console.error("cuesource:", request.method, url.pathname, e);
      return problem(500, "internal", "the server failed; see its log");
    }
    if (resp.stream) return liveStream(env, wire, ctx);
    return new Response(resp.body === "" ? null : resp.body, { status: resp.status, headers: resp.headers });
  },

  // queue hands each message of the effects queue (or of its dead-letter
  // queue) to Go, and acknowledges or retries it as Go says; one Go did
  // not answer is retried after the delay Go gave at start (at once when
  // Go never started).
  async queue(batch, env) {
    for (const msg of batch.messages) {
      const input = { ...msg.body, queue: batch.queue, attempts: msg.attempts, now: new Date().toISOString(), id: crypto.randomUUID() };
      try {
        const d = await run(env, "queue", input);
        if (d.retry) msg.retry({ delaySeconds: d.delaySeconds });
        else msg.ack();
      } catch (e) {
        console.error(`cuesource: effect ${input.effect} for event ${input.event?.id}:`, String(e.message || e));
        msg.retry(info ? { delaySeconds: info.queueRetrySeconds } : {});
      }
    }
  },
};

// liveStream answers a request with the stream Go's stream script opens
// and writes (or with the response it gives instead). The script runs in
// waitUntil: a client that went away cancels the request, and the
// script's pending operations would never settle; kept alive, its next
// write fails and it ends.
function liveStream(env, wire, ctx) {
  return new Promise((resolve) => {
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    const enc = new TextEncoder();
    const stream = {
      open: (headers) => resolve(new Response(readable, { status: 200, headers })),
      write: (text) => writer.write(enc.encode(text)),
    };
    const script = run(env, "stream", { request: wire }, { stream });
    ctx.waitUntil(script.catch(() => {}));
    script
      .then((out) => {
        const r = out.response;
        if (r) resolve(new Response(r.body || null, { status: r.status, headers: r.headers }));
      }, (e) => {
        console.error("cuesource: GET /events:", String(e.message || e));
        resolve(problem(500, "internal", "the server failed; see its log"));
      })
      .finally(() => writer.close().catch(() => {}));
  });
}

// readBody reads a request's body up to max bytes and one more: over says
// there was more (or Content-Length says so, and none is read). The bytes
// are decoded as they are, a byte order mark included.
async function readBody(request, max) {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) return { body: "", over: true };
  const { bytes, over } = await readUpTo(request.body, max);
  return { body: over ? "" : new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes), over };
}

function problem(status, kind, detail) {
  const body = JSON.stringify({ type: "urn:cuesource:problem:" + kind, title: "Internal Server Error", status, detail, kind });
  return new Response(body, { status, headers: { "Content-Type": "application/problem+json" } });
}

// -------------------------------------------------------- Aggregate object

// Aggregate is the object of an aggregate instance (or of a unique key):
// the storage, alarm and transactions Go's scripts and functions use.
export class Aggregate extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(() => run(env, "open", { name: ctx.id.name ?? "" }, this.local()));
  }

  // transact runs t (transactOn), then what Go's answer asks for: the
  // claim script (reserve), the work after the commit (after). When the
  // runtime ended during the transaction it fails with rolledBack.
  async transact(agg, id, t) {
    const rt = await start(this.env);
    let d;
    try {
      d = await this.transactOn(rt, t);
    } catch (e) {
      throw rt.go.exited ? new Error(rolledBack) : e;
    }
    if (d.reserve) d = await run(this.env, "claim", d.reserve, this.local());
    if (!d.after) return d.answer;
    if (d.after.wait) return await this.committed(agg, id, d.after);
    // After the answer has gone: not even the script's start delays it.
    const later = new Promise((ok) => setTimeout(ok, 0)).then(() => this.committed(agg, id, d.after));
    this.ctx.waitUntil(later.catch(() => {})); // committed logs its failure
    return d.answer;
  }

  // transactOn is one storage transaction on the runtime rt, which must
  // not have ended (callOn refuses): the reads t names, Go's function fn
  // on their rows and the alarm, and the writes it answers; an exception
  // rolls all of it back. The alarm Go answers is set in the
  // transaction's turn, so it is read before.
  async transactOn(rt, { fn, reads, input }) {
    const alarm = await this.ctx.storage.getAlarm();
    let d;
    this.ctx.storage.transactionSync(() => {
      const rows = reads.map((r) => this.sql.exec(r.sql, ...r.params).toArray());
      d = fn ? callOn(rt, fn, { ...input, rows, alarm }) : { answer: rows };
      for (const w of d.writes ?? []) this.sql.exec(w.sql, ...w.params);
    });
    if (d.after?.alarm) this.ctx.storage.setAlarm(d.after.alarm).catch((e) => console.error("cuesource: setAlarm:", String(e.message || e)));
    return d;
  }

  local() {
    return { sql: this.sql, ctx: this.ctx, object: this };
  }

  // runScript runs a Go script on this object (a unique key's object
  // reserving its key).
  runScript(agg, id, { script, input }) {
    return run(this.env, script, input, this.local());
  }

  // committed runs Go's work after a commit in waitUntil; what it says to
  // answer (respond) answers.
  committed(agg, id, after) {
    return new Promise((resolve, reject) => {
      const input = { aggregate: agg, id, now: new Date().toISOString(), rid: crypto.randomUUID(), commit: after.commit, answer: after.answer };
      const work = run(this.env, "committed", input, { sql: this.sql, ctx: this.ctx, respond: resolve });
      this.ctx.waitUntil(work.then(resolve, (e) => {
        console.error("cuesource: after the commit:", String(e.message || e));
        reject(e);
      }));
    });
  }

  async alarm() {
    await run(this.env, "alarm", { now: new Date().toISOString(), rid: crypto.randomUUID() }, { sql: this.sql, ctx: this.ctx });
  }
}

// ---------------------------------------------------------- Projector object

// Projector is the projector script's object: each call and its alarm run
// the script.
export class Projector extends DurableObject {}
for (const call of ["action", "catchUp", "kick", "alarm"]) {
  Projector.prototype[call] = function (arg) {
    return run(this.env, "projector", { call, arg: arg ?? null, now: new Date().toISOString() }, { ctx: this.ctx });
  };
}

// ----------------------------------------------------------- Archiver object

// Archiver is the archive script's object: its kick and its alarm run the
// script.
export class Archiver extends DurableObject {
  kick() {
    return run(this.env, "archive", { call: "kick", now: new Date().toISOString() }, { ctx: this.ctx });
  }

  async alarm() {
    await run(this.env, "archive", { call: "alarm", now: new Date().toISOString() }, { ctx: this.ctx });
  }
}
