// Package native runs a context in one process: the native twin of a
// Durable Object per aggregate instance.
//
// # What it owns
//
// Command execution over a [store.Store]: one writer per instance (an
// in-process lock held from load to commit), idempotency records checked
// under that lock, and group commit: commits of different instances that
// arrive together are appended in one store transaction when the store can
// batch (SQLite's AppendBatch), and each command answers only after its
// commit. It also wakes live subscribers of the global log after commits
// and keeps the tail of recent commits they read new events from (so a
// commit costs the store the same whatever the number of subscribers),
// rebuilds instance state from events on request (rehydrate: from the
// newest snapshot the store keeps under the current definition's hash,
// when it keeps snapshots, by cuesource.Rehydrate's rule), and passes
// on its store's health (the storage faults seen) to /healthz.
// Unique keys: a commit's claims are the store's to check in its
// transaction (store.Keys; a refusal answers cuesource.UniqueViolation),
// a command addressed by key runs only while its instance holds it
// (checked under the instance's writer), and [PrepareKeys] and
// [RebuildKeys] rebuild the keys from the log when the constraints
// change or on request.
// [Backend.SetProgram] replaces the program between writes (a watch's
// swap): writes wait for it rather than fail.
//
// # What it never does
//
// Decide what a command means or what the HTTP answer is: that is
// cuesource.Decide, the same function a Durable Object calls on Workers.
package native
