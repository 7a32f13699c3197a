package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
)

var (
	_ archive.Hot     = (*Store)(nil)
	_ archive.Index   = (*Store)(nil)
	_ archive.Counter = (*Store)(nil)
	_ archive.Pager   = (*Store)(nil)
)

// archiveTable is the segment index (package archive): one row per
// segment written to the archive, with how many of its events are still
// hot. Created at Open when missing, as dead_letters is.
var archiveTable = "\n" + archive.IndexTable + ";\n"

// rowBytes is archive.RowBytes: what the byte budget counts of an event.
var rowBytes = archive.RowBytes

// hotLogMigration is migration 5: the hot log's size as the byte budget
// counts it, the one row of hot_log (archive.HotLogSchema), kept by
// triggers on events, so every write that changes the log (Append,
// Prune, Import, or SQL run by hand) changes it in the same transaction,
// and HotBytes reads one row instead of summing the log. The events a
// database held are counted in the migration's transaction.
// Its table is made without IF NOT EXISTS, so that a projection's table
// of that name is the clear error of a name taken (tableExists).
func hotLogMigration() string {
	schema := strings.Replace(archive.HotLogSchema, "CREATE TABLE IF NOT EXISTS hot_log", "CREATE TABLE hot_log", 1)
	return schema + archive.HotLogStart + ";\n" + archive.HotLogCountAll + ";\n"
}

// ColdReader reads the archived log: an *archive.Reader.
type ColdReader interface {
	ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error)
}

// SetPruning installs f, called inside each prune's transaction before
// it commits: where the crash tests stop the process mid-prune.
func (s *Store) SetPruning(f func()) { s.pruning = f }

// SetArchive makes ReadAll read what has left the hot store from r;
// call it before the first read. Without it, ReadAll of a pruned store
// fails where the events left (ErrArchiveUnreadable), never skips them.
func (s *Store) SetArchive(r ColdReader) { s.cold = r }

const segmentColumns = archive.IndexColumns

func scanSegment(row interface{ Scan(...any) error }) (archive.Segment, error) {
	var g archive.Segment
	var ft, lt string
	if err := row.Scan(&g.First, &g.Last, &g.Count, &ft, &lt, &g.Bytes, &g.SHA256, &g.Name, &g.Hot); err != nil {
		return g, err
	}
	var err error
	if g.FirstTime, err = parseTime(ft); err != nil {
		return g, err
	}
	g.LastTime, err = parseTime(lt)
	return g, err
}

// Segments implements [archive.Index].
func (s *Store) Segments(ctx context.Context) ([]archive.Segment, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+segmentColumns+` FROM archive_segments ORDER BY first`)
	if err != nil {
		return nil, s.fault(fmt.Errorf("sqlite: archive index: %w", err))
	}
	defer rows.Close()
	var out []archive.Segment
	for rows.Next() {
		g, err := scanSegment(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: archive index: %w", err)
		}
		out = append(out, g)
	}
	return out, s.fault(rows.Err())
}

