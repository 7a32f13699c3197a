// Package memory is an in-memory [store.Store]: the whole log, snapshots,
// idempotency records and the outbox ([store.Outbox], with its dead
// letters) live in process memory behind one mutex. It has no other
// optional ability of package store: those need an SQL database.
//
// It is meant for tests, examples and local development; nothing survives
// the process. It is the reference implementation of the conformance suite
// in store/storetest.
package memory
