// Package memory is an in-memory [store.Store]: the whole log, snapshots and
// idempotency records live in process memory behind one mutex.
//
// It is meant for tests, examples and local development; nothing survives
// the process. It is the reference implementation of the conformance suite
// in store/storetest.
package memory