// Totals implements [archive.Hot].
func (s *Store) Totals(ctx context.Context, n int) (archive.Totals, error) {
	var t archive.Totals
	var ft, lt sql.NullString
	if err := s.read.QueryRowContext(ctx, archive.IndexTotals).Scan(&t.Count, &t.Bytes, &ft, &lt); err != nil {
		return t, s.fault(fmt.Errorf("sqlite: archive index totals: %w", err))
	}
	for _, x := range []struct {
		text sql.NullString
		to   **time.Time
	}{{ft, &t.From}, {lt, &t.To}} {
		if x.text.Valid {
			at, err := parseTime(x.text.String)
			if err != nil {
				return t, fmt.Errorf("sqlite: archive index totals: %w", err)
			}
			*x.to = &at
		}
	}
	rows, err := s.read.QueryContext(ctx, archive.IndexNewest, n)
	if err != nil {
		return t, s.fault(fmt.Errorf("sqlite: archive index: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		g, err := scanSegment(rows)
		if err != nil {
			return t, fmt.Errorf("sqlite: archive index: %w", err)
		}
		t.Newest = append(t.Newest, g)
	}
	slices.Reverse(t.Newest)
	return t, s.fault(rows.Err())
}

// SegmentAt implements [archive.Index].
func (s *Store) SegmentAt(ctx context.Context, pos int64) (archive.Segment, bool, error) {
	g, err := scanSegment(s.read.QueryRowContext(ctx, `SELECT `+segmentColumns+` FROM archive_segments
		WHERE first <= ? ORDER BY first DESC LIMIT 1`, pos))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && g.Last < pos) {
		return archive.Segment{}, false, nil
	}
	if err != nil {
		return archive.Segment{}, false, s.fault(fmt.Errorf("sqlite: archive index at %d: %w", pos, err))
	}
	return g, true, nil
}

// SetProjections names the projections the served context defines:
// only their checkpoints hold pruning back (a projection removed from the
// context leaves its checkpoint row behind, which must not hold it back
// forever). Without it every checkpoint row counts.
func (s *Store) SetProjections(names []string) {
	b, _ := json.Marshal(names)
	s.projections = string(b)
}

// projected is the position every projection has applied: the least
// checkpoint, or the head when there is no projection.
func (s *Store) projected(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, head int64) (int64, error) {
	var exists bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projections')`).Scan(&exists); err != nil || !exists {
		return head, err
	}
	var p sql.NullInt64
	var err error
	if s.projections == "" {
		err = q.QueryRowContext(ctx, `SELECT MIN(position) FROM projections`).Scan(&p)
	} else {
		err = q.QueryRowContext(ctx, `SELECT MIN(position) FROM projections WHERE name IN (SELECT value FROM json_each(?))`, s.projections).Scan(&p)
	}
	if err != nil {
		return 0, err
	}
	if !p.Valid {
		return head, nil
	}
	return p.Int64, nil
}

// Guards implements [archive.Hot].
func (s *Store) Guards(ctx context.Context) (retention.Guards, error) {
	var g retention.Guards
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(MAX(last), 0) FROM archive_segments),
		(SELECT COALESCE(MAX(position), 0) FROM events)`).Scan(&g.Archived, &g.Head)
	if err == nil {
		g.Projected, err = s.projected(ctx, s.read, g.Head)
	}
	if err != nil {
		return g, s.fault(fmt.Errorf("sqlite: archive guards: %w", err))
	}
	return g, nil
}

// HotBytes implements [archive.Hot]: one row, the counter the triggers
// of hotLogMigration keep.
func (s *Store) HotBytes(ctx context.Context) (int64, error) {
	var bytes int64
	if err := s.read.QueryRowContext(ctx, `SELECT bytes FROM hot_log WHERE id = 1`).Scan(&bytes); err != nil {
		return 0, s.fault(fmt.Errorf("sqlite: hot log size: %w", err))
	}
	return bytes, nil
}

// Window implements [archive.Hot].
func (s *Store) Window(ctx context.Context, after int64, n int) ([]retention.Candidate, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT e.position, e.aggregate, e.instance, e.version, e.time, `+rowBytes("e.")+`,
		COALESCE(i.version, e.version),
		(SELECT MIN(f.version) FROM events AS f WHERE f.aggregate = e.aggregate AND f.instance = e.instance),
		EXISTS (SELECT 1 FROM outbox AS o WHERE o.event_id = e.id) OR EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.event_id = e.id)
		FROM events AS e LEFT JOIN instances AS i ON i.aggregate = e.aggregate AND i.instance = e.instance
		WHERE e.position > ? ORDER BY e.position LIMIT ?`, after, n)
	if err != nil {
		return nil, s.fault(fmt.Errorf("sqlite: archive window: %w", err))
	}
	defer rows.Close()
	var out []retention.Candidate
	for rows.Next() {
		var c retention.Candidate
		var ts string
		if err := rows.Scan(&c.Position, &c.Aggregate, &c.Instance, &c.Version, &ts, &c.Bytes, &c.Latest, &c.FirstHot, &c.Owed); err != nil {
			return nil, fmt.Errorf("sqlite: archive window: %w", err)
		}
		if c.Time, err = parseTime(ts); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, s.fault(rows.Err())
}

