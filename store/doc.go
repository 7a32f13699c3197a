// Package store defines the storage contract every cuesource runtime store
// implements: an append-only event log, per-instance snapshots and
// idempotency records, written together in one atomic [Commit].
//
// # What it owns
//
//   - The records: [Event], [Instance], [Idempotency] and [Commit].
//   - The [Store] interface and its semantics: optimistic concurrency on a
//     per-instance version, a global gap-free log position, all-or-nothing
//     appends.
//   - The sentinel errors [ErrVersionConflict], [ErrDuplicateKey] and
//     [ErrDuplicateEvent], which every implementation returns (possibly
//     wrapped) so callers can test them with [errors.Is]; and
//     [ErrStorageFull] and [ErrStorageFailed], with which an
//     implementation marks a fault of its medium, so the API decides once
//     how such a fault is answered without knowing the storage.
//   - The optional abilities, each an interface a consumer finds by type
//     assertion on a [Store] (as database/sql/driver's are), documented
//     with the sentinel errors it returns: [Batcher] (group commit, with
//     [BatchResult] and [ErrInvalidCommit]), [SQL] (the database other
//     parts keep their tables in), [Hooker] (a [Hook] run in every append
//     transaction, for inline projections), [Outbox] (the deliveries
//     commits owe, claimed under a lease, settled, or kept as dead letters;
//     [ErrNoDeadLetter]), [HealthReporter] ([Health]), [Snapshots]
//     (an instance's state at a version with its definition's hash, a
//     [Snapshot], written with a commit or alone, so rehydration folds
//     only the events after it), [Keys] (the unique keys instances hold,
//     applied with each commit's [KeyClaim]s; [ErrUniqueViolation],
//     [UniqueError]) and [KeyRebuilder] (keys replaced from the log).
//   - The page rule of event reads: [PageBytes], [Page] and [PageSQL].
//
// # What it never touches
//
// No engine, no CUE evaluation, no HTTP. Stores persist and return bytes;
// deciding what to write, and what a delivery does, belongs to the
// runtime.
//
// # Implementations
//
// Implementations live in subpackages: store/memory (with the outbox)
// and store/sqlite (with every optional ability). Each must pass the conformance
// suite in store/storetest, which also checks every optional ability a
// store has and skips, saying so, those it has not. On Workers an
// instance's events are in its Durable Object's storage and the global log
// is in D1, by the same rules ([PageSQL]): store/d1 holds that SQL and its
// row decoders, tested on SQLite.
package store
