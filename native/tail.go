package native

import (
	"slices"
	"sync"

	"github.com/cuesource/cuesource/store"
)

// Bounds of the tail: a reader further behind reads the store.
const (
	tailEvents = 4096
	tailBytes  = 16 << 20
)

// tail keeps the events this process committed last, as stored (with
// positions), so that live streams read new events from memory: after a
// commit every stream wakes, and without it each would query SQLite for
// the same few events, through the pool commands read through. With it a
// batch costs one write whatever the number of streams.
//
// The events are contiguous in position. Positions are MAX+1 within the
// writing transaction, so right after a commit the last one is the log's
// head; a commit of another process on the same database shows as a gap at
// this process's next commit, and the tail starts over there.
type tail struct {
	mu sync.RWMutex
	// evs[start:] are the events kept; those before start were dropped
	// and are cleared, and compacted away once they are as many as the
	// bound, so a commit costs the tail O(its events), not a copy of the
	// tail.
	evs   []store.Event
	start int
	bytes int
	head  int64 // the log's head as of this process's last commit; 0: unknown
}

// add records committed events, in position order.
func (t *tail) add(evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.evs); n > t.start && t.evs[n-1].Position+1 != evs[0].Position {
		clear(t.evs) // a gap: another writer
		t.evs, t.start, t.bytes = t.evs[:0], 0, 0
	}
	for _, e := range evs {
		t.evs = append(t.evs, e)
		t.bytes += size(e)
	}
	for len(t.evs)-t.start > tailEvents || t.bytes > tailBytes && t.start < len(t.evs)-1 {
		t.bytes -= size(t.evs[t.start])
		t.evs[t.start] = store.Event{} // free its payload now
		t.start++
	}
	if t.start >= tailEvents {
		t.evs = append(make([]store.Event, 0, 2*tailEvents), t.evs[t.start:]...)
		t.start = 0
	}
	t.head = t.evs[len(t.evs)-1].Position
}

func size(e store.Event) int { return len(e.Payload) + len(e.Meta) + 256 }

// read returns up to limit events after position `after` when the tail
// holds all of them up to its end; ok is false when it cannot answer
// (after is before the tail, or at or past its end).
func (t *tail) read(after int64, limit int) (evs []store.Event, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	kept := t.evs[t.start:]
	n := len(kept)
	if n == 0 || limit <= 0 || after < kept[0].Position-1 || after >= kept[n-1].Position {
		return nil, false
	}
	i := int(after - kept[0].Position + 1)
	j := i + len(store.Page(kept[i:min(i+limit, n)]))
	return slices.Clone(kept[i:j]), true
}

// known returns the log's head as of this process's last commit, and
// whether there was one.
func (t *tail) known() (int64, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.head, t.head > 0
}
