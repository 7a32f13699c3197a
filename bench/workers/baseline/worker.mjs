// The baseline of the Workers benchmark (bench/workers/bench.mjs): the
// example context's cart commands Open, AddItem and RemoveItem written by
// hand in JavaScript, with no Go and no interpretation.
//
// Everything else is the generic shell's (worker/shell/worker.mjs), kept
// statement for statement so that the only difference measured is the
// engine: the same router shape (a Worker that calls the instance's Durable
// Object over RPC), the same object (one SQLite-backed `Aggregate` per
// instance, the same tables and SQL, the command decided and written inside
// one `transactionSync`), the same alarm, and the same forwarding of new
// events to D1 (store/d1's Forward and Positions in one batch, then
// the positions written back), in waitUntil or, with AWAIT_FORWARD=1,
// before the command answers (see committed).
//
// The HTTP answers are the engine's: POST /cart/{id}/{Command} answers 201
// (created) or 200 with {events, state, version} (keys sorted as Go writes
// them), and application/problem+json otherwise (400 schema, 404, 409
// instance_exists, 412, 422 guard/invariant). GET /events reads the D1 log
// as the engine's route does, so a benchmark can check that both Workers
// forwarded every event. Only the cart and only these three commands are
// implemented; the rest of the API answers 404.
import { DurableObject } from "cloudflare:workers";
// The SQL is package store/d1's, the engine's own (sql.mjs is written from
// it and checked by its tests).
import * as sql from "./sql.mjs";

// --------------------------------------------------------------- HTTP bits

const problemType = "urn:cuesource:problem:";
const statusText = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Request Entity Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  500: "Internal Server Error",
};

// problem is an engine problem: its members sorted as Go writes a map
// (a violation is a struct: pointer, then message).
function problem(status, kind, detail, ext) {
  const body = { type: problemType + kind, title: statusText[status], status, detail, kind, ...ext };
  const keys = Object.keys(body).sort();
  return {
    status,
    headers: [["Content-Type", "application/problem+json"]],
    body: "{" + keys.map((k) => JSON.stringify(k) + ":" + JSON.stringify(body[k])).join(",") + "}",
  };
}

// sortedJSON is JSON.stringify with object keys in sorted order, as Go's
// encoding of maps.
function sortedJSON(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(sortedJSON).join(",") + "]";
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + sortedJSON(v[k])).join(",") + "}";
}

// goTime formats a time as Go's RFC3339Nano does (trailing zeros of the
// fraction dropped), which is how the engine stores and answers times.
function goTime(iso) {
  return iso.replace(/\.?0*Z$/, "Z").replace(/\.Z$/, "Z");
}

function toResponse(r, method) {
  const headers = new Headers();
  for (const [k, v] of r.headers) headers.append(k, v);
  return new Response(method === "HEAD" || r.body === "" ? null : r.body, { status: r.status, headers });
}

// ------------------------------------------------------------------- Worker

const maxBody = 1 << 20;
const commands = new Set(["Open", "AddItem", "RemoveItem"]);
const anyVersion = -1;

function aggregate(env, agg, id) {
  return env.AGGREGATE.get(env.AGGREGATE.idFromName(`${agg}/${id}`));
}

function isJSON(ct) {
  const mt = (ct || "").split(";")[0].trim().toLowerCase();
  return mt === "application/json" || mt.endsWith("+json");
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const body = await request.text();
    let r;
    try {
      r = await route(request, url, body, env);
    } catch (e) {
      console.error("baseline:", request.method, url.pathname, e);
      r = problem(500, "internal", "the server failed; see its log");
    }
    return toResponse(r, request.method);
  },
};

