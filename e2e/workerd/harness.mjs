// Runs a built Worker directory (the output of `cuesource worker build`) under
// Miniflare 4 / workerd on 127.0.0.1, for end-to-end tests.
//
//   scripts/node e2e/workerd/harness.mjs DIR [--port N] [--persist PERSISTDIR] [--var NAME=VALUE ...]
//
// Every Miniflare option comes from DIR/wrangler.jsonc. Before it is ready the
// harness applies DIR/<migrations_dir>/*.sql (in name order) to each D1
// database, once: applied files are recorded in that database's
// _harness_migrations table. When ready it prints exactly one line to stdout,
// {"url":"http://127.0.0.1:PORT"}; everything else (Miniflare, workerd and the
// Worker's console) goes to stderr. It disposes Miniflare and exits 0 on
// SIGTERM, SIGINT, or when stdin (a pipe or socket) reaches end of file.
// Exit 2: bad arguments or configuration; 1: start-up failed.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Miniflare, Log, LogLevel } from "miniflare";

const HOST = "127.0.0.1";

// stdout carries only the ready line: route every console method to stderr.
const ready = (line) => fs.writeSync(1, line + "\n");
for (const m of ["log", "info", "debug", "trace", "dir", "table"]) console[m] = console.error;

class StderrLog extends Log {
  log(message) {
    process.stderr.write(message + "\n");
  }
}

