// Package rules holds the rules of one effect delivery, shared by every
// runtime so that they deliver the same way by construction: the native
// dispatcher (package effect: the SQLite outbox, net/http) and the Worker
// (WebAssembly, Durable Objects and fetch through JavaScript) do their own
// I/O around it.
//
// # What it owns
//
//   - One delivery ([Deliverer.Deliver]): the effect's `if` (false: the
//     delivery is skipped); a `send`'s command, built with its derived
//     idempotency key "effect:<name>:<eventId>" so a redelivery never runs
//     it twice, and on a permanent rejection its onReject command (key
//     "effect:<name>:reject:<eventId>") or a dead letter keeping the
//     rejection; an `http` effect's request to the URL held by its env
//     variable, with Idempotency-Key, Cuesource-Event-Id and
//     Cuesource-Effect headers so receivers can deduplicate, once its URL
//     passed the address policy of package egress ([Deliverer].Egress).
//   - Classifying the answer: [Done], [Skip], [Retry] (with what the
//     receiver asked for in Retry-After), [Dead] (a redirect, which is
//     not followed, and a refused address too), or [Release] when the
//     caller's context ended first. What the receiver answered is kept
//     apart ([Outcome].Reply) for the log and the dead letter, out of
//     the sync report a command's caller reads.
//   - Settling a failed last attempt into a dead letter ([Settle]) and the
//     wait before the next one ([Backoff]).
//   - The sync report: each sync delivery's line ([ReportOf]) and the
//     "effects" member appended to a command's response ([AppendEffects]).
//
// # What it never does
//
// I/O: the runtime runs commands and makes HTTP calls through a [Doer],
// and keeps the outbox, leases, attempts and dead letters itself. The
// package imports neither net/http nor a database driver, so it builds
// for GOOS=js GOARCH=wasm.
package rules