async function route(request, url, body, env) {
  let segs;
  try {
    segs = url.pathname.replace(/^\/+|\/+$/g, "").split("/").map(decodeURIComponent);
  } catch {
    return problem(400, "invalid_path", "bad escape in path");
  }
  if (segs.length === 1 && segs[0] === "events") {
    if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed("GET, HEAD");
    return readAll(env, url.searchParams);
  }
  if (segs.length !== 3) return problem(404, "not_found", "no such route: " + url.pathname);
  const [agg, id, name] = segs;
  if (request.method !== "POST") return methodNotAllowed("POST");
  if (agg !== "cart") return problem(404, "unknown_aggregate", `unknown aggregate ${JSON.stringify(agg)}`);
  if (id.length > 256) return problem(400, "invalid_id", "instance id longer than 256 bytes");
  if (!commands.has(name)) return problem(404, "unknown_command", `aggregate ${agg} has no command ${JSON.stringify(name)}`);
  if (body.length > maxBody) return problem(413, "too_large", `the body is over the limit of ${maxBody} bytes`);
  if (body.length > 0 && !isJSON(request.headers.get("Content-Type"))) {
    return problem(415, "unsupported_media_type", `a command body must be application/json, not ${JSON.stringify(request.headers.get("Content-Type") || "")}`);
  }
  const req = { aggregate: agg, id, command: name, payload: body, commandId: crypto.randomUUID(), time: goTime(new Date().toISOString()), expectedVersion: anyVersion };
  const im = request.headers.get("If-Match");
  if (im) {
    const m = /^W\/"(\d+)"$/.exec(im);
    if (im === "*") req.expectedVersion = -2;
    else if (m) req.expectedVersion = Number(m[1]);
    else return problem(400, "invalid_header", `If-Match must be an ETag of this API (W/"3") or *, not ${JSON.stringify(im)}`);
  }
  const key = request.headers.get("Idempotency-Key");
  if (key) {
    if (key.length > 255) return problem(400, "invalid_header", "Idempotency-Key is longer than 255 characters");
    req.idempotencyKey = key;
    req.requestHash = sha256hex((im || "") + "\n" + body);
  }
  return aggregate(env, agg, id).execute(agg, id, req);
}

function methodNotAllowed(allow) {
  const r = problem(405, "method_not_allowed", "this route answers " + allow);
  r.headers.push(["Allow", allow]);
  return r;
}

// readAll answers GET /events?after=N&limit=M from the D1 log.
async function readAll(env, q) {
  const after = Number(q.get("after") || 0);
  const limit = Number(q.get("limit") || 100);
  if (!Number.isInteger(after) || after < 0) return problem(400, "invalid_parameter", "query parameter after must be an integer", { parameter: "after" });
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return problem(400, "invalid_parameter", "query parameter limit must be an integer from 1 to 1000", { parameter: "limit" });
  const { results } = await env.DB.prepare(sql.EventsAfter)
    .bind(after, limit)
    .all();
  const events = results.map((e) => ({
    position: e.position, id: e.id, aggregate: e.aggregate, instance: e.instance, version: e.version, type: e.type,
    schemaVersion: e.schema_version, time: e.time, commandId: e.command_id, payload: e.payload === null ? undefined : JSON.parse(e.payload),
  }));
  const next = events.length > 0 ? events[events.length - 1].position : after;
  return { status: 200, headers: [["Content-Type", "application/json"]], body: JSON.stringify({ events, next }) };
}

// ------------------------------------------------------ the cart, by hand

const skuPattern = /^[A-Z0-9-]{3,20}$/;
const initialCart = () => ({ status: "new", items: {}, total: 0, discount: 0 });

class Rejection {
  constructor(status, kind, detail, ext) {
    this.response = problem(status, kind, detail, ext);
  }
}

function schemaError(cmd, pointer, message) {
  return new Rejection(400, "schema", `payload of ${cmd} does not fit its schema`, { violations: [{ pointer, message }] });
}

function guard(cmd, name) {
  return new Rejection(422, "guard", `${cmd} rejected: ${name}`, { name });
}

function invariant(cmd, name) {
  return new Rejection(422, "invariant", `${cmd} would break the invariant: ${name}`, { name });
}

// payloadOf decodes a command payload: none is {}, malformed JSON is
// invalid_json, anything but an object or an unknown member breaks the
// schema.
function payloadOf(cmd, raw, fields) {
  if (raw === "") return {};
  let p;
  try {
    p = JSON.parse(raw);
  } catch (e) {
    throw new Rejection(400, "invalid_json", "payload is not valid JSON: " + e.message);
  }
  if (p === null || typeof p !== "object" || Array.isArray(p)) throw schemaError(cmd, "", "got " + (p === null ? "null" : Array.isArray(p) ? "array" : typeof p) + ", want object");
  for (const k of Object.keys(p)) {
    if (!fields.includes(k)) throw schemaError(cmd, "", `additional properties '${k}' not allowed`);
  }
  for (const k of fields) {
    if (!(k in p)) throw schemaError(cmd, "", `missing property '${k}'`);
  }
  return p;
}

function isString(v) {
  return typeof v === "string";
}

function isNumber(v) {
  return typeof v === "number" && Number.isFinite(v);
}

