//go:build unix

package workerd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// testSwitch POSTs (or GETs, without a body) a test switch, which Go's
// serve script answers (CUESOURCE_TEST_FAULTS=1), and decodes its JSON
// answer.
func testSwitch(t tb, c *client, method, path, body string) map[string]any {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r, err := c.Request(method, path, b, "Content-Type", "application/json")
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var out map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("%s %s: %v: not JSON: %v", method, path, r, err)
	}
	if r.Status != http.StatusOK {
		t.Errorf("%s %s: %v", method, path, r)
	}
	return out
}

// TestPanicLeavesOthersWorking provokes a Go panic inside an object's
// script (the engine recovers it and the script fails) and then the end
// of the isolate's Go runtime (a goroutine's panic nothing recovers): in
// both cases the Worker keeps serving every instance, the second time on
// a new Go runtime.
func TestPanicLeavesOthersWorking(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "")
	c := newClient(w.url)
	defer c.Close()

	c.command(t, 201, "cart", "other", "Open", `{"customer":"oz"}`)

	// A recovered panic: the script reports an error, and the runtime
	// lives on to answer it.
	out := testSwitch(t, c, http.MethodPost, "/__test/panic/cart/x", "")
	if msg, _ := out["error"].(string); !strings.Contains(msg, "panic") {
		t.Errorf("POST /__test/panic/cart/x: %v, want an error naming the panic", out)
	}
	c.command(t, 201, "cart", "x", "Open", `{"customer":"xi"}`)
	c.command(t, 200, "cart", "x", "AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`)
	c.command(t, 200, "cart", "other", "AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`)
	c.command(t, 201, "cart", "p1", "Open", `{"customer":"pia"}`)
	rt := testSwitch(t, c, http.MethodGet, "/__test/runtime", "")
	if n, _ := rt["restarts"].(float64); n != 0 {
		t.Errorf("GET /__test/runtime after a recovered panic: %v, want no restart", rt)
	}

	// A fatal one: the isolate's Go runtime ends, the one of the request
	// too (the Worker and its objects share the isolate here), which the
	// shell fails.
	if r, err := c.Request(http.MethodPost, "/__test/crash/cart/y", nil); err != nil || r.Status != http.StatusInternalServerError {
		t.Errorf("POST /__test/crash/cart/y: %v %v, want 500 (its Go runtime ended)", r, err)
	}
	start := time.Now()
	c.command(t, 200, "cart", "other", "AddItem", `{"sku":"MUG-02","qty":1,"price":12}`)
	t.Logf("first command after the crash (on a new Go runtime) answered in %v", time.Since(start).Round(time.Millisecond))
	c.command(t, 201, "cart", "y", "Open", `{"customer":"yan"}`)
	c.command(t, 200, "cart", "x", "AddItem", `{"sku":"MUG-02","qty":1,"price":12}`)
	c.command(t, 201, "cart", "p2", "Open", `{"customer":"pat"}`)
	c.command(t, 201, "order", "o1", "Place", `{"cart":"x","total":10}`)
	rt = testSwitch(t, c, http.MethodGet, "/__test/runtime", "")
	if n, _ := rt["restarts"].(float64); n < 1 {
		t.Errorf("GET /__test/runtime after the crash: %v, want restarts >= 1", rt)
	}
	t.Logf("runtime after the crash: %v", rt)

	// Nothing was lost or doubled: versions and the log.
	for _, k := range []struct {
		id      string
		version int64
	}{{"other", 3}, {"x", 3}, {"y", 1}, {"p1", 1}, {"p2", 1}} {
		if v := c.instance(t, "cart", k.id).Version; v != k.version {
			t.Errorf("cart %s is at version %d, want %d", k.id, v, k.version)
		}
		if drifted, rerr, _ := c.rehydrate(t, "cart", k.id); drifted || rerr != "" {
			t.Errorf("cart %s: rehydrate: drifted %v, error %q", k.id, drifted, rerr)
		}
	}
	log := c.waitLog(t, 10, 30*time.Second)
	checkLog(t, log)
	if len(log) != 10 {
		t.Errorf("the log has %d events, want 10", len(log))
	}
}

// TestForwardingSurvivesD1Failure makes D1 fail while commands run: they
// still succeed (the object commits; forwarding fails and its alarm
// retries with backoff), and once D1 is back every event reaches the
// global log exactly once, in each instance's order, with gap-free
// positions.
func TestForwardingSurvivesD1Failure(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "")
	c := newClient(w.url)
	defer c.Close()

	// Something in the log before the failure.
	c.command(t, 201, "cart", "before", "Open", `{"customer":"bea"}`)
	c.waitLog(t, 1, 30*time.Second)

	if out := testSwitch(t, c, http.MethodPost, "/__test/faults", `{"d1":true}`); out["d1"] != true {
		t.Fatalf("POST /__test/faults {\"d1\":true}: %v", out)
	}
	var acked []decision
	cmd := func(want int, agg, id, name, body string) {
		acked = append(acked, c.command(t, want, agg, id, name, body))
	}
	// Carts have an inline projection (the answer waits for the
	// forwarding, which fails); orders forward in the background.
	cmd(201, "cart", "f1", "Open", `{"customer":"fay"}`)
	cmd(200, "cart", "f1", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`)
	cmd(201, "order", "f3", "Place", `{"cart":"f1","total":30}`)
	cmd(201, "cart", "f2", "Open", `{"customer":"fox"}`)
	cmd(200, "cart", "f1", "AddItem", `{"sku":"MUG-02","qty":1,"price":12}`)
	cmd(200, "order", "f3", "Pay", `{"amount":10}`)
	cmd(200, "cart", "before", "AddItem", `{"sku":"PEN-01","qty":3,"price":2}`)
	cmd(200, "order", "f3", "Pay", `{"amount":20}`) // PaymentReceived and OrderPaid
	want := 1
	for _, d := range acked {
		want += len(d.Events)
	}
	if v := c.instance(t, "cart", "f1").Version; v != 3 {
		t.Errorf("cart f1 is at version %d while D1 fails, want 3", v)
	}

	// The log lives in D1: reading it fails now, or shows none of the new
	// events.
	if evs, r, err := c.readLog(); err != nil {
		t.Errorf("GET /events while D1 fails: %v", err)
	} else if r == nil {
		if len(evs) != 1 {
			t.Errorf("GET /events while D1 fails answers 200 with %d events, want the one from before", len(evs))
		}
	} else if r.Status != http.StatusInternalServerError {
		t.Errorf("GET /events while D1 fails: %v, want 500", *r)
	}

	// Let the alarms fail a few times (first retry 2s after the commit,
	// then 0.5s doubling).
	if !e2etest.Until(15*time.Second, 100*time.Millisecond, func() bool { return strings.Contains(w.log(), "retry in") }) {
		t.Errorf("no forwarding retry was logged within 15s while D1 failed")
	}
	// Not a wait for an event: a second more of failing alarms (two or
	// three retries at 0.5s doubling) is the fault being tested.
	time.Sleep(time.Second)

	if out := testSwitch(t, c, http.MethodPost, "/__test/faults", `{"d1":false}`); out["d1"] != false {
		t.Fatalf("POST /__test/faults {\"d1\":false}: %v", out)
	}
	start := time.Now()
	log := c.waitLog(t, want, 30*time.Second)
	t.Logf("the log caught up %v after D1 came back (%d events)", time.Since(start).Round(time.Millisecond), len(log))
	// Settle: nothing more arrives (no event forwarded twice). A duplicate
	// would come from a forwarding alarm still set: retries back off 0.5s
	// doubling, and D1 failed for about a second after the first retry, so
	// no object had a retry more than 2s away; 2.5s outlasts it.
	time.Sleep(2500 * time.Millisecond)
	log = c.mustLog(t)
	checkLog(t, log)
	if len(log) != want {
		t.Errorf("the log has %d events, want %d", len(log), want)
	}
	inLog := map[string]logEvent{}
	for _, ev := range log {
		inLog[ev.ID] = ev
	}
	for _, d := range acked {
		for _, a := range d.Events {
			ev, ok := inLog[a.ID]
			if !ok {
				t.Errorf("acknowledged event %s (v%d %s) is not in the log", a.ID, a.Version, a.Type)
				continue
			}
			if ev.Version != a.Version || ev.Type != a.Type || !e2etest.SameJSON(ev.Payload, a.Payload) {
				t.Errorf("event %s is v%d %s %s in the log, acknowledged as v%d %s %s", a.ID, ev.Version, ev.Type, ev.Payload, a.Version, a.Type, a.Payload)
			}
		}
	}
	// Each object knows its events' positions now.
	for _, k := range []instanceKey{{"cart", "f1"}, {"cart", "f2"}, {"cart", "before"}, {"order", "f3"}} {
		for _, ev := range c.instanceEvents(t, k.agg, k.id) {
			if l, ok := inLog[ev.ID]; !ok || l.Position != ev.Position {
				t.Errorf("%s %s: event %s v%d has position %d, the log %d", k.agg, k.id, ev.ID, ev.Version, ev.Position, l.Position)
			}
		}
	}
	// The projections caught up too, the inline one included, with every
	// row as the log makes it: cart f1 has its two lines.
	e2etest.WaitFor(t, 20*time.Second, "the projections at the head of the log", func() bool {
		var st struct {
			Projections []projectionState `json:"projections"`
		}
		if r, err := c.GetJSON("/projections", &st); err != nil || r.Status != 200 {
			return false
		}
		for _, p := range st.Projections {
			if p.State != "running" || p.Lag != 0 || p.Head != int64(want) {
				return false
			}
		}
		return len(st.Projections) == 2
	})
	var q struct {
		Rows []map[string]any `json:"rows"`
	}
	if r, err := c.GetJSON("/queries/open_carts", &q); err != nil || r.Status != 200 {
		t.Fatalf("open_carts: %v %v", r, err)
	}
	due := map[string]any{}
	for _, row := range q.Rows {
		due[fmt.Sprint(row["cart"])] = row["due"]
	}
	if fmt.Sprint(due["f1"]) != "21" || fmt.Sprint(due["f2"]) != "0" || fmt.Sprint(due["before"]) != "6" {
		t.Errorf("open carts after D1 came back: %v, want f1 21, f2 0, before 6", q.Rows)
	}
}
