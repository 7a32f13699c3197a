package store_test

import (
	"context"
	"testing"

	"github.com/cuesource/cuesource/store"
)

// ScanInstance reads from start, keeps the instance's versions after
// `after`, and reads no page past the one that holds version upto, nor
// past end.
func TestScanInstance(t *testing.T) {
	// The log: positions 1..5000, instance a at every tenth position.
	var reads []int64
	read := func(_ context.Context, after int64, limit int) ([]store.Event, error) {
		reads = append(reads, after)
		var page []store.Event
		for p := after + 1; p <= min(after+int64(limit), 5000); p++ {
			e := store.Event{Position: p, Aggregate: "cart", Instance: "b"}
			if p%10 == 0 {
				e.Instance, e.Version = "a", p/10
			}
			page = append(page, e)
		}
		return page, nil
	}
	evs, err := store.ScanInstance(t.Context(), read, "cart", "a", 999, 0, 100, 150)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 50 || evs[0].Version != 101 || evs[49].Version != 150 {
		t.Errorf("versions 101..150 read as %d events, from %v", len(evs), evs)
	}
	if len(reads) != 1 || reads[0] != 999 {
		t.Errorf("pages read after %v, want one, after 999: version 150 is at 1500", reads)
	}

	reads = nil
	evs, _ = store.ScanInstance(t.Context(), read, "cart", "a", 0, 2005, 0, 1000)
	if len(evs) != 200 || len(reads) != 3 {
		t.Errorf("up to position 2005: %d events in %d pages, want 200 in 3", len(evs), len(reads))
	}
}