// admit checks the instance and the expected version, after the payload.
function admit(cur, req, creates) {
  if (!creates && cur.version === 0) throw new Rejection(404, "instance_missing", `cart ${req.id} does not exist; ${req.command} needs an existing instance`);
  if (creates && cur.version > 0) throw new Rejection(409, "instance_exists", `cart ${req.id} already exists; ${req.command} creates a new instance`);
  let expected = req.expectedVersion;
  if (expected === -2) {
    if (cur.version === 0) throw new Rejection(412, "version_conflict", `If-Match does not match the instance's version 0`, { version: 0, etag: 'W/"0"' });
    expected = anyVersion;
  }
  if (expected !== anyVersion && expected !== cur.version) {
    throw new Rejection(412, "version_conflict", `If-Match does not match the instance's version ${cur.version}`, { version: cur.version, etag: `W/"${cur.version}"` });
  }
}

// decideCart is the example's cart for Open, AddItem and RemoveItem:
// payload, instance, guards in file order, emits, reducers, invariants in
// file order. It returns the events (type and payload) and the new state.
function decideCart(cur, req) {
  const cmd = req.command;
  let state = cur.state;
  const events = [];
  switch (cmd) {
    case "Open": {
      const p = payloadOf(cmd, req.payload, ["customer"]);
      if (!isString(p.customer)) throw schemaError(cmd, "/customer", `got ${typeof p.customer}, want string`);
      if (p.customer === "") throw schemaError(cmd, "/customer", "must not be empty");
      admit(cur, req, true);
      state = initialCart();
      events.push({ type: "CartOpened", payload: { customer: p.customer } });
      break;
    }
    case "AddItem": {
      const p = payloadOf(cmd, req.payload, ["sku", "qty", "price"]);
      if (!isString(p.sku) || !skuPattern.test(p.sku)) throw schemaError(cmd, "/sku", isString(p.sku) ? `'${p.sku}' does not match pattern '^[A-Z0-9-]{3,20}$'` : `got ${typeof p.sku}, want string`);
      if (!isNumber(p.qty) || !Number.isInteger(p.qty)) throw schemaError(cmd, "/qty", `got ${typeof p.qty}, want integer`);
      if (!(p.qty > 0 && p.qty <= 100)) throw schemaError(cmd, "/qty", "must be > 0 and <= 100");
      if (!isNumber(p.price)) throw schemaError(cmd, "/price", `got ${typeof p.price}, want number`);
      if (!(p.price > 0 && p.price <= 10000)) throw schemaError(cmd, "/price", "must be > 0 and <= 10000");
      admit(cur, req, false);
      if (state.status !== "open") throw guard(cmd, "cart is not open");
      const line = Object.hasOwn(state.items, p.sku) ? state.items[p.sku] : null;
      if (line !== null && line.price !== p.price) throw guard(cmd, "price changed for sku");
      events.push({ type: "ItemAdded", payload: { price: p.price, qty: p.qty, sku: p.sku } });
      break;
    }
    case "RemoveItem": {
      const p = payloadOf(cmd, req.payload, ["sku"]);
      if (!isString(p.sku)) throw schemaError(cmd, "/sku", `got ${typeof p.sku}, want string`);
      admit(cur, req, false);
      if (state.status !== "open") throw guard(cmd, "cart is not open");
      if (!Object.hasOwn(state.items, p.sku)) throw guard(cmd, "item not in cart");
      const line = state.items[p.sku];
      events.push({ type: "ItemRemoved", payload: { price: line.price, qty: line.qty, sku: p.sku } });
      break;
    }
  }
  for (const e of events) state = apply(state, e);
  if (!(state.total >= 0)) throw invariant(cmd, "total is never negative");
  if (!(state.discount <= state.total)) throw invariant(cmd, "discount never exceeds the total");
  if (!(Object.keys(state.items).length <= 20)) throw invariant(cmd, "at most 20 different items");
  return { events, state };
}

// apply is the reducers: a new state, the old one unchanged.
function apply(s, e) {
  const p = e.payload;
  switch (e.type) {
    case "CartOpened":
      return { ...s, status: "open", customer: p.customer };
    case "ItemAdded": {
      const old = Object.hasOwn(s.items, p.sku) ? s.items[p.sku].qty : 0;
      return { ...s, items: { ...s.items, [p.sku]: { qty: old + p.qty, price: p.price } }, total: s.total + p.qty * p.price };
    }
    case "ItemRemoved": {
      const items = { ...s.items };
      delete items[p.sku];
      return { ...s, items, total: s.total - p.qty * p.price };
    }
  }
  throw new Error("unknown cart event " + e.type);
}

