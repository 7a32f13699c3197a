package edge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/store"
)

// A stream catching up writes its frames as they pass flushAt, so it
// never holds more than that and one frame, however many full pages it
// reads before it waits.
func TestStreamWritesAsItCatchesUp(t *testing.T) {
	var writes []int
	f := &frames{h: &host{perform: func(op Op) Result {
		if op.Kind != "write" {
			t.Fatalf("unexpected op %s", op.Kind)
		}
		writes = append(writes, len(op.Arg.(string)))
		return Result{OK: json.RawMessage("null")}
	}}}
	payload := json.RawMessage(`{"s":"` + strings.Repeat("x", 4000) + `"}`)
	for i := range 1000 { // a page of 4 MB
		e := store.Event{Position: int64(i + 1), ID: "e", Aggregate: "cart", Instance: "c1", Version: int64(i + 1), Type: "Added", Time: time.Unix(0, 0), CommandID: "c", Payload: payload}
		if err := f.Event(e); err != nil {
			t.Fatal(err)
		}
		if len(f.buf) >= flushAt {
			t.Fatalf("after %d events the stream holds %d bytes, over %d", i+1, len(f.buf), flushAt)
		}
	}
	if len(writes) < 4000*1000/flushAt-1 {
		t.Errorf("%d writes for 4 MB of frames, want one per %d bytes", len(writes), flushAt)
	}
}
