// The timing wrapper of bench/workers/bench.mjs's profile step. bench.mjs
// copies a Worker directory (the cuesource build or the baseline), puts this
// file beside its worker.mjs and makes it the `main`: it re-exports the
// Worker's handlers and classes unchanged but for clocks around
//
//   fetch      the Worker's whole answer (router, RPC, object, D1),
//   execute    the object's RPC method for a command (transact with
//              decide: the transaction, setAlarm, and the work after the
//              commit when the command awaits it),
//   committed  the work after the commit when the command awaits it (the
//              forwarding, the projector's run, sync deliveries); a command
//              that does not await it counts none,
//   go.NAME    each call into the Go engine (serve, decide, forward,
//              project, ...), seen by wrapping the globalThis.cuesource
//              object Go's main sets; a script's (run) counts once, its
//              time is Go's between its operations.
//
// GET /__bench/timings answers the sums, POST /__bench/reset zeroes them,
// GET /__bench/inputs answers the last two inputs of each Go function, and
// GET /__bench/replay?n=N times N calls of each in a row.
// Locally the Worker and its objects share one isolate, so one set of sums
// sees both. workerd's clock here ticks in whole milliseconds: a sum over
// many calls estimates the mean, a single reading does not.
import worker, * as mod from "./worker.mjs";

// Every other class (Projector, ...) as the Worker exports it.
export * from "./worker.mjs";

let sums = {};
// The last two inputs of each Go function (serve runs twice a request),
// for replaying outside workerd.
const inputs = {};

function add(name, ms) {
  const s = (sums[name] ??= { n: 0, ms: 0 });
  s.n++;
  s.ms += ms;
}

let api;
let raw;
// The script each waiting ticket belongs to, and the record of its run.
const tickets = new Map();
Object.defineProperty(globalThis, "cuesource", {
  configurable: true,
  enumerable: true,
  get() {
    return api;
  },
  set(v) {
    raw = v;
    api = v && {
      init: (...a) => v.init(...a),
      call(name, input) {
        inputs[name] = [...(inputs[name] ?? []).slice(-1), input];
        const t0 = performance.now();
        try {
          return v.call(name, input);
        } finally {
          add("go." + name, performance.now() - t0);
        }
      },
      // A script's Go time is the synchronous part of run (up to its first
      // operation) and each resume (up to the next); it counts as one call.
      run(name, input, perform) {
        const rec = { input, results: [] };
        inputs[name] = [...(inputs[name] ?? []).slice(-1), rec];
        const t0 = performance.now();
        try {
          return v.run(name, input, (op, ticket) => {
            tickets.set(ticket, { name, rec });
            return perform(op, ticket);
          });
        } finally {
          add("go." + name, performance.now() - t0);
        }
      },
      resume(ticket, result) {
        const t = tickets.get(ticket);
        tickets.delete(ticket);
        if (t) t.rec.results.push(result);
        const t0 = performance.now();
        try {
          return v.resume(ticket, result);
        } finally {
          if (t) sums["go." + t.name].ms += performance.now() - t0;
        }
      },
    };
  },
});

export default {
  ...worker,
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__bench/timings") return Response.json(sums);
    if (url.pathname === "/__bench/inputs") return Response.json(inputs);
    if (url.pathname === "/__bench/replay") return await replay(Number(url.searchParams.get("n") || 2000));
    if (url.pathname === "/__bench/reset") {
      sums = {};
      return Response.json(sums);
    }
    const t0 = performance.now();
    try {
      return await worker.fetch(request, env, ctx);
    } finally {
      add("fetch", performance.now() - t0);
    }
  },
};

export class Aggregate extends mod.Aggregate {
  // A command's RPC is transact with Go's decide.
  async transact(agg, id, arg) {
    const t0 = performance.now();
    try {
      return await super.transact(agg, id, arg);
    } finally {
      if (arg.fn === "decide") add("execute", performance.now() - t0);
    }
  }

  // The baseline's command RPC.
  async execute(...args) {
    const t0 = performance.now();
    try {
      return await super.execute(...args);
    } finally {
      add("execute", performance.now() - t0);
    }
  }

  // The work after a commit counts when the answer waits for it (the
  // cuesource shell's after.wait; always in the baseline); else it runs in
  // the background, after the answer.
  committed(...args) {
    const t0 = performance.now();
    const p = super.committed(...args);
    const after = args[2];
    if (!after || !("wait" in after) || after.wait) p.finally(() => add("committed", performance.now() - t0)).catch(() => {});
    return p;
  }
}

// replay runs each recorded Go input n times in a row, here in workerd: the
// mean of a call with no clock quantisation to speak of. A script's run is
// replayed with its recorded results, each given back at once.
async function replay(n) {
  if (!raw) return Response.json({ error: "the Go runtime has not started" }, { status: 409 });
  const out = {};
  for (const [name, list] of Object.entries(inputs)) {
    if (name === "info") continue;
    out[name] = [];
    for (const input of list) {
      const once = typeof input === "string" ? () => raw.call(name, input) : () => runOnce(name, input);
      // A script whose run depends on what Go kept from earlier runs (the
      // projector's checkpoints) does not replay alone: left out.
      if (typeof input !== "string" && String(await once()).startsWith('{"fault"')) continue;
      for (let k = 0; k < Math.min(n, 500); k++) await once();
      const t0 = performance.now();
      for (let k = 0; k < n; k++) await once();
      out[name].push({ us: ((performance.now() - t0) / n) * 1000 });
    }
    if (!out[name].length) delete out[name];
  }
  return Response.json(out);
}

function runOnce(name, rec) {
  let i = 0;
  return raw.run(name, rec.input, (op, ticket) => {
    const r = rec.results[i++] ?? JSON.stringify({ error: "no recorded result" });
    Promise.resolve().then(() => raw.resume(ticket, r));
  });
}
