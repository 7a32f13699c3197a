package archive

import (
	"context"
	"errors"
	"sort"
)

// Entry is an index entry as GET /admin/archive/segments serves it: the
// segment (its Hot is what the index says) and Counted, how many of its
// events the hot store holds, counted in the same read ([Counter]'s).
type Entry struct {
	Segment
	Counted int64 `json:"counted"`
}

// Pager is the ability of an Index to be read a page at a time, with the
// hot store's counts: the entries holding positions above after (last >
// after), in position order, at most n, each counted as [Counter] does.
type Pager interface {
	SegmentsAfter(ctx context.Context, after int64, n int) ([]Entry, error)
}

// Sizer is the optional ability of a Target to tell an object's size
// without reading it (an error wrapping ErrNotFound when it has none), so
// that one over a bound costs no memory.
type Sizer interface {
	Size(ctx context.Context, name string) (int64, error)
}

// ListerAfter is the optional ability of a Target to list a page of its
// names: up to n after `after`, in name order, without the ones before.
type ListerAfter interface {
	ListAfter(ctx context.Context, after string, n int) ([]string, error)
}

// Served is an archive as a runtime serves it to its admin (api.Archive,
// GET /admin/archive/...): its index a page at a time and its target's
// objects as stored, which `cuesource archive verify|restore --url`
// check and read with [Verify] and [Reader], so that no request of the
// server checks gigabytes itself.
type Served struct {
	Target Target
	Index  Pager
}

// Segments returns a page of the index ([]Entry) and the last position
// of its last entry (after when the page is empty): the next page's
// after.
func (s Served) Segments(ctx context.Context, after int64, n int) (any, int64, error) {
	es, err := s.Index.SegmentsAfter(ctx, after, n)
	if err != nil {
		return nil, after, err
	}
	if es == nil {
		es = []Entry{}
	}
	next := after
	if len(es) > 0 {
		next = es[len(es)-1].Last
	}
	return es, next, nil
}

// Object returns the object called name and its size: size -1 when the
// target has none (nor any by a name not a segment's, which could point
// out of a directory), data nil when size is over max (read first only
// where the target cannot tell its size, a Sizer: every target here can).
func (s Served) Object(ctx context.Context, name string, max int64) ([]byte, int64, error) {
	if !IsName(name) {
		return nil, -1, nil
	}
	if sz, ok := s.Target.(Sizer); ok {
		n, err := sz.Size(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return nil, -1, nil
		}
		if err != nil || n > max {
			return nil, n, err
		}
	}
	data, err := s.Target.Get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, -1, nil
	}
	if err != nil || int64(len(data)) > max {
		return nil, int64(len(data)), err
	}
	if data == nil {
		data = []byte{}
	}
	return data, int64(len(data)), nil
}

// Objects returns up to n names the target holds after `after`, in name
// order.
func (s Served) Objects(ctx context.Context, after string, n int) ([]string, error) {
	if l, ok := s.Target.(ListerAfter); ok {
		return l.ListAfter(ctx, after, n)
	}
	names, err := s.Target.List(ctx)
	if err != nil {
		return nil, err
	}
	names = names[sort.SearchStrings(names, after+"\x00"):]
	return names[:min(n, len(names))], nil
}

// IsName says whether name is a segment's (Name): 20 digits, '-', 20
// digits, ".ndjson.gz".
func IsName(name string) bool {
	if len(name) != 51 || name[20] != '-' || name[41:] != ".ndjson.gz" {
		return false
	}
	for i := range 41 {
		if i != 20 && (name[i] < '0' || name[i] > '9') {
			return false
		}
	}
	return true
}
