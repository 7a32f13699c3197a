// Package sqlite is a durable [store.Store] in one SQLite database file,
// on a pure-Go SQLite (no cgo; DRIVERS.md says which driver and why).
//
// # What it owns
//
//   - The database file's schema: the tables events, instances,
//     idempotency, outbox, snapshots, unique_keys, unique_constraints and hot_log (the hot
//     log's size, kept by triggers on events), and their versioned migrations (PRAGMA
//     user_version), and dead_letters and archive_segments, created by Open
//     when missing. A
//     database migrated by a newer build is refused with
//     [ErrSchemaTooNew].
//   - How a commit becomes rows: one IMMEDIATE transaction per Append,
//     gap-free positions assigned inside it, JSON kept byte for byte, and
//     each instance's first position ([Store.First]) recorded with it.
//   - Durability settings: WAL, a busy timeout, foreign keys, and
//     synchronous=FULL by default ([Options.Sync]).
//   - Write serialization: one write connection, writers queue in Go so
//     concurrent appends never see SQLITE_BUSY; reads use their own
//     read-only pool beside it, and named queries another
//     ([Store.OpenQueries]), so they never take the connections commands
//     load instances through.
//   - Every optional ability of package store: group commit
//     ([Store.AppendBatch], [store.Batcher]), the shared database
//     ([Store.Write], [Store.Read], [store.SQL]) and the after-append hook
//     ([Store.SetHook], [store.Hooker]) projections use, the outbox and its
//     dead letters ([store.Outbox]: the SQL the effect dispatcher claims,
//     settles and requeues with), storage health
//     ([store.HealthReporter]), snapshots ([store.Snapshots]: the
//     newest of each instance, one row) and unique keys ([store.Keys],
//     [store.KeyRebuilder]: table unique_keys, checked and written in
//     the commit's transaction). Beyond them: idempotency retention
//     ([Store.PruneIdempotency]) and the named queries' pool.
//   - The hot side of the archive (package archive's [archive.Hot] and
//     [archive.Index]): the segment index, the window of hot events the
//     retention decision reads, prunes that re-check the guards in their
//     transaction, and [Store.ReadAll] reading the archive
//     ([Store.SetArchive]) where events left the hot store, or failing
//     there with [store.ErrArchiveUnreadable], never skipping them.
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
// What the events mean, and what a delivery does: it stores and returns
// bytes, and records the outcomes the dispatcher decides.
package sqlite