// decide is what the engine's decide does on an object's rows: the
// idempotency record first, then the command, and the commit to write.
function decide(instance, record, req) {
  if (record) {
    if (record.request_hash !== req.requestHash) {
      return { commit: null, response: problem(409, "idempotency_key_reused", "this Idempotency-Key was used for a different request to this instance") };
    }
    const resp = JSON.parse(record.response);
    return { commit: null, response: { ...resp, headers: [...resp.headers, ["Idempotent-Replayed", "true"]] } };
  }
  const cur = instance.version > 0 ? { version: instance.version, state: JSON.parse(instance.state) } : { version: 0, state: initialCart() };
  let d;
  try {
    d = decideCart(cur, req);
  } catch (e) {
    if (e instanceof Rejection) return { commit: null, response: e.response };
    throw e;
  }
  let version = cur.version;
  const events = d.events.map((e, i) => ({
    version: ++version,
    id: `${req.commandId}-${i + 1}`,
    type: e.type,
    schema_version: 0,
    time: req.time,
    command_id: req.commandId,
    payload: sortedJSON(e.payload),
  }));
  const state = sortedJSON(d.state);
  const body =
    '{"events":[' +
    events.map((e) => `{"id":${JSON.stringify(e.id)},"type":${JSON.stringify(e.type)},"version":${e.version},"time":${JSON.stringify(e.time)},"payload":${e.payload}}`).join(",") +
    `],"state":${state},"version":${version}}`;
  const headers = [["Content-Type", "application/json"], ["ETag", `W/"${version}"`]];
  let status = 200;
  if (cur.version === 0) {
    status = 201;
    headers.push(["Location", `/${encodeURIComponent(req.aggregate)}/${encodeURIComponent(req.id)}`]);
  }
  const response = { status, headers, body };
  const commit = { version, state, events, idempotency: null, effects: [] };
  if (req.idempotencyKey) {
    commit.idempotency = { key: `${req.aggregate}/${req.id}/${req.idempotencyKey}`, request_hash: req.requestHash, response: JSON.stringify(response), time: req.time };
  }
  return { commit, response };
}

// With AWAIT_FORWARD=1 a command answers once its events are forwarded, as
// the shell does when an inline projection handles one of them (in
// contexts/example.cue, cart_summary handles all three); otherwise the
// forwarding runs in waitUntil, as the shell does for a context without
// inline projections (bench/workers/cart.cue). The baseline has no
// projections: the shell's projector run after the forwarding has no
// counterpart here.

// ------------------------------- Aggregate object (store/d1's SQL, as the shell)

const idempotencyTtlMs = 24 * 3600 * 1000;

