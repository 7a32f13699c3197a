// Package effect runs a context's effects natively: commands sent to
// aggregates (process managers) and webhooks, delivered at least once from
// the store's outbox ([store.Outbox]; natively SQLite's) and never lost
// across restarts.
//
// # What it owns
//
//   - The [Dispatcher]: it claims due rows of the store's outbox (one per
//     event and effect, written by the command's own transaction),
//     delivers each and deletes it, or records the failure and retries it
//     with exponential backoff, or moves it to the dead-letter list.
//   - The native I/O of a delivery, whose rules are package
//     [github.com/cuesource/cuesource/effect/rules]'s (shared with the
//     Workers runtime): a `send` becomes a command executed on the
//     backend ([Executor]) with the idempotency key
//     "effect:<name>:<eventId>", so a redelivery never runs it twice; a
//     permanent rejection runs the effect's onReject command (key
//     "effect:<name>:reject:<eventId>") or is dead-lettered with the
//     rejection. An `http` effect calls the URL held by its env variable
//     with net/http (the effect's timeout), with Idempotency-Key,
//     Cuesource-Event-Id and Cuesource-Effect headers, so receivers can
//     deduplicate.
//   - Where webhooks may connect: the dialer checks every address it
//     connects to, after DNS resolution, against the policy of package
//     [github.com/cuesource/cuesource/effect/egress] ([Options].Egress:
//     public addresses and the operator's exceptions); redirects are not
//     followed and no proxy is used.
//   - Delivery modes: "queue" rows are delivered by the background loop
//     ([Dispatcher.Run]); "async" rows too, but the loop is woken right
//     after the command's commit; "sync" rows are delivered before the
//     command's response ([Dispatcher.AfterCommit]), which then reports
//     their outcome in an "effects" member of the body. All three go
//     through outbox rows, so a crash loses none.
//   - The dead-letter list ([DeadLetters]: list, retry, discard, over the
//     store's dead letters), which implements cuesource.DeadLetters and backs
//     `cuesource deadletters`.
//
// # Guarantees and limits
//
// A row is claimed in a write transaction (its next_attempt moved past a
// lease) and, in this process, held in memory while it is delivered, so
// the loop and sync delivery never deliver one row at the same time. A
// process that dies mid-delivery leaves the row leased; it becomes due
// again when the lease ends, and is delivered again (at least once).
// Rows of one effect and one source instance are delivered in order within
// a batch; across batches, a failing row does not hold back later ones.
package effect
