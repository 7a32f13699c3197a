//go:build unix

package workerd

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// snapshot is what the API shows of one instance.
type snapshot struct {
	inst   instanceBody
	events []logEvent
}

func snapshotOf(t tb, c *client, agg, id string) snapshot {
	t.Helper()
	return snapshot{c.instance(t, agg, id), c.instanceEvents(t, agg, id)}
}

// sameSnapshot reports how two snapshots of an instance differ ("" if
// they do not). Positions are compared only where both have one.
func sameSnapshot(a, b snapshot) string {
	if a.inst.Version != b.inst.Version || !e2etest.SameJSON(a.inst.State, b.inst.State) {
		return fmt.Sprintf("version %d state %s, was version %d state %s", b.inst.Version, b.inst.State, a.inst.Version, a.inst.State)
	}
	if len(a.events) != len(b.events) {
		return fmt.Sprintf("%d events, was %d", len(b.events), len(a.events))
	}
	for i := range a.events {
		x, y := a.events[i], b.events[i]
		if x.ID != y.ID || x.Version != y.Version || x.Type != y.Type || !x.Time.Equal(y.Time) || !e2etest.SameJSON(x.Payload, y.Payload) ||
			(x.Position != 0 && y.Position != 0 && x.Position != y.Position) {
			return fmt.Sprintf("event %d is %+v, was %+v", i, y, x)
		}
	}
	return ""
}

type instanceKey struct{ agg, id string }

// TestRestartKeepsState stops the harness and starts it again on the same
// persisted state: instances (state, version, events), the global log and
// idempotency records are all there, commands continue at the next
// version, and events committed while D1 was failing reach the log after
// the restart.
func TestRestartKeepsState(t *testing.T) {
	needWorkerd(t)
	dir := buildWorker(t, "contexts/example.cue")
	persist := filepath.Join(t.TempDir(), "state")
	w := startWorker(t, dir, persist)
	c := newClient(w.url)

	c.command(t, 201, "cart", "a", "Open", `{"customer":"ada"}`)
	c.command(t, 200, "cart", "a", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`)
	c.command(t, 200, "cart", "a", "AddItem", `{"sku":"MUG-02","qty":1,"price":12}`)
	c.command(t, 201, "cart", "b", "Open", `{"customer":"bob"}`)
	c.command(t, 200, "cart", "b", "ApplyCoupon", `{"code":"NOPE1"}`)
	c.command(t, 201, "order", "o1", "Place", `{"cart":"a","total":100}`)
	c.command(t, 200, "order", "o1", "Pay", `{"amount":100}`)
	// An idempotent command, to replay after the restart.
	first, err := c.Post("/cart/c/Open", "k-restart", []byte(`{"customer":"cy"}`))
	if err != nil || first.Status != http.StatusCreated {
		t.Fatalf("cart c Open with a key: %v %v", first, err)
	}
	instances := []instanceKey{{"cart", "a"}, {"cart", "b"}, {"cart", "c"}, {"order", "o1"}}
	// 3 + 2 + 1 + 1 + 2 (PaymentReceived, OrderPaid) events.
	const forwarded = 9
	log := c.waitLog(t, forwarded, 30*time.Second)
	checkLog(t, log)
	before := map[instanceKey]snapshot{}
	for _, k := range instances {
		before[k] = snapshotOf(t, c, k.agg, k.id)
	}

	// Two commands commit while D1 fails: their events are in the object,
	// not in the log, when the harness stops.
	if r, err := c.Request(http.MethodPost, "/__test/faults", []byte(`{"d1":true}`)); err != nil || r.Status != http.StatusOK {
		t.Fatalf("POST /__test/faults: %v %v", r, err)
	}
	c.command(t, 201, "cart", "late", "Open", `{"customer":"lee"}`)
	c.command(t, 200, "cart", "late", "AddItem", `{"sku":"PEN-01","qty":1,"price":2}`)
	lateBefore := snapshotOf(t, c, "cart", "late")
	c.Close()

	stopStart := time.Now()
	if code := w.stop(20 * time.Second); code != 0 {
		t.Errorf("the harness exited %d after its stdin closed, want 0:\n%s", code, w.logTail(20))
	}
	t.Logf("stopped in %v", time.Since(stopStart).Round(time.Millisecond))

	w = startWorker(t, dir, persist)
	c = newClient(w.url)
	defer c.Close()

	for _, k := range instances {
		if diff := sameSnapshot(before[k], snapshotOf(t, c, k.agg, k.id)); diff != "" {
			t.Errorf("%s %s after the restart: %s", k.agg, k.id, diff)
		}
	}
	if diff := sameSnapshot(lateBefore, snapshotOf(t, c, "cart", "late")); diff != "" {
		t.Errorf("cart late (committed while D1 failed) after the restart: %s", diff)
	}
	again, err := c.Post("/cart/c/Open", "k-restart", []byte(`{"customer":"cy"}`))
	if err != nil || again.Status != first.Status || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replaying cart c Open after the restart: %v (Idempotent-Replayed %q), first answer %v", again, again.Header.Get("Idempotent-Replayed"), first)
	}

	// The log: what was forwarded is there as it was, and the alarm set at
	// commit forwards the late events (bounded wait).
	after := c.waitLog(t, forwarded+2, 30*time.Second)
	checkLog(t, after)
	if len(after) != forwarded+2 {
		t.Errorf("the log has %d events after the restart, want %d", len(after), forwarded+2)
	}
	for i, ev := range log {
		if i < len(after) && (after[i].ID != ev.ID || after[i].Position != ev.Position) {
			t.Errorf("log position %d is event %s after the restart, was %s", ev.Position, after[i].ID, ev.ID)
		}
	}
	for i, ev := range lateBefore.events {
		if j := forwarded + i; j < len(after) && after[j].ID != ev.ID {
			t.Errorf("log position %d is %s %s v%d, want cart late's event %s v%d", j+1, after[j].Aggregate, after[j].Instance, after[j].Version, ev.ID, ev.Version)
		}
	}

	// New commands continue at the next version.
	if d := c.command(t, 200, "cart", "a", "AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`); d.Version != before[instanceKey{"cart", "a"}].inst.Version+1 {
		t.Errorf("cart a: a command after the restart is at version %d, want %d", d.Version, before[instanceKey{"cart", "a"}].inst.Version+1)
	}
	if d := c.command(t, 200, "cart", "late", "AddItem", `{"sku":"PEN-01","qty":1,"price":2}`); d.Version != 3 {
		t.Errorf("cart late: a command after the restart is at version %d, want 3", d.Version)
	}
	c.command(t, 201, "cart", "new", "Open", `{"customer":"nia"}`)
	final := c.waitLog(t, forwarded+5, 30*time.Second)
	checkLog(t, final)
	for _, k := range append(instances, instanceKey{"cart", "late"}, instanceKey{"cart", "new"}) {
		if drifted, rerr, v := c.rehydrate(t, k.agg, k.id); drifted || rerr != "" || v == 0 {
			t.Errorf("%s %s: rehydrate after the restart: drifted %v, error %q, version %d", k.agg, k.id, drifted, rerr, v)
		}
	}
}
