// Package edge is the pure core the Workers runtime calls: JSON in, JSON out.
//
// # What it owns
//
// Everything a Worker decides, so the JavaScript shell around the wasm
// build stays generic and thin: the HTTP API (through [api.Service], the
// same code the native server runs), a command's decision on an aggregate
// instance and the work after its commit, seeding and rehydration, the
// forwarding of an instance's events to the global log in D1, the
// projector's runs, effect deliveries, their retries and dead letters,
// the objects' alarms, the live stream, unique keys (keys.go: the
// reservation of a claimed key at its own object, the ask of the holder
// it recorded, the keys an instance holds written with its events), and
// the archive (archive.go: package archive's steps over D1 and an R2
// bucket, run by the Archiver object's alarm, the reads of what left
// D1, and the index and objects GET /admin/archive/... serve). The SQL is
// package store/d1's.
// In a context with auth it verifies bearer tokens with package auth, as
// natively: HS256 in Go, a public-key signature by the shell's WebCrypto
// (the "verify" op), a JWKS URL through the shell's fetch (auth.go).
//
// # How the shell drives it
//
// Two kinds of entry, both JSON in and JSON out:
//
//   - [Core.Call] runs a function without I/O (decide, seed, rehydrate,
//     holds): one synchronous call, made inside a Durable Object's
//     transaction.
//   - [Core.Run] runs a script (serve, committed, alarm, projector, queue,
//     stream, claim, key, ...) on a goroutine of its own. When it needs I/O it calls
//     [Perform] with an [Op] (a D1 statement or batch, a call on a Durable
//     Object, a queue send, a fetch) and blocks; the shell performs the op
//     in its request context and hands back the [Result]; the goroutine
//     continues where it stopped. Nothing is run twice, so a script's cost
//     is linear in its operations and there is no cap on them.
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
// # Why a goroutine that waits, not continuations
//
// Until December 2026 a script was replayed from the start with every
// earlier result after each operation: quadratic in its operations, so
// the projector stopped after 24 of them and a command's response needed
// an Answer flag to skip a rerun. The two linear designs were explicit,
// serialisable continuations (Go answers operations and a continuation;
// the shell calls advance) and a goroutine that waits. Continuations
// would turn every flow, api.Service's included, into a state machine
// whose state crosses the boundary at each operation; the goroutine keeps
// the code the native server runs. Measured in Node on the projector
// catching up 20 pages (61 operations): 1.1 s replayed, 61-69 ms waiting
// (bench/workers/protocol.mjs, BENCHMARKS.md §5). The cost is a goroutine
// and a promise per script (about 25 µs) and one call back into Go per
// operation.
//
// # What the shell still does
//
// I/O only: it starts (or replaces) the Go runtime, passing what only it
// knows (the Worker's bindings, how often it restarted, how long the
// start took), hands Go each request, queue message and alarm, and
// performs the operations Go asks for: D1 statements and batches, an
// object's storage statements (inside transactionSync where Go asks),
// reading, setting and syncing its alarm and storage, queue sends,
// fetch, WebCrypto, gzip, R2, calls to the objects, the stream's writes
// and waits. It says apart the one failure only it can see, a Go runtime
// that ended during an object's transaction (Result.Ended), and retries a
// queue message Go did not answer after Info.QueueRetrySeconds.
//
// Every decision is made here: what follows a commit and in what order,
// retries and their backoff (a transaction that rolled back because its
// runtime ended is run once more: host.transact), the alarms' next time
// and whether an earlier alarm stays (keepAlarm), idempotency expiry, the
// objects' schema and statements, the stream's polling, and the test
// switches (testswitch.go, on only with CUESOURCE_TEST_FAULTS=1).
//
// # What it never does
//
// syscall/js, or I/O of any kind: package worker binds it to JavaScript,
// and its tests run natively.
package edge
