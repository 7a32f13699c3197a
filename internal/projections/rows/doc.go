// Package rows holds the pure rules of a projection, shared by every
// runtime so that they give the same rows by construction: the native
// runner (package projection, database/sql over SQLite) and the Worker
// (WebAssembly, D1 through JavaScript) do their own I/O around it.
//
// # What it owns
//
//   - Row keys and the in-memory application of a run of events to rows,
//     in two steps around the caller's I/O: [Prepare] finds the handler and
//     key of each event (the rows to load), [Batch.Apply] runs the handlers
//     over the loaded rows and marks what to write back.
//   - Column coercion: what a handler may write to a column ([Coerce]),
//     and what a stored value reads back as ([FromSQL], [Value]).
//   - The SQL text: each projection's table, indexes, row reads, upserts
//     and deletes ([Table]); the checkpoint table and its statements; the
//     named parameters of a query ([Scan], [Positional]) and how result
//     values are given ([ResultValue]).
//
// # What it never does
//
// I/O: it opens, reads and writes nothing, and imports no database
// driver, so it builds for GOOS=js GOARCH=wasm.
package rows
