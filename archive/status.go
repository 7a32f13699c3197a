package archive

import (
	"context"
	"time"

	"github.com/cuesource/cuesource/retention"
)

// MaxStatusSegments bounds the segments a Status lists (the newest).
const MaxStatusSegments = 100

// Status is the hot store against its budget, the archive, and what each
// policy would let go next: GET /admin/storage and `cuesource storage
// status`.
type Status struct {
	// HotBytes is the hot log's size as the budget counts it; Budget the
	// declared hotBytes (0: none).
	HotBytes int64 `json:"hotBytes"`
	Budget   int64 `json:"budget,omitempty"`
	// Head is the log's last position; Archived the last archived one.
	Head     int64 `json:"head"`
	Archived int64 `json:"archived"`
	// Target is where segments go ("" when no archive is configured:
	// nothing leaves the hot store).
	Target string `json:"target,omitempty"`
	// SegmentCount, ArchivedBytes and the date range cover every segment;
	// Segments lists the newest MaxStatusSegments.
	SegmentCount  int        `json:"segmentCount"`
	ArchivedBytes int64      `json:"archivedBytes"`
	From          *time.Time `json:"from,omitempty"`
	To            *time.Time `json:"to,omitempty"`
	Segments      []Segment  `json:"segments"`
	// Next: per policy, what the oldest window of the hot log would let
	// go now (archived first where it is not yet).
	Next []Plan `json:"next"`
	// Counting, while the store still counts the log it held when its
	// size counter was made (D1): HotBytes is not its size yet, and no
	// budget is judged (Budget is left out).
	Counting *CountingError `json:"counting,omitempty"`
}

// StatusOf reports hot's storage. target may be nil.
func StatusOf(ctx context.Context, hot Hot, target Target, ps retention.Policies, snap Snapshots, now time.Time) (Status, error) {
	g, err := hot.Guards(ctx)
	if err != nil {
		return Status{}, err
	}
	bytes, ps, counting, err := sized(ctx, hot, ps)
	if err != nil {
		return Status{}, err
	}
	st := Status{HotBytes: bytes, Budget: ps.HotBytes, Head: g.Head, Archived: g.Archived, Segments: []Segment{}, Next: []Plan{}, Counting: counting}
	if target != nil {
		st.Target = target.String()
	}
	tot, err := hot.Totals(ctx, MaxStatusSegments)
	if err != nil {
		return Status{}, err
	}
	st.SegmentCount, st.ArchivedBytes, st.From, st.To = tot.Count, tot.Bytes, tot.From, tot.To
	st.Segments = append(st.Segments, tot.Newest...)
	next, err := Next(ctx, hot, g, bytes, ps, snap, 1000, now)
	if err != nil {
		return Status{}, err
	}
	if next != nil {
		st.Next = next
	}
	return st, nil
}
