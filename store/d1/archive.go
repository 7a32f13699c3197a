package d1

import (
	"fmt"
	"strings"
	"time"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/retention"
)

// ---- Migration 0003: the archive's segment index. ---------------------
//
// The archive's part of D1 (package archive): the segment index, the
// same table the native store keeps, and the statements the archiver's
// steps and the whole reads run. A migration of its own, so that a
// context built before it gains the table on its next `wrangler d1
// migrations apply`.

// ArchiveSchema is the segment index: one row per segment written to the
// R2 bucket, with how many of its events D1 still holds.
const ArchiveSchema = archive.IndexTable

// ArchiveMigrationName is the file [ArchiveMigration] is written to, in
// [Migrations].
const ArchiveMigrationName = "0003_archive.sql"

// ArchiveMigration is the D1 migration of the segment index.
func ArchiveMigration() []byte {
	return []byte("-- Written by `cuesource worker build`: the index of the events archived to R2.\n" + strings.TrimSpace(ArchiveSchema) + ";\n")
}

// ---- end of migration 0003 -------------------------------------------

// ---- Migration 0004: the hot log's size. ------------------------------
//
// The hot log's size as the byte budget counts it, the one row of
// hot_log (archive.HotLogSchema, as natively). Triggers on events keep it,
// so every write that changes the log (a forward, a prune, SQL run by
// hand) changes it in the same transaction, and [ArchiveHotBytes] reads
// one row instead of summing the log. The events the log held when the
// migration was applied are counted afterwards by the archiver, in
// bounded statements ([ArchiveHotCount]): summing a log of gigabytes in
// the migration's one statement could pass D1's time limit for a query,
// and the migration would fail.

// HotLogMigrationName is the file [HotLogMigration] is written to, in
// [Migrations].
const HotLogMigrationName = "0004_hot_log.sql"

// HotLogMigration is the D1 migration of the hot log's size. Each
// statement is idempotent; a trigger's body ends at its line "END;".
func HotLogMigration() []byte {
	return []byte("-- Written by `cuesource worker build`: the hot log's size, kept by triggers.\n" +
		archive.HotLogSchema + "\n" + archive.HotLogStart + ";\n")
}

// ---- end of migration 0004 -------------------------------------------
//
// The archive's statements over D1 follow; the object's snapshot and
// pruning statements are in snapshot.go.

// rowBytes is archive.RowBytes: what the byte budget counts of an event.
var rowBytes = archive.RowBytes

// SegmentColumns are the index's columns [DecodeSegment] reads, in order.
const SegmentColumns = archive.IndexColumns

// archiveLimit (projections as a JSON array of names, ?2) is the last
// position the guards let leave: archived, projected by every projection
// the context defines (the head when none has a checkpoint), and before
// the head, which stays hot.
const archiveLimit = `MIN(
	(SELECT COALESCE(MAX(last), 0) FROM archive_segments),
	COALESCE((SELECT MIN(position) FROM projections WHERE name IN (SELECT value FROM json_each(?2))), (SELECT COALESCE(MAX(position), 0) FROM events)),
	(SELECT COALESCE(MAX(position), 0) FROM events) - 1)`

// The archive's statements.
const (
	// ArchiveGuards (projections as a JSON array) reads (archived, head,
	// projected): projected is NULL when no projection has a checkpoint.
	ArchiveGuards = `SELECT (SELECT COALESCE(MAX(last), 0) FROM archive_segments),
	(SELECT COALESCE(MAX(position), 0) FROM events),
	(SELECT MIN(position) FROM projections WHERE name IN (SELECT value FROM json_each(?1)))`
	// ArchiveSegments reads SegmentColumns of every segment, in order.
	ArchiveSegments = `SELECT ` + SegmentColumns + ` FROM archive_segments ORDER BY first`
	// ArchiveSegmentAt (position) reads the segment that may hold it (its
	// last is checked by the caller).
	ArchiveSegmentAt = `SELECT ` + SegmentColumns + ` FROM archive_segments WHERE first <= ?1 ORDER BY first DESC LIMIT 1`
	// ArchiveSegmentsAfter (after, n) reads SegmentColumns and the events
	// D1 holds of up to n segments holding positions above after, in
	// order, from the one holding after+1 (found by the primary key: a
	// page costs its length, not its place in the index).
	ArchiveSegmentsAfter = archive.IndexPage
	// ArchiveAddSegment (first, last, count, first_time, last_time, bytes,
	// sha256, name, created) records a segment that follows the index's
	// last one, counting its events D1 holds; one of the same first
	// position is left as it is. Run in a batch with [ArchiveSegmentAt]
	// of first: the caller checks that the index holds this segment.
	ArchiveAddSegment = `INSERT INTO archive_segments (first, last, count, first_time, last_time, bytes, sha256, name, hot, created)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT COUNT(*) FROM events WHERE position BETWEEN ?1 AND ?2), ?9
WHERE ?1 = (SELECT COALESCE(MAX(last), 0) + 1 FROM archive_segments)
ON CONFLICT (first) DO NOTHING`
	// ArchivePruneUpdate (from, to) brings the hot counts of the segments
	// a prune touched along with it: the second statement of its batch.
	ArchivePruneUpdate = `UPDATE archive_segments SET hot = (SELECT COUNT(*) FROM events WHERE position BETWEEN archive_segments.first AND archive_segments.last)
WHERE last >= ?1 AND first <= ?2`
)

