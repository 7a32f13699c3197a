// Package d1 is the storage of the Workers runtime: the SQL it runs on D1
// (the global log) and on each Aggregate Durable Object's SQLite storage,
// and the decoders of the rows that come back.
//
// # What it owns
//
//   - The D1 schema ([LogSchema]) and its migrations, the files `cuesource
//     worker build` writes ([Migrations]: [Migration], then
//     [MetaMigration], which gives the log's events their meta column).
//   - The D1 statements: forwarding an instance's events ([Forward],
//     [Positions]), the global reads and pages ([ReadAll], [EventsAfter],
//     [Head]), dead letters ([DeadLetterAdd], [DeadLetterList],
//     [DeadLetterGet], [DeadLetterRemove]) and the projector's checkpoints
//     (the Checkpoint statements; [CheckpointRebuild] starts a rebuild,
//     [CheckpointAdvance] ends it running at the head).
//   - A Durable Object's schema ([ObjectSchema], [ObjectSnapshotSchema]),
//     the migrations an object runs after it when it starts
//     ([ObjectMigrations]: its events' meta column and its instance's
//     first position, for an object made before them), and statements (the Object names): its instance row,
//     events, idempotency records, outbox and forwarding state, its
//     snapshot, and the unique keys it holds; and a unique key's object's
//     holder ([KeyHolder], [KeySetHolder]).
//   - The archive's segment index in D1 ([ArchiveSchema], its own
//     migration [ArchiveMigration]), the hot log's size as a counter kept
//     by triggers on the log ([HotLogMigration]), and the statements of
//     package archive's steps over D1 (the Archive names).
//   - Row decoders ([DecodeEvent], [DecodeCheckpoint], [DecodeDeadLetter],
//     [DecodeRedelivery], [DecodeHead], [Int], [Text], [Time]) that refuse
//     a value of the wrong type, or a time that does not parse, with an
//     error naming the column; and the stored time text ([FormatTime]:
//     milliseconds, as JavaScript writes it).
//   - The statements as a JavaScript module (bench/workers/baseline/sql.mjs,
//     written and checked by this package's tests), so JavaScript that runs
//     them (the benchmark's baseline Worker) uses this text and not a copy.
//
// Statements take positional parameters (?1, ?2, ... or ?), as D1 and a
// Durable Object's storage bind them; each says its parameters in order.
// They are plain SQLite: the package's tests run every one natively on
// SQLite (modernc.org/sqlite), without workerd.
//
// # What it never touches
//
// No I/O: package internal/edge asks the shell to run these statements
// and decodes the answers here; the shell (worker/shell) performs them.
package d1
