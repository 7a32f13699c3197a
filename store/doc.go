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
//
// # What it never touches
//
// No engine, no CUE evaluation, no HTTP. Stores persist and return bytes;
// deciding what to write belongs to the runtime.
//
// # Implementations
//
// Implementations live in subpackages (store/memory and store/sqlite), and
// each must pass the conformance suite in store/storetest. On Workers,
// package edge keeps an instance's events in its Durable Object's storage
// and the global log in D1, by the same rules ([PageSQL]).
package store
