// Package memory is an in-memory [store.Store]: the whole log, instance states,
// idempotency records, the outbox ([store.Outbox], with its dead
// letters), the snapshots rehydration starts from ([store.Snapshots]) and
// the unique keys instances hold ([store.Keys], [store.KeyRebuilder])
// live in process memory behind one mutex. It has no other
// optional ability of package store: the shared database and its hook
// need SQL, and without group commit ([store.Batcher]) the native backend
// appends one command at a time, which is what tests want of it.
//
// It is meant for tests, examples and local development; nothing survives
// the process. It is the reference implementation of the conformance suite
// in store/storetest.
package memory