export class Aggregate extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(sql.ObjectSchema);
    for (const m of sql.ObjectMigrations) {
      if (this.sql.exec(m.check).toArray().length === 0) this.sql.exec(m.apply);
    }
    this.pending = false;
    this.flushing = null;
  }

  instance() {
    const row = this.sql.exec(sql.ObjectInstance).toArray()[0];
    return row ? { version: row.version, state: row.state } : { version: 0, state: "" };
  }

  write(agg, id, commit) {
    const db = this.sql;
    for (const e of commit.events) {
      db.exec(
        sql.ObjectAddEvent,
        e.version, e.id, e.type, e.schema_version, e.time, e.command_id, e.payload, e.meta ?? null,
      );
    }
    if (commit.state !== null) {
      db.exec(
        sql.ObjectPutInstance,
        agg, id, commit.version, commit.state,
      );
    }
    if (commit.idempotency) {
      const r = commit.idempotency;
      db.exec(sql.ObjectAddIdempotency, r.key, r.request_hash, r.response, r.time);
    }
    for (const o of commit.effects) {
      db.exec(sql.ObjectAddOutbox, o.eventId, o.consumer);
    }
  }

  async execute(agg, id, req) {
    let d;
    this.ctx.storage.transactionSync(() => {
      let record = null;
      if (req.idempotencyKey) {
        const key = `${agg}/${id}/${req.idempotencyKey}`;
        const r = this.sql.exec(sql.ObjectIdempotency, key).toArray()[0];
        record = r || null;
      }
      d = decide(this.instance(), record, req);
      if (d.commit) this.write(agg, id, d.commit);
    });
    if (d.commit && d.commit.events.length > 0) await this.committed(agg, id, d.commit);
    return d.response;
  }

  async committed(agg, id, commit) {
    const isInline = this.env.AWAIT_FORWARD === "1";
    await this.ctx.storage.setAlarm(Date.now() + 2000);
    const f = this.flush(agg, id);
    if (isInline) {
      try {
        await f;
      } catch (e) {
        console.error(`baseline: forwarding ${agg} ${id} failed, the alarm retries:`, String(e.message || e));
      }
    } else {
      this.ctx.waitUntil(f.catch((e) => console.error(`baseline: forwarding ${agg} ${id} failed, the alarm retries:`, String(e.message || e))));
    }
  }

  flush(agg, id) {
    this.pending = true;
    if (!this.flushing) {
      this.flushing = this.forwardAll(agg, id).finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  async forwardAll(agg, id) {
    while (this.pending) {
      this.pending = false;
      for (;;) {
        const evs = this.sql
          .exec(sql.ObjectUnforwarded)
          .toArray()
          .map((e) => ({ ...e, aggregate: agg, instance: id }));
        if (evs.length === 0) break;
        const positions = await this.forward(evs);
        this.ctx.storage.transactionSync(() => {
          for (const [eid, pos] of Object.entries(positions)) this.sql.exec(sql.ObjectSetPosition, pos, eid);
        });
      }
    }
    this.sql.exec(sql.ObjectForwardingClear);
  }

  // forward is internal/edge's forward: the events in one D1 batch
  // (sql.Forward), then their positions (sql.Positions).
  async forward(evs) {
    const db = this.env.DB;
    const stmts = evs.map((e) =>
      db.prepare(sql.Forward).bind(e.id, e.aggregate, e.instance, e.version, e.type, e.schema_version, e.time, e.command_id, e.payload, e.meta ?? null),
    );
    const ids = evs.map((e) => e.id);
    stmts.push(db.prepare(sql.Positions).bind(JSON.stringify(ids)));
    const rs = await db.batch(stmts);
    const positions = {};
    for (const r of rs[rs.length - 1].results) positions[r.id] = r.position;
    for (const eid of ids) {
      if (!(eid in positions)) throw new Error(`forward: event ${eid} is not in the log after its insert`);
    }
    return positions;
  }

  async alarm() {
    const row = this.sql.exec(sql.ObjectInstanceKey).toArray()[0];
    if (!row) return;
    try {
      await this.flush(row.aggregate, row.id);
      // The shell's outbox pass (these commands owe no effects) and expiry
      // of idempotency records (24 h, its default).
      this.sql.exec(sql.ObjectOutboxDue, Date.now()).toArray();
      const ttl = idempotencyTtlMs;
      this.sql.exec(sql.ObjectIdempotencyExpire, new Date(Date.now() - ttl).toISOString());
      const oldest = this.sql.exec(sql.ObjectIdempotencyOldest).toArray()[0]?.t;
      const due = this.sql.exec(sql.ObjectOutboxNextDue).toArray()[0]?.due;
      const next = Math.min(due ?? Infinity, oldest ? Date.parse(oldest) + ttl + 1 : Infinity);
      if (next !== Infinity) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
    } catch (e) {
      const n = (this.sql.exec(sql.ObjectForwardingFailures).toArray()[0]?.failures ?? 0) + 1;
      this.sql.exec(sql.ObjectForwardingSet, n);
      const delay = Math.min(500 * 2 ** (n - 1), 30000);
      console.warn(`baseline: forwarding ${row.aggregate} ${row.id} failed (${n}), retry in ${delay} ms:`, String(e.message || e));
      await this.ctx.storage.setAlarm(Date.now() + delay);
    }
  }
}

// ------------------------------------------------------------------ sha256

// sha256hex is SHA-256 of a string's UTF-8 bytes, synchronous (the
// idempotency request hash is taken before the object call, as the
// engine's; crypto.subtle is asynchronous).
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256hex(s) {
  const msg = new TextEncoder().encode(s);
  const len = msg.length;
  const padded = new Uint8Array((((len + 9 + 63) >> 6) << 6));
  padded.set(msg);
  padded[len] = 0x80;
  const bits = len * 8;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(bits / 2 ** 32));
  dv.setUint32(padded.length - 4, bits >>> 0);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}