// Hot implements [archive.Hot]: events of the hot store only.
// A segment is one page of the hot log (store.PageBytes of payloads at
// most, and one event): the archiver and every reader hold a segment
// whole, so its size is bounded like a page's, whatever its events weigh.
func (s *Store) Hot(ctx context.Context, after int64, n int) ([]store.Event, error) {
	if n <= 0 {
		return nil, nil
	}
	return s.readHotPage(ctx, after, n)
}

// AddSegment implements [archive.Hot]. The hot count is counted here,
// in the transaction.
func (s *Store) AddSegment(ctx context.Context, g archive.Segment) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		var sum string
		err := tx.QueryRowContext(ctx, `SELECT sha256 FROM archive_segments WHERE first = ? AND last = ?`, g.First, g.Last).Scan(&sum)
		if err == nil && sum == g.SHA256 {
			return nil // recorded already
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(last), 0) FROM archive_segments`).Scan(&last); err != nil {
			return err
		}
		if g.First != last+1 {
			return fmt.Errorf("sqlite: archive segment %d-%d does not follow the archive's last position %d", g.First, g.Last, last)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO archive_segments (first, last, count, first_time, last_time, bytes, sha256, name, hot, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COUNT(*) FROM events WHERE position BETWEEN ? AND ?), ?)`,
			g.First, g.Last, g.Count, stamp(g.FirstTime), stamp(g.LastTime), g.Bytes, g.SHA256, g.Name, g.First, g.Last, stamp(time.Now()))
		return err
	})
}

// Prune implements [archive.Hot]: one transaction deletes the events the
// guards still let go and brings the index's hot counts along.
func (s *Store) Prune(ctx context.Context, positions []int64) (int, error) {
	if len(positions) == 0 {
		return 0, nil
	}
	n := 0
	err := s.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		var archived, head int64
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(last), 0) FROM archive_segments), (SELECT COALESCE(MAX(position), 0) FROM events)`).Scan(&archived, &head); err != nil {
			return err
		}
		projected, err := s.projected(ctx, tx, head)
		if err != nil {
			return err
		}
		limit := retention.Guards{Archived: archived, Projected: projected, Head: head}.Limit()
		del, err := tx.PrepareContext(ctx, `DELETE FROM events WHERE position = ? AND position <= ?
			AND NOT EXISTS (SELECT 1 FROM outbox WHERE event_id = events.id)
			AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE event_id = events.id)`)
		if err != nil {
			return err
		}
		defer del.Close()
		for _, p := range positions {
			res, err := del.ExecContext(ctx, p, limit)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		_, err = tx.ExecContext(ctx, `UPDATE archive_segments SET hot = (SELECT COUNT(*) FROM events WHERE position BETWEEN first AND last)
			WHERE last >= ? AND first <= ?`, positions[0], positions[len(positions)-1])
		if err == nil && s.pruning != nil {
			s.pruning()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune: %w", err)
	}
	return n, nil
}

// SegmentsCounted implements [archive.Counter]: the index and the
// hot events of each segment, in one statement (one snapshot).
func (s *Store) SegmentsCounted(ctx context.Context) ([]archive.Segment, []int64, error) {
	return s.segmentsCounted(ctx, archive.IndexPage, 0, -1) // LIMIT -1: every entry
}

// SegmentsAfter implements [archive.Pager]: from the entry holding
// after+1 (found by the primary key, so a page costs its length, not its
// place in the index), each counted in the same statement.
func (s *Store) SegmentsAfter(ctx context.Context, after int64, n int) ([]archive.Entry, error) {
	segs, hot, err := s.segmentsCounted(ctx, archive.IndexPage, after, n)
	if err != nil {
		return nil, err
	}
	out := make([]archive.Entry, len(segs))
	for i, g := range segs {
		out[i] = archive.Entry{Segment: g, Counted: hot[i]}
	}
	return out, nil
}

func (s *Store) segmentsCounted(ctx context.Context, query string, args ...any) ([]archive.Segment, []int64, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, s.fault(fmt.Errorf("sqlite: archive index: %w", err))
	}
	defer rows.Close()
	var segs []archive.Segment
	var hot []int64
	for rows.Next() {
		var g archive.Segment
		var ft, lt string
		var n int64
		if err := rows.Scan(&g.First, &g.Last, &g.Count, &ft, &lt, &g.Bytes, &g.SHA256, &g.Name, &g.Hot, &n); err != nil {
			return nil, nil, fmt.Errorf("sqlite: archive index: %w", err)
		}
		if g.FirstTime, err = parseTime(ft); err != nil {
			return nil, nil, err
		}
		if g.LastTime, err = parseTime(lt); err != nil {
			return nil, nil, err
		}
		segs, hot = append(segs, g), append(hot, n)
	}
	return segs, hot, s.fault(rows.Err())
}

// HotFrom is the version an instance's hot history begins at: 1 when
// none of it left, 0 when it has no hot event.
func (s *Store) HotFrom(ctx context.Context, aggregate, id string) (int64, error) {
	var v sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT MIN(version) FROM events WHERE aggregate = ? AND instance = ?`, aggregate, id).Scan(&v)
	if err != nil {
		return 0, s.fault(fmt.Errorf("sqlite: hot history of %s/%s: %w", aggregate, id, err))
	}
	return v.Int64, nil
}