function usage(msg) {
  process.stderr.write(`harness: ${msg}\nusage: harness.mjs DIR [--port N] [--persist PERSISTDIR] [--var NAME=VALUE ...]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { dir: null, port: 0, persist: null, vars: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (name) => {
      const eq = a.indexOf("=");
      if (eq >= 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) usage(`${name} needs a value`);
      return argv[++i];
    };
    if (a === "--port" || a.startsWith("--port=")) {
      const v = value("--port");
      if (!/^\d+$/.test(v) || Number(v) > 65535) usage(`bad port ${JSON.stringify(v)}`);
      o.port = Number(v);
    } else if (a === "--persist" || a.startsWith("--persist=")) {
      o.persist = path.resolve(value("--persist"));
    } else if (a === "--var" || a.startsWith("--var=")) {
      const kv = value("--var");
      const eq = kv.indexOf("=");
      if (eq <= 0) usage(`--var wants NAME=VALUE, got ${JSON.stringify(kv)}`);
      o.vars[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith("-")) {
      usage(`unknown flag ${a}`);
    } else if (o.dir === null) {
      o.dir = path.resolve(a);
    } else {
      usage(`unexpected argument ${a}`);
    }
  }
  if (o.dir === null) usage("missing DIR");
  return o;
}

// JSONC: drop // and /* */ comments outside strings, then trailing commas.
function parseJSONC(text) {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new Error("unterminated /* comment");
      out += text.slice(i, end + 2).replace(/[^\n]/g, " ");
      i = end + 1;
    } else {
      out += c;
    }
  }
  // A comma followed only by whitespace and a closing bracket (strings are intact,
  // so match outside them by re-scanning).
  let res = "";
  for (let i = 0; i < out.length; i++) {
    const c = out[i];
    if (c === '"') {
      let j = i + 1;
      while (j < out.length && out[j] !== '"') j += out[j] === "\\" ? 2 : 1;
      res += out.slice(i, j + 1);
      i = j;
    } else if (c === ",") {
      let j = i + 1;
      while (j < out.length && /\s/.test(out[j])) j++;
      if (out[j] !== "}" && out[j] !== "]") res += c;
    } else {
      res += c;
    }
  }
  return JSON.parse(res);
}

// Split a migration file into statements: a statement ends with ";" at the end
// of a line (not a "--" comment line); a CREATE TRIGGER runs on to its "END;".
// Comment-only pieces are dropped.
function splitSQL(text) {
  const stmts = [];
  let cur = [];
  for (const line of text.split(/\r?\n/)) {
    cur.push(line);
    if (/^\s*--/.test(line) || !/;\s*$/.test(line)) continue;
    const stmt = cur.join("\n");
    const code = stmt.replace(/^\s*--.*$/gm, "").trim();
    if (/^CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(code) && !/\bEND\s*;\s*$/i.test(code)) continue;
    cur = [];
    if (code !== "") stmts.push(stmt.trim());
  }
  const rest = cur.join("\n").trim();
  if (rest.replace(/^\s*--.*$/gm, "").trim() !== "") stmts.push(rest);
  return stmts;
}

function miniflareOptions(dir, cfg, opts) {
  const need = (cond, msg) => {
    if (!cond) {
      process.stderr.write(`harness: ${path.join(dir, "wrangler.jsonc")}: ${msg}\n`);
      process.exit(2);
    }
  };
  need(typeof cfg.main === "string", "no main");
  need(typeof cfg.compatibility_date === "string", "no compatibility_date");

  const sqliteClasses = new Set((cfg.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  const durableObjects = {};
  for (const b of cfg.durable_objects?.bindings ?? []) {
    durableObjects[b.name] = { className: b.class_name, ...(sqliteClasses.has(b.class_name) ? { useSQLite: true } : {}) };
  }
  const d1Databases = {};
  for (const d of cfg.d1_databases ?? []) d1Databases[d.binding] = d.database_id ?? d.database_name;
  const r2Buckets = {};
  for (const b of cfg.r2_buckets ?? []) r2Buckets[b.binding] = b.bucket_name;
  const queueProducers = {};
  for (const p of cfg.queues?.producers ?? []) {
    queueProducers[p.binding] = { queueName: p.queue, ...(p.delivery_delay !== undefined ? { deliveryDelay: p.delivery_delay } : {}) };
  }
  const queueConsumers = {};
  for (const c of cfg.queues?.consumers ?? []) {
    const o = {};
    if (c.max_batch_size !== undefined) o.maxBatchSize = c.max_batch_size;
    if (c.max_batch_timeout !== undefined) o.maxBatchTimeout = c.max_batch_timeout; // seconds
    if (c.max_retries !== undefined) o.maxRetries = c.max_retries;
    if (c.dead_letter_queue !== undefined) o.deadLetterQueue = c.dead_letter_queue;
    if (c.retry_delay !== undefined) o.retryDelay = c.retry_delay; // seconds
    queueConsumers[c.queue] = o;
  }
  const bindings = { ...(cfg.vars ?? {}), ...opts.vars };

  return {
    name: cfg.name,
    host: HOST,
    port: opts.port,
    scriptPath: path.resolve(dir, cfg.main),
    modules: true,
    modulesRoot: dir,
    modulesRules: [
      { type: "CompiledWasm", include: ["**/*.wasm"] },
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    ],
    compatibilityDate: cfg.compatibility_date,
    ...(cfg.compatibility_flags ? { compatibilityFlags: cfg.compatibility_flags } : {}),
    durableObjects,
    d1Databases,
    r2Buckets,
    queueProducers,
    queueConsumers,
    bindings,
    // Offline: never fetch the Request.cf object.
    cf: false,
    // Persisted under PERSISTDIR/<plugin> (d1, do, ...); otherwise in Miniflare's temporary dir.
    ...(opts.persist ? { defaultPersistRoot: opts.persist } : {}),
    log: new StderrLog(process.env.HARNESS_VERBOSE ? LogLevel.DEBUG : LogLevel.INFO),
    handleRuntimeStdio(stdout, stderr) {
      stdout.pipe(process.stderr, { end: false });
      stderr.pipe(process.stderr, { end: false });
    },
  };
}

async function migrate(mf, dir, cfg) {
  for (const d of cfg.d1_databases ?? []) {
    const mdir = path.resolve(dir, d.migrations_dir ?? "migrations");
    if (!fs.existsSync(mdir)) continue;
    const files = fs.readdirSync(mdir).filter((f) => f.endsWith(".sql")).sort();
    if (files.length === 0) continue;
    const db = await mf.getD1Database(d.binding);
    await db.prepare("CREATE TABLE IF NOT EXISTS _harness_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)").run();
    const { results } = await db.prepare("SELECT name FROM _harness_migrations").all();
    const done = new Set(results.map((r) => r.name));
    for (const f of files) {
      if (done.has(f)) continue;
      const stmts = splitSQL(fs.readFileSync(path.join(mdir, f), "utf8")).map((s) => db.prepare(s));
      stmts.push(db.prepare("INSERT INTO _harness_migrations (name, applied_at) VALUES (?, ?)").bind(f, new Date().toISOString()));
      try {
        await db.batch(stmts); // one transaction per file
      } catch (e) {
        throw new Error(`D1 ${d.binding}: migration ${f}: ${e.message}`);
      }
      process.stderr.write(`harness: D1 ${d.binding}: applied ${f}\n`);
    }
  }
}

async function main() {
  const t0 = performance.now();
  const opts = parseArgs(process.argv.slice(2));
  const cfgPath = path.join(opts.dir, "wrangler.jsonc");
  let cfg;
  try {
    cfg = parseJSONC(fs.readFileSync(cfgPath, "utf8"));
  } catch (e) {
    process.stderr.write(`harness: ${cfgPath}: ${e.message}\n`);
    process.exit(2);
  }
  if (opts.persist) fs.mkdirSync(opts.persist, { recursive: true });

  // Miniflare keeps in-memory storage in a temporary dir under os.tmpdir() and
  // removes it fire-and-forget on dispose, which loses the race with exit: give
  // it a private TMPDIR and remove that on every exit.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cuesource-harness-"));
  process.env.TMPDIR = tmp;
  process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

  const mf = new Miniflare(miniflareOptions(opts.dir, cfg, opts));
  let stopping = null;
  const stop = (code) => {
    stopping ??= (async () => {
      // Should dispose hang, exit anyway: Miniflare's exit hook SIGKILLs workerd.
      setTimeout(() => process.exit(code || 1), 10_000).unref();
      try {
        await mf.dispose();
      } catch (e) {
        if (code === 0) {
          process.stderr.write(`harness: dispose: ${e?.stack ?? e}\n`);
          code = 1;
        }
      }
      process.exit(code);
    })();
    return stopping;
  };
  // Miniflare's constructor installs SIGINT/SIGTERM handlers that exit at once
  // with 130/143; replace them with a graceful dispose and exit 0. (Its "exit"
  // hook, which kills workerd and removes its temporary dir, stays.)
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
  // A pipe or socket on stdin ties the harness to its parent: EOF means stop.
  // A terminal or /dev/null on stdin is ignored (use a signal).
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on("end", () => stop(0));
    process.stdin.on("error", () => stop(0));
    process.stdin.resume();
  }

  try {
    const url = await mf.ready;
    await migrate(mf, opts.dir, cfg);
    if (stopping) return;
    ready(JSON.stringify({ url: `http://${HOST}:${url.port}` }));
    process.stderr.write(`harness: ready in ${Math.round(performance.now() - t0)} ms\n`);
  } catch (e) {
    if (stopping) return; // stopped while starting: not a failure
    process.stderr.write(`harness: start failed: ${e?.stack ?? e}\n`);
    await stop(1);
  }
}

await main();
