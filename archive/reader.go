package archive

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cuesource/cuesource/store"
)

// IndexTable is the segment index as every hot store keeps it (SQLite
// natively, D1 on Workers): one row per segment, with how many of its
// events are still hot.
const IndexTable = `CREATE TABLE IF NOT EXISTS archive_segments (
	first      INTEGER PRIMARY KEY,
	last       INTEGER NOT NULL,
	count      INTEGER NOT NULL,
	first_time TEXT    NOT NULL,
	last_time  TEXT    NOT NULL,
	bytes      INTEGER NOT NULL,
	sha256     TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	hot        INTEGER NOT NULL,
	created    TEXT    NOT NULL
) STRICT`

// IndexColumns are the index's columns a store reads a Segment from, in
// its fields' order.
const IndexColumns = `first, last, count, first_time, last_time, bytes, sha256, name, hot`

// IndexPage (after, n) reads a page of the index for GET
// /admin/archive/segments: IndexColumns and how many of each segment's
// events the hot store holds, from the entry holding after+1 (found by
// the primary key, so a page costs its length, not its place in the
// index), at most n.
const IndexPage = `SELECT ` + IndexColumns + `, (SELECT COUNT(*) FROM events WHERE position BETWEEN archive_segments.first AND archive_segments.last)
FROM archive_segments WHERE first >= COALESCE((SELECT first FROM archive_segments WHERE first <= ?1 + 1 ORDER BY first DESC LIMIT 1), 0) AND last > ?1
ORDER BY first LIMIT ?2`

// IndexTotals reads the index's segment count, their compressed bytes,
// the first segment's first time and the last one's last time (NULL
// when there is none): GET /admin/storage without reading every entry.
const IndexTotals = `SELECT COUNT(*), COALESCE(SUM(bytes), 0),
	(SELECT first_time FROM archive_segments ORDER BY first LIMIT 1),
	(SELECT last_time FROM archive_segments ORDER BY first DESC LIMIT 1)
FROM archive_segments`

// IndexNewest (n) reads IndexColumns of the newest n segments, newest
// first.
const IndexNewest = `SELECT ` + IndexColumns + ` FROM archive_segments ORDER BY first DESC LIMIT ?1`

// Totals is what IndexTotals and IndexNewest read: the index summed, and
// its newest entries in position order.
type Totals struct {
	Count    int
	Bytes    int64
	From, To *time.Time
	Newest   []Segment
}

// Index is the segment index the hot store keeps.
type Index interface {
	// Segments lists every segment, in position order.
	Segments(ctx context.Context) ([]Segment, error)
	// SegmentAt returns the segment holding position pos, ok=false if
	// none does.
	SegmentAt(ctx context.Context, pos int64) (s Segment, ok bool, err error)
}

// Reader reads the archived log through an index. Safe for concurrent
// use; it keeps the last segment it decoded, since readers go through
// the log in order.
type Reader struct {
	Target Target
	Index  Index
	Codec  Codec

	mu   sync.Mutex
	last Segment
	evs  []store.Event
}

// ReadAll returns up to limit archived events with positions above after
// (a page as store.Page cuts it; limit <= 0: to the end of the archive),
// reading the segments that hold them. It returns none when the archive
// holds no event after `after`. A missing or damaged segment is a
// *SegmentError, and nothing of it is returned.
func (r *Reader) ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	var out []store.Event
	var bytes int
	for limit <= 0 || len(out) < limit {
		seg, ok, err := r.Index.SegmentAt(ctx, after+1)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		evs, err := r.Segment(ctx, seg)
		if err != nil {
			return nil, err
		}
		for _, e := range evs[after+1-seg.First:] {
			if (limit > 0 && len(out) >= limit) || (limit > 0 && bytes >= store.PageBytes) {
				return out, nil
			}
			out = append(out, e)
			bytes += len(e.Payload)
			after = e.Position
		}
	}
	return out, nil
}

// Segment returns a segment's events, checked against its index entry.
// The slice is shared: callers must not change it.
func (r *Reader) Segment(ctx context.Context, s Segment) ([]store.Event, error) {
	r.mu.Lock()
	if r.evs != nil && r.last.Name == s.Name && r.last.SHA256 == s.SHA256 {
		evs := r.evs
		r.mu.Unlock()
		return evs, nil
	}
	r.mu.Unlock()
	data, err := r.Target.Get(ctx, s.Name)
	if errors.Is(err, ErrNotFound) {
		return nil, &SegmentError{Segment: s, Reason: "missing from " + r.Target.String()}
	}
	if err != nil {
		return nil, &SegmentError{Segment: s, Reason: fmt.Sprintf("unreadable: %v", err)}
	}
	evs, err := decodeWith(ctx, r.Codec, s, data)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last, r.evs = s, evs
	r.mu.Unlock()
	return evs, nil
}

// Whole is a page of the whole log after `after`, from a page of the hot
// store read there (hot): the hot page as far as it runs on from after+1;
// where after+1 has left the hot store, a page of the archive read by
// cold (nil: no archive open, which noCold says how to open). The head
// stays hot, so no hot event after `after` means the log has none.
// Positions are gap-free: one neither hot nor archived was lost (an index
// row or segment removed by hand), an ErrArchiveUnreadable naming it.
// hotName names the hot store in errors.
func Whole(ctx context.Context, hot []store.Event, after int64, limit int, cold store.ReadPage, hotName, noCold string) (evs []store.Event, fromHot bool, err error) {
	i := 0
	for i < len(hot) && hot[i].Position == after+1+int64(i) {
		i++
	}
	if i > 0 || len(hot) == 0 {
		return hot[:i], true, nil
	}
	if cold == nil {
		return nil, false, fmt.Errorf("%w: positions %d-%d have left %s and %s", store.ErrArchiveUnreadable, after+1, hot[0].Position-1, hotName, noCold)
	}
	if evs, err = cold(ctx, after, limit); err != nil || len(evs) > 0 {
		return evs, false, err
	}
	return nil, false, fmt.Errorf("%w: positions %d-%d are neither in %s nor in the archive's index", store.ErrArchiveUnreadable, after+1, hot[0].Position-1, hotName)
}
