package workerd

import (
	"testing"
	"time"
)

// TestEventTimePrecision: an event's time has milliseconds on both
// runtimes (a Worker's clock is JavaScript's), in a command's answer, the
// instance's events and the global log alike.
func TestEventTimePrecision(t *testing.T) {
	needWorkerd(t)
	ctx := "contexts/example.cue"
	srv := startServer(t, contextPath(ctx), t.TempDir())
	w := startWorker(t, buildWorker(t, ctx), "")
	for _, rt := range []struct {
		name string
		c    *client
	}{{"native", newClient(srv.url)}, {"worker", newClient(w.url)}} {
		t.Run(rt.name, func(t *testing.T) {
			c := rt.c
			defer c.Close()
			d := c.command(t, 201, "cart", "t1", "Open", `{"customer":"ada"}`)
			if len(d.Events) != 1 {
				t.Fatalf("Open answered %d events", len(d.Events))
			}
			at := d.Events[0].Time
			if !at.Equal(at.Truncate(time.Millisecond)) {
				t.Errorf("the answer's event time %s is finer than milliseconds", at.Format(time.RFC3339Nano))
			}
			if evs := c.instanceEvents(t, "cart", "t1"); len(evs) != 1 || !evs[0].Time.Equal(at) {
				t.Errorf("the instance's events %+v, want one at %s", evs, at.Format(time.RFC3339Nano))
			}
			if log := c.waitLog(t, 1, 20*time.Second); len(log) != 1 || !log[0].Time.Equal(at) {
				t.Errorf("the log %+v, want one event at %s", log, at.Format(time.RFC3339Nano))
			}
		})
	}
}
