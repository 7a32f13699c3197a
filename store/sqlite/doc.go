// Package sqlite is a durable [store.Store] in one SQLite database file,
// on a pure-Go SQLite (no cgo; DRIVERS.md says which driver and why).
//
// # What it owns
//
//   - The database file's schema: the tables events, instances,
//     idempotency and outbox, and their versioned migrations (PRAGMA
//     user_version). A database migrated by a newer build is refused with
//     [ErrSchemaTooNew].
//   - How a commit becomes rows: one IMMEDIATE transaction per Append,
//     gap-free positions assigned inside it, JSON kept byte for byte.
//   - Durability settings: WAL, a busy timeout, foreign keys, and
//     synchronous=FULL by default ([Options.Sync]).
//   - Write serialization: one write connection, writers queue in Go so
//     concurrent appends never see SQLITE_BUSY; reads use their own
//     read-only pool beside it, and named queries another
//     ([Store.OpenQueries]), so they never take the connections commands
//     load instances through.
//   - Group commit ([Store.AppendBatch]) and idempotency retention
//     ([Store.PruneIdempotency]), beyond the [store.Store] interface.
//   - Faults of the medium: SQLite's full, I/O, corrupt, read-only and
//     can't-open results are wrapped in [store.ErrStorageFull] or
//     [store.ErrStorageFailed] and counted; [Store.Health] reports them
//     and, while writes fail, probes with a one-page write.
//   - What Open refuses: a damaged file (PRAGMA quick_check, unless
//     [Options.SkipIntegrityCheck]; [ErrDamaged]), a read-only directory or
//     file ([ErrReadOnly]), and, with [Options.Lock], a database another
//     process holds ([ErrLocked], naming its pid from the lock file).
//
// # What it never touches
//
// What the events mean: it stores and returns bytes. Append writes a
// commit's outbox entries ([store.Commit].Outbox) with its events;
// delivering them is package effect's, through [Store.Write] and
// [Store.Read].
package sqlite
