// Package archive moves events out of a context's hot store into cold
// storage, and reads them back.
//
// # What it owns
//
//   - The segment format: a run of the log in position order, one event a
//     line as `cuesource export` and GET /events write it (value.Encode of
//     the stored event), gzip-compressed, immutable, named by its position
//     range (`<first>-<last>.ndjson.gz`, 20 digits each) and described by
//     a [Segment]: count, time range, compressed size and SHA-256.
//   - [Target], where segments are kept: [Dir] natively; on Workers an R2
//     bucket (package internal/edge) over the same format.
//   - [Codec], what compresses a segment's lines: [Gzip] natively; on
//     Workers the platform's CompressionStream. Both are gzip. The package
//     imports compress/gzip only in codec.go's [Gzip], which a build that
//     never calls it (the Worker's wasm) does not link.
//   - [Archiver]: one bounded step at a time, asks package retention what
//     may leave, writes a segment of what must be archived first, records
//     it in the hot store's segment index, then prunes, each prune one
//     transaction with its index update (the [Hot] store does both).
//     Before a prune it has each instance whose events leave snapshotted
//     (Options.Snapshot, [SnapshotBefore]), so rehydration starts after
//     what left.
//   - [Reader]: the archived part of the log, read through the index,
//     each segment checked against its size and checksum before a line of
//     it is returned; [Verify] checks them all.
//   - [Served]: the archive as a runtime serves it to its admin (GET
//     /admin/archive/...): the index a page at a time with the hot
//     store's counts ([Pager], [Entry]) and the target's objects as
//     stored, bounded ([Sizer]); package archive/remote reads them back
//     as a Target and an Index, so Verify and Reader run on the admin's
//     machine against a running server or Worker.
//   - The SQL both hot stores (SQLite natively, D1) share: the segment
//     index ([IndexTable], [IndexPage]) and the hot log's size as the
//     byte budget counts it ([RowBytes], [HotLogSchema]: a counter kept by
//     triggers, and the bounded counting of a log that predates it, during
//     which a store answers a [CountingError]).
//
// # Crashes
//
// A segment is written (and synced) before the index names it, and an
// event is pruned only once the index names its segment. A crash after
// the write leaves a file the index does not name: the next step writes
// it again (or a longer one from the same first position) and [Verify]
// reports the leftover. A crash inside a prune rolls its transaction
// back. So nothing is lost, and nothing is in the log twice.
//
// # What it never does
//
// Decide what leaves (package retention), or know the hot store's SQL
// (store/sqlite implements [Hot] and [Index]; internal/edge over D1's
// statements in store/d1).
package archive
