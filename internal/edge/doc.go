// Package edge is the pure core the Workers runtime calls: JSON in, JSON out.
//
// # What it owns
//
// Everything a Worker decides, so the JavaScript shell around the wasm
// build stays generic and thin: the HTTP API (through [api.Service], the
// same code the native server runs), a command's decision on an aggregate
// instance, seeding and rehydration, the forwarding of an instance's
// events to the global log in D1 and the SQL of that log, the projector's
// runs, effect deliveries and dead letters, and the live stream's frames.
//
// # How the shell drives it
//
// Two kinds of entry, both JSON in and JSON out:
//
//   - [Core.Call] runs a function without I/O (decide, seed, rehydrate):
//     one synchronous call, made inside a Durable Object's transaction.
//   - [Core.Run] runs a script (serve, forward, project, deliver, ...) on a
//     goroutine of its own. When it needs I/O it calls [Perform] with an
//     [Op] (a D1 statement or batch, a call on a Durable Object, a queue
//     send, a fetch) and blocks; the shell performs the op in its request
//     context and hands back the [Result]; the goroutine continues where
//     it stopped. Nothing is run twice, so a script's cost is linear in
//     its operations and there is no cap on them.
//   - In the Worker (package worker) run returns a Promise; each op is
//     perform(op, ticket) to JavaScript and resume(ticket, result) back.
//     If the Go runtime ends meanwhile, the shell fails the waiting
//     scripts (their requests answer 500) and starts a new runtime. Go
//     keeps nothing a request needs after it: what was committed is in
//     the objects' storage and D1, and the work after a commit
//     (forwarding, deliveries) is retried from there by the object's alarm.
//
// The clock reading and the ids a script uses come in its input, so a
// script is a function of its input and its results: the transcripts in
// testdata/ replay each flow in plain `go test`.
//
// # What it never does
//
// syscall/js, or I/O of any kind: package worker binds it to JavaScript,
// and its tests run natively.
package edge