// First is the position of an instance's first event in the log: where
// a scan for its events that left the hot store can begin. 0 when it is
// not known (no such instance, or one whose first event had left before
// the store recorded it).
func (s *Store) First(ctx context.Context, aggregate, id string) (int64, error) {
	var p sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT first FROM instances WHERE aggregate = ? AND instance = ?`, aggregate, id).Scan(&p)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, s.fault(fmt.Errorf("sqlite: first event of %s/%s: %w", aggregate, id, err))
	}
	return p.Int64, nil
}

// readWhole pages ReadAll over the hot store and the archive: a page of
// the hot log as far as it is contiguous from after+1; where after+1 has
// left the hot store, a page of the archive.
func (s *Store) readWhole(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		var all []store.Event
		for {
			page, err := s.readWhole(ctx, after, 1000)
			if err != nil || len(page) == 0 {
				return all, err
			}
			all = append(all, page...)
			after = page[len(page)-1].Position
		}
	}
	hot, err := s.readHotPage(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	var cold store.ReadPage
	if s.cold != nil {
		cold = s.cold.ReadAll
	}
	evs, _, err := archive.Whole(ctx, hot, after, limit, cold, "the hot store", "no archive is open to read them from (--archive DIR)")
	return evs, err
}

// ErrNotEmpty: Import was given a store that already holds events.
var ErrNotEmpty = errors.New("sqlite: the store is not empty")

// Import writes events read from an archive, with their positions, into
// an empty store (`cuesource archive restore`), in one transaction, and
// the instances at their last version with the given states (nil: none
// known, when the range starts after an instance's first event).
func (s *Store) Import(ctx context.Context, evs []store.Event, states map[[2]string]json.RawMessage) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrNotEmpty
		}
		ins := tx.StmtContext(ctx, s.ws.insertEvent)
		last := map[[2]string]int64{}
		first := map[[2]string]int64{} // of the instances whose version 1 is here
		for _, e := range evs {
			ts, err := formatTime(e.Time)
			if err != nil {
				return fmt.Errorf("sqlite: import event %d: %w", e.Position, err)
			}
			if _, err := ins.ExecContext(ctx, e.Position, e.ID, e.Aggregate, e.Instance, e.Version, e.Type, e.SchemaVersion,
				ts, e.CommandID, text(e.Payload), text(e.Meta)); err != nil {
				return fmt.Errorf("sqlite: import event %d: %w", e.Position, err)
			}
			last[[2]string{e.Aggregate, e.Instance}] = e.Version
			if e.Version == 1 {
				first[[2]string{e.Aggregate, e.Instance}] = e.Position
			}
		}
		up := tx.StmtContext(ctx, s.ws.upsertInstance)
		for k, v := range last {
			var at any // NULL: unknown
			if p, ok := first[k]; ok {
				at = p
			}
			if _, err := up.ExecContext(ctx, k[0], k[1], v, text(states[k]), at); err != nil {
				return fmt.Errorf("sqlite: import instance %s/%s: %w", k[0], k[1], err)
			}
		}
		return nil
	})
}
