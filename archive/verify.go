//go:build !js

package archive

import (
	"context"
	"fmt"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Segment string `json:"segment,omitempty"` // the file name
	First   int64  `json:"first,omitempty"`
	Last    int64  `json:"last,omitempty"`
	Problem string `json:"problem"`
	// Leftover: a file no index entry names (a step repeated after a
	// crash leaves one); harmless, never read.
	Leftover bool `json:"leftover,omitempty"`
}

func (p Problem) String() string {
	if p.Leftover {
		return fmt.Sprintf("%s: %s", p.Segment, p.Problem)
	}
	return fmt.Sprintf("segment %d-%d (%s): %s", p.First, p.Last, p.Segment, p.Problem)
}

// Counter is the optional ability of an Index to count, in the same
// read as its entries (so a prune running beside it cannot come
// between), how many of each segment's events the hot store holds.
type Counter interface {
	SegmentsCounted(ctx context.Context) (segs []Segment, hot []int64, err error)
}

// Verify re-reads every segment the index names, checking it against its
// entry (size, checksum, count, positions, times) and the index itself
// (segments contiguous from position 1; with a [Counter], each entry's
// hot count against the hot store). It returns the segments checked and
// what is wrong.
func Verify(ctx context.Context, t Target, idx Index) (int, []Problem, error) {
	var segs []Segment
	var hot []int64
	var err error
	if c, ok := idx.(Counter); ok {
		segs, hot, err = c.SegmentsCounted(ctx)
	} else {
		segs, err = idx.Segments(ctx)
	}
	if err != nil {
		return 0, nil, err
	}
	var out []Problem
	named := map[string]bool{}
	r := NewReader(t, idx)
	next := int64(1)
	for i, s := range segs {
		named[s.Name] = true
		bad := func(format string, args ...any) {
			out = append(out, Problem{Segment: s.Name, First: s.First, Last: s.Last, Problem: fmt.Sprintf(format, args...)})
		}
		if s.First != next {
			bad("starts at position %d, want %d (the index has a gap or an overlap)", s.First, next)
		}
		next = s.Last + 1
		if s.Name != Name(s.First, s.Last) {
			bad("named %s, want %s", s.Name, Name(s.First, s.Last))
		}
		evs, err := r.Segment(ctx, s)
		if se, ok := err.(*SegmentError); ok {
			bad("%s", se.Reason)
			continue
		} else if err != nil {
			return len(segs), out, err
		}
		first, last := evs[0].Time, evs[0].Time
		for _, e := range evs {
			first, last = minTime(first, e.Time), maxTime(last, e.Time)
		}
		if !first.Equal(s.FirstTime) || !last.Equal(s.LastTime) {
			bad("times %s..%s, the index says %s..%s", first, last, s.FirstTime, s.LastTime)
		}
		if hot != nil && hot[i] != s.Hot {
			bad("the hot store holds %d of its events, the index says %d", hot[i], s.Hot)
		}
	}
	files, err := t.List(ctx)
	if err != nil {
		return len(segs), out, err
	}
	for _, f := range files {
		if !named[f] {
			out = append(out, Problem{Segment: f, Problem: "not in the index (left by an interrupted step; never read)", Leftover: true})
		}
	}
	return len(segs), out, nil
}
