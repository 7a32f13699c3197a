package edge

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cuesource/cuesource/archive"

	"github.com/cuesource/cuesource/store/d1"
)

// D1's size while the log it held before its counter is being counted:
// a read counts up to hotCountSteps bounded steps first, then answers the
// size once counted reaches base, or fails while it does not.
func TestHotBytesCountsD1sLogInSteps(t *testing.T) {
	for _, c := range []struct {
		steps int   // counting steps the log needs
		want  int64 // the size; -1: an error
	}{{0, 500}, {3, 500}, {hotCountSteps, 500}, {hotCountSteps + 1, -1}} {
		counted, counts := 0, 0
		h := &host{perform: func(op Op) Result {
			switch op.Statement.SQL {
			case d1.ArchiveHotBytes:
				row := []any{500, counted, c.steps}
				b, _ := json.Marshal(map[string]any{"columns": []string{"bytes", "counted", "base"}, "rows": [][]any{row}})
				return Result{OK: b}
			case d1.ArchiveHotCount:
				counted++
				counts++
				return Result{OK: json.RawMessage(`{"columns": [], "rows": []}`)}
			}
			t.Fatalf("unexpected statement %s", op.Statement.SQL)
			return Result{}
		}}
		got, err := (&d1Hot{h: h}).HotBytes(context.Background())
		switch {
		case c.want < 0 && !errors.As(err, new(*archive.CountingError)):
			t.Errorf("%d steps to count: %d, %v; want an error saying so", c.steps, got, err)
		case c.want >= 0 && (err != nil || got != c.want):
			t.Errorf("%d steps to count: %d, %v; want %d", c.steps, got, err, c.want)
		}
		if counts > hotCountSteps {
			t.Errorf("%d steps to count: %d counting statements in one read, want at most %d", c.steps, counts, hotCountSteps)
		}
	}
}

// A counting step covers fewer positions where the events are large:
// about hotCountBytes a statement by the last one's measure (small ones:
// archive.HotLogStep, TestHotBytesCountsD1sLogInSteps).
func TestHotBytesCountsLargeEventsInSmallerSteps(t *testing.T) {
	var bytes int64
	var ns []float64
	h := &host{perform: func(op Op) Result {
		switch op.Statement.SQL {
		case d1.ArchiveHotBytes:
			b, _ := json.Marshal(map[string]any{"columns": []string{"bytes", "counted", "base"}, "rows": [][]any{{bytes, 0, 1 << 40}}})
			return Result{OK: b}
		case d1.ArchiveHotCount:
			n := op.Statement.Params[0].(int64)
			ns = append(ns, float64(n))
			bytes += n * (1 << 20) // events of 1 MiB
			return Result{OK: json.RawMessage(`{"columns": [], "rows": []}`)}
		}
		t.Fatalf("unexpected statement %s", op.Statement.SQL)
		return Result{}
	}}
	_, err := (&d1Hot{h: h}).HotBytes(context.Background())
	if !errors.As(err, new(*archive.CountingError)) {
		t.Fatalf("want a CountingError, got %v", err)
	}
	if len(ns) != hotCountSteps || ns[0] != hotCountFirst || ns[1] != 32 || ns[len(ns)-1] != 32 {
		t.Errorf("counting steps over %v positions, want %d steps: the first of %d, then of 32 (32 MiB of 1 MiB events)", ns, hotCountSteps, hotCountFirst)
	}
}