// ArchiveHotBytes reads (bytes, counted, base), the one row of
// [HotLogMigration]'s counter: the hot log's size as the budget counts
// it once counted reaches base.
const ArchiveHotBytes = archive.HotLogRead

// ArchiveHotCount (n) counts n more positions of the events the log held
// when the migration was applied (archive.HotLogCount).
var ArchiveHotCount = archive.HotLogCount

// ArchiveWindow (after, n) reads up to n hot events after a position as
// the retention decision sees them: position, aggregate, instance,
// version, time, bytes, latest (the instance's last version in D1),
// first_hot (its oldest version in D1), owed (a dead letter holds it).
// The outbox is each object's, which delivers from its own events: a
// prune of D1 never takes an event a delivery needs.
var ArchiveWindow = `SELECT e.position, e.aggregate, e.instance, e.version, e.time, ` + rowBytes("e.") + `,
	(SELECT MAX(f.version) FROM events AS f WHERE f.aggregate = e.aggregate AND f.instance = e.instance),
	(SELECT MIN(f.version) FROM events AS f WHERE f.aggregate = e.aggregate AND f.instance = e.instance),
	EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.event_id = e.id)
FROM events AS e WHERE e.position > ?1 ORDER BY e.position LIMIT ?2`

// ArchivePrune (positions as a JSON array, projections as a JSON array)
// deletes the events at those positions that the guards, read again in
// the statement, still let go and no dead letter holds, answering
// (position, aggregate, instance, version) of each one deleted. Run in one batch with [ArchivePruneUpdate]: the
// deletions commit with the index's update.
var ArchivePrune = `DELETE FROM events WHERE position IN (SELECT value FROM json_each(?1))
	AND position <= ` + archiveLimit + `
	AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE event_id = events.id)
RETURNING position, aggregate, instance, version`

var segmentNames = []string{"first", "last", "count", "first_time", "last_time", "bytes", "sha256", "name", "hot"}

// DecodeSegment decodes a row of SegmentColumns.
func DecodeSegment(row []any) (archive.Segment, error) {
	var s archive.Segment
	if err := scan("archive index", segmentNames, row, &s.First, &s.Last, &s.Count, &s.FirstTime, &s.LastTime, &s.Bytes, &s.SHA256, &s.Name, &s.Hot); err != nil {
		return archive.Segment{}, err
	}
	return s, nil
}

// DecodeEntry decodes a row of ArchiveSegmentsAfter: SegmentColumns and
// the events D1 holds of the segment.
func DecodeEntry(row []any) (archive.Entry, error) {
	var e archive.Entry
	if len(row) != len(segmentNames)+1 {
		return e, fmt.Errorf("d1: archive index row has %d columns, want %d", len(row), len(segmentNames)+1)
	}
	s, err := DecodeSegment(row[:len(segmentNames)])
	if err != nil {
		return e, err
	}
	e.Segment = s
	if e.Counted, err = Int(row[len(segmentNames)]); err != nil {
		return e, fmt.Errorf("d1: archive index: column counted: %w", err)
	}
	return e, nil
}

var candidateNames = []string{"position", "aggregate", "instance", "version", "time", "bytes", "latest", "first_hot", "owed"}

// DecodeCandidate decodes a row of ArchiveWindow.
func DecodeCandidate(row []any) (retention.Candidate, error) {
	var c retention.Candidate
	var owed int64
	if err := scan("archive window", candidateNames, row, &c.Position, &c.Aggregate, &c.Instance, &c.Version, &c.Time, &c.Bytes, &c.Latest, &c.FirstHot, &owed); err != nil {
		return retention.Candidate{}, err
	}
	c.Owed = owed != 0
	return c, nil
}

var hotLogNames = []string{"bytes", "counted", "base"}

// DecodeHotLog decodes the row of ArchiveHotBytes.
func DecodeHotLog(row []any) (bytes, counted, base int64, err error) {
	err = scan("hot log", hotLogNames, row, &bytes, &counted, &base)
	return bytes, counted, base, err
}

// DecodeTotals decodes the row of archive.IndexTotals (its times NULL
// when the index is empty).
func DecodeTotals(row []any) (archive.Totals, error) {
	var t archive.Totals
	if len(row) != 4 {
		return t, fmt.Errorf("d1: archive index totals row has %d columns, want 4", len(row))
	}
	if err := scan("archive index totals", []string{"count", "bytes"}, row[:2], &t.Count, &t.Bytes); err != nil {
		return t, err
	}
	for i, to := range []**time.Time{&t.From, &t.To} {
		s, ok, err := NullText(row[2+i])
		if err != nil || !ok {
			if err != nil {
				return t, fmt.Errorf("d1: archive index totals: %w", err)
			}
			continue
		}
		at, err := Time(s)
		if err != nil {
			return t, fmt.Errorf("d1: archive index totals: %w", err)
		}
		*to = &at
	}
	return t, nil
}
