// Package native_e2e tests the native runtime end to end: it builds the
// cuesource binary, runs `cuesource serve` as a separate process on SQLite
// and talks to it only over HTTP, as a client would.
//
// It checks that the HTTP scenario runner (`cuesource test --url`) passes
// every scenario of the repository's contexts against a real server; that
// a server killed with SIGKILL under load loses no acknowledged command,
// leaves no event without its state update and keeps its idempotency
// records; and that SIGTERM lets in-flight commands finish and exits 0.
// It also runs the hostile definition and the hostile-HTTP table, the
// storage faults (a full disk, a damaged file, a second server, read-only
// data), the webhook address policy, event evolution across definitions,
// `cuesource export` and `cuesource play`. And the archive: a tiny hot
// budget under load (the log still whole from position 1, projections
// rebuilt from the archive equal to the live ones), SIGKILL at each crash
// point of an archive step (the server kills itself there when
// CUESOURCE_TEST_CRASH=point:n is set: written, indexed, pruning), damaged
// and missing segments, and the archive and storage commands.
//
// The tests are slow (they build the binary and start servers) and skip
// under -short.
package native_e2e
