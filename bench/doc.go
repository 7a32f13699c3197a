// Package bench measures what interpretation costs.
//
// The engine decides a command by interpreting a compiled context: the
// payload is decoded into generic JSON values (value.Decode), checked against
// the command's #payload as a JSON Schema, and guards, emits, reducers and
// invariants run as compiled expr programs over map[string]any states. This
// package holds the baseline that cost is judged against: decider.go is the
// cart aggregate of contexts/example.cue written by hand in plain Go, with
// typed structs, encoding/json with DisallowUnknownFields, hand-written
// payload checks and no interpretation at all. TestDeciderAgrees runs both
// deciders over the same commands (accepted and rejected) and requires the
// same events, the same states and the same rejection names, so the baseline
// provably has the semantics of the CUE file.
//
// BenchmarkHandle times one AddItem on a cart holding five lines, from the
// command's JSON bytes and an in-memory current state to the events and the
// new state encoded as JSON bytes:
//
//	interpreted   engine.Decide on the decoded state value, then value.Encode
//	handwritten   Decide on a CartState struct, then value.Encode
//
// Both decide on the same current state every iteration (neither changes
// it), so nothing grows across iterations. The program is compiled once,
// outside the timed loop.
//
// BenchmarkInterpretedParts times the steps of the interpreted path one by
// one, to show where its time goes: decode (value.Decode of the payload),
// validate (Command.Validate, the JSON Schema), guards, emit, apply and
// invariants (the expr programs, through the exported interpreter pieces),
// guards+emit+apply (the three together), decide (all of engine.Decide,
// including the engine's own bookkeeping) and encode (value.Encode of the
// decision). BenchmarkHandwrittenParts does the same for the baseline.
//
// # Durable throughput
//
// durable_test.go measures what a durable command costs end to end, and
// the ceiling it is judged against.
//
// BenchmarkRawSQLite is the ceiling: database/sql on the store's driver
// (modernc.org/sqlite), one connection, the store's write pragmas (WAL,
// synchronous FULL or NORMAL, busy_timeout, foreign_keys, BEGIN IMMEDIATE)
// and no store code. One op is one transaction inserting 1 or 64 rows of
// about 200 bytes into a table shaped like the events table (the same
// columns and unique indexes). It reports tx/s and rows/s.
//
// BenchmarkStoreAppend is the store's own write transaction (its check
// query, the event insert and the snapshot upsert) for the commit an
// AddItem makes: one commit per transaction (Store.Append) or 64 commits
// of different instances in one (Store.AppendBatch, what the group
// committer calls). It reports tx/s and commits/s.
//
// BenchmarkHTTP runs the stack `cuesource serve` runs (api.Handler over
// api.Service over native.Backend over sqlite.Store, sync FULL, in a
// temporary directory) behind httptest.NewServer on TCP loopback, and
// sends AddItem commands from 1, 8 or 64 concurrent clients, each a
// goroutine with its own keep-alive http.Client sending one request at a
// time. "hot" sends every command to one cart, so commands serialize on
// the instance's writer; "spread" sends them round-robin over 1000 carts
// opened before the timer, so commands of different carts share the group
// committer's transactions. The skus cycle through four, each at a fixed
// price, so the guards and the 20-item invariant always pass; any command
// that does not answer 2xx fails the benchmark. It reports cmd/s, the
// median and 99th percentile latency of one request (p50-ms, p99-ms) and
// cmd/tx, the commands per store transaction. Clients and server share the
// process and its CPUs. BenchmarkHTTPSyncNormal is the same with
// `--sync normal`.
//
// # Event evolution
//
// lens_test.go reads a payload stored at version 0 through chains of 1, 5
// and 10 lenses, fused (Event.Upcast, one program) and lens by lens
// (Event.UpcastSteps), beside chains that differ in length only, the same
// conversion written as one lens, and the ten steps written in Go.
// replay_test.go replays a stored log of the example's carts (old
// versions and a former name among its events) as api.Compare does:
// decode, read at the current version, reduce; beside the same log
// already current and a hand-written replay on decider.go. Both check
// that every way agrees before timing.
//
// Run it with `make bench`; BENCHMARKS.md at the repository root records
// the latest figures.
package bench
