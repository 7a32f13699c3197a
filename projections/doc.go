// Package projections keeps a context's projections (read models) up to date
// from the event log, natively, in the same SQLite database as the event
// store, and runs the context's named queries over them.
//
// # What it owns
//
//   - The projection tables: one per projection, named exactly as the
//     projection (queries use that name), with `key TEXT PRIMARY KEY` and the
//     declared columns (TEXT, INTEGER, REAL; JSON columns are declared
//     JSON_TEXT, which has TEXT affinity and holds value.Encode'd JSON), and
//     the declared indexes, named <projection>_<index>.
//   - The checkpoint table `projections` (name, position, hash, state,
//     error, error_position, updated): how far each projection has applied
//     the log, the hash of the definition it was built with, and its state
//     (running, rebuilding or failed). Both `projections` and `dead_letters`
//     are reserved from projection names.
//   - Applying events: for each event in log order the projection's handler
//     for "aggregate.Event" gives the row key and either deletes the row or
//     upserts the columns it names, seeing the current row as `row`. Values
//     are type-checked against the column types when written. Row changes
//     and the checkpoint move commit in one transaction, so a crash at any
//     point neither applies an event twice nor skips one.
//   - Modes: inline projections are applied inside the command's own
//     transaction (the store's after-append hook) whenever their checkpoint
//     is exactly the position before the commit (read your writes); async
//     projections, and inline ones that are behind (after a rebuild, a
//     failure or a restart), catch up in a background goroutine per
//     projection, in batches, woken by a [Waiter]; [Runner.CatchUp] does
//     the same on the caller's goroutine (a scenario reads its own writes).
//   - Failures: a projection that cannot apply an event (an expression
//     error, a value of the wrong type) stops there: state failed, with the
//     error and its position recorded. The command that wrote the event
//     still commits. Skip moves past the event, Resume retries it.
//   - Definition changes: at Start, a projection whose stored hash differs
//     from its definition's is dropped and rebuilt from the log (so is one
//     whose table went missing). A rebuild that is interrupted carries on
//     from its last batch at the next start.
//   - Statements: the SQL a write transaction runs is prepared once per
//     transaction (a group commit runs many commits' hooks in one), or
//     once for good when the store is a [Preparer].
//   - Queries: [Runner.Query] runs a named query with named parameters on
//     a pool of its own (Options.Queries), so slow queries never hold the
//     connections commands read through, under a time limit that
//     interrupts SQLite, and within the context's queryRows and queryBytes
//     limits (checked while rows are read); [CheckQueries] is what
//     `cuesource vet` checks of them, in a private in-memory database
//     holding only the projection tables, refusing the calls that let a
//     request choose the size of a value, and that the rows scenarios
//     expect of a query list only columns its result has.
//     [Runner.Row] reads one row by its key.
//
// The pure rules of all this (row keys, applying a batch of events to
// rows in memory, column coercion, the SQL text) are package rows, which
// the Worker (WebAssembly over D1) shares; this package does the
// database/sql I/O around them.
//
// # Lifecycle
//
// [New] checks the queries and touches no storage; [Runner.Start] creates
// what is missing, rebuilds what changed, installs the hook and starts the
// background catch-up; [Runner.Close] stops it. An unstarted runner
// answers Status, Query and Rebuild (the offline CLI).
//
// # What it never touches
//
// The event store's own tables (it only reads the log through the store)
// and what commands decide. It does not deliver effects.
package projections
