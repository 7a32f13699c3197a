package archive

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
