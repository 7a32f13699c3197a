//go:build unix

package workerd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// pair sends the same requests to the native server and to the Worker
// and compares their answers.
type pair struct {
	native, worker *client
}

// comparedHeaders are the response headers both runtimes must agree on.
var comparedHeaders = []string{"Content-Type", "ETag", "Location", "Idempotent-Replayed", "Allow", "WWW-Authenticate"}

// volatile are the keys a normalised body drops: event and command ids
// (a correlation or causation id is one),
// times, and derived ids, which differ between two runs. Inside user data
// (states and payloads) nothing is dropped.
var volatile = map[string]bool{"id": true, "time": true, "commandId": true, "eventId": true, "correlationId": true, "causationId": true}

var userData = map[string]bool{"state": true, "payload": true, "stored": true, "rebuilt": true, "rows": true}

// normalise is a body with its volatile keys dropped, re-encoded; a body
// that is not JSON stays as it is.
func normalise(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				switch {
				case volatile[k]:
				case userData[k]:
					out[k] = e
				default:
					out[k] = walk(e)
				}
			}
			return out
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
			return x
		}
		return v
	}
	b, _ := json.Marshal(walk(v))
	return string(b)
}

// do sends one request to both and checks that both answer want (0: any
// status, but the same) with the same normalised body and headers. It
// returns both answers; a request that gets no answer fails the test.
func (p *pair) do(t tb, want int, method, path string, body []byte, header ...string) (n, w reply) {
	t.Helper()
	what := method + " " + path
	if body != nil {
		what += " " + string(body)
	}
	for i := 0; i+1 < len(header); i += 2 {
		what += fmt.Sprintf(" [%s: %s]", header[i], header[i+1])
	}
	n, err := p.native.Request(method, path, body, header...)
	if err != nil {
		t.Fatalf("%s: native: %v", what, err)
	}
	w, err = p.worker.Request(method, path, body, header...)
	if err != nil {
		t.Fatalf("%s: workerd: %v", what, err)
	}
	if want != 0 && n.Status != want {
		t.Errorf("%s: native answers %v, want %d", what, n, want)
	}
	if w.Status != n.Status {
		t.Errorf("%s: workerd answers %v, native %v", what, w, n)
		return n, w
	}
	if nb, wb := normalise(n.Body), normalise(w.Body); nb != wb {
		t.Errorf("%s: %d, bodies differ without ids and times:\n  native:  %s\n  workerd: %s", what, n.Status, nb, wb)
	}
	for _, h := range comparedHeaders {
		if nv, wv := n.Header.Values(h), w.Header.Values(h); strings.Join(nv, ", ") != strings.Join(wv, ", ") {
			t.Errorf("%s: %d, header %s is %q natively, %q on workerd", what, n.Status, h, nv, wv)
		}
	}
	return n, w
}

// command is do for a command with a JSON body.
func (p *pair) command(t tb, want int, path, body string, header ...string) (n, w reply) {
	t.Helper()
	return p.do(t, want, http.MethodPost, path, []byte(body), append([]string{"Content-Type", "application/json"}, header...)...)
}

// sync waits until the Worker's global log holds as many events as the
// native one: the Worker forwards events to D1 after it answers (at once
// for events an inline projection handles). Waiting after each command
// keeps both logs in the same order.
func (p *pair) sync(t tb) []logEvent {
	t.Helper()
	nlog := p.native.mustLog(t)
	wlog := p.worker.waitLog(t, len(nlog), 30*time.Second)
	if len(wlog) != len(nlog) {
		t.Errorf("the global log has %d events on workerd, %d natively", len(wlog), len(nlog))
	}
	return nlog
}

// compareLogs checks both global logs (gap-free positions, unique ids,
// versions 1..n per instance) and that they hold the same events in the
// same order, ids and times aside.
func (p *pair) compareLogs(t tb) []logEvent {
	t.Helper()
	nlog := p.sync(t)
	wlog := p.worker.mustLog(t)
	checkLog(t, nlog)
	checkLog(t, wlog)
	for i := range min(len(nlog), len(wlog)) {
		a, b := nlog[i], wlog[i]
		if a.Position != b.Position || a.Aggregate != b.Aggregate || a.Instance != b.Instance || a.Version != b.Version ||
			a.Type != b.Type || !e2etest.SameJSON(a.Payload, b.Payload) {
			t.Errorf("global log index %d: native %d %s %s v%d %s %s, workerd %d %s %s v%d %s %s", i,
				a.Position, a.Aggregate, a.Instance, a.Version, a.Type, a.Payload,
				b.Position, b.Aggregate, b.Instance, b.Version, b.Type, b.Payload)
		}
	}
	return nlog
}

// TestSameAnswersAsNative sends the same requests to `cuesource serve`
// and to the Worker under workerd, and compares status codes, bodies
// (without ids and times) and headers: commands, every kind of rejection,
// idempotency, conditional requests, reads of instances and of the log,
// parameters, the OpenAPI document and the admin endpoints. The read side
// and effects are subtests of their own.
func TestSameAnswersAsNative(t *testing.T) {
	needWorkerd(t)
	ctx := "contexts/example.cue"
	srv := startServer(t, contextPath(ctx), t.TempDir())
	w := startWorker(t, buildWorker(t, ctx), "")
	p := &pair{native: newClient(srv.url), worker: newClient(w.url)}
	defer p.native.Close()
	defer p.worker.Close()
	start := time.Now()
	appJSON := []string{"Content-Type", "application/json"}
	bearer := []string{"Authorization", "Bearer " + adminToken}

	t.Run("commands", func(t *testing.T) {
		p.command(t, 201, "/cart/c1/Open", `{"customer":"ada"}`)
		p.sync(t)
		p.command(t, 200, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`)
		p.command(t, 200, "/cart/c1/AddItem", `{"sku":"MUG-02","qty":1,"price":12}`)
		p.command(t, 200, "/cart/c1/ApplyCoupon", `{"code":"FREE100"}`) // recorded, not applied
		p.command(t, 201, "/order/o1/Place", `{"cart":"c1","total":100}`)
		p.sync(t)
		p.command(t, 200, "/order/o1/Pay", `{"amount":40}`)
		p.sync(t)
		p.command(t, 200, "/order/o1/Pay", `{"amount":60}`) // two events: PaymentReceived, OrderPaid
		p.sync(t)
		p.command(t, 201, "/cart/c2/Open", `{"customer":"bob"}`)
		p.command(t, 200, "/cart/c2/AddItem", `{"sku":"CHAIR-9","qty":2,"price":300}`)
		p.sync(t)
	})

	t.Run("rejections", func(t *testing.T) {
		n, _ := p.command(t, 400, "/cart/c1/AddItem", `{"sku":"bad sku","qty":0,"price":1}`)
		var v struct {
			Kind       string `json:"kind"`
			Violations []any  `json:"violations"`
		}
		if err := json.Unmarshal(n.Body, &v); err != nil || v.Kind != "schema" || len(v.Violations) == 0 {
			t.Errorf("a schema violation answers %s: want kind schema with violations", n.Body)
		}
		p.command(t, 400, "/cart/c1/AddItem", `{"sku":`)                            // invalid JSON
		p.command(t, 400, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":1}`)           // a required field missing
		p.command(t, 422, "/cart/c1/RemoveItem", `{"sku":"NOPE-1"}`)                // guard
		p.command(t, 422, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":1,"price":5}`) // price changed
		p.command(t, 422, "/order/o1/Pay", `{"amount":1}`)                          // not awaiting payment
		p.command(t, 0, "/cart/c1/Open", `{"customer":"eve"}`)                      // instance exists
		p.command(t, 404, "/order/nope/Pay", `{"amount":1}`)                        // instance missing
		p.command(t, 404, "/nope/x/Open", `{}`)                                     // unknown aggregate
		p.command(t, 404, "/cart/c1/Nope", `{}`)                                    // unknown command
		p.do(t, 0, http.MethodPost, "/cart/c1/AddItem", []byte(`{"sku":"TEA-01","qty":1,"price":4.5}`), "Content-Type", "text/plain")
		p.do(t, 405, http.MethodGet, "/cart/c1/AddItem", nil)
		p.do(t, 405, http.MethodPost, "/cart/c1", []byte(`{}`), appJSON...)
		p.do(t, 405, http.MethodPost, "/events", nil)
		p.do(t, 404, http.MethodGet, "/a/b/c/d", nil)
		p.do(t, 0, http.MethodGet, "/cart/"+strings.Repeat("x", 300), nil) // id too long
		p.command(t, 0, "/cart/c1/AddItem", strings.Repeat("[", 200)+strings.Repeat("]", 200))
		p.sync(t)
	})

	t.Run("idempotency", func(t *testing.T) {
		key := []string{"Idempotency-Key", "k-open-c3"}
		n1, w1 := p.command(t, 201, "/cart/c3/Open", `{"customer":"cy"}`, key...)
		p.sync(t)
		n2, w2 := p.command(t, 201, "/cart/c3/Open", `{"customer":"cy"}`, key...)
		for _, c := range []struct {
			name         string
			first, again reply
		}{{"native", n1, n2}, {"workerd", w1, w2}} {
			if !bytes.Equal(c.first.Body, c.again.Body) {
				t.Errorf("%s: the replay's body differs from the first answer:\n  first:  %s\n  replay: %s", c.name, c.first.Body, c.again.Body)
			}
			if got := c.again.Header.Get("Idempotent-Replayed"); got != "true" {
				t.Errorf("%s: the replay has Idempotent-Replayed %q, want true", c.name, got)
			}
			if got := c.first.Header.Get("Idempotent-Replayed"); got != "" {
				t.Errorf("%s: the first answer has Idempotent-Replayed %q", c.name, got)
			}
		}
		p.command(t, 409, "/cart/c3/Open", `{"customer":"someone else"}`, key...)
		// A rejection is not recorded: the same key and body run again.
		rk := []string{"Idempotency-Key", "k-remove"}
		p.command(t, 422, "/cart/c3/RemoveItem", `{"sku":"NOPE-1"}`, rk...)
		p.command(t, 422, "/cart/c3/RemoveItem", `{"sku":"NOPE-1"}`, rk...)
		p.command(t, 400, "/cart/c3/Abandon", ``, "Idempotency-Key", strings.Repeat("k", 256))
		p.sync(t)
	})

	t.Run("if-match", func(t *testing.T) {
		// c1 is at version 4: Open, two AddItem, ApplyCoupon.
		p.command(t, 412, "/cart/c1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`, "If-Match", `W/"1"`)
		p.command(t, 200, "/cart/c1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`, "If-Match", `W/"4"`)
		p.command(t, 200, "/cart/c1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`, "If-Match", `"5"`)
		p.command(t, 200, "/cart/c1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`, "If-Match", `*`)
		p.command(t, 0, "/cart/c9/Open", `{"customer":"x"}`, "If-Match", `*`) // no instance to match
		p.command(t, 0, "/cart/c8/Open", `{"customer":"x"}`, "If-Match", `W/"0"`)
		p.command(t, 400, "/cart/c1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`, "If-Match", `abc`)
		p.command(t, 400, "/cart/c1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`, "If-Match", `W/"-1"`)
		p.sync(t)
		t.Log("no command of contexts/example.cue has ifMatch: \"required\": the 428 answer is not compared")
	})

	t.Run("reads", func(t *testing.T) {
		n, wr := p.do(t, 200, http.MethodGet, "/cart/c1", nil)
		etag := n.Header.Get("ETag")
		if etag == "" || etag != wr.Header.Get("ETag") {
			t.Fatalf("GET /cart/c1: ETag %q natively, %q on workerd", etag, wr.Header.Get("ETag"))
		}
		p.do(t, 304, http.MethodGet, "/cart/c1", nil, "If-None-Match", etag)
		p.do(t, 304, http.MethodGet, "/cart/c1", nil, "If-None-Match", `W/"1", `+etag)
		p.do(t, 304, http.MethodGet, "/cart/c1", nil, "If-None-Match", `*`)
		p.do(t, 200, http.MethodGet, "/cart/c1", nil, "If-None-Match", `W/"1"`)
		p.do(t, 200, http.MethodHead, "/cart/c1", nil)
		p.do(t, 404, http.MethodGet, "/cart/missing", nil)
		p.do(t, 404, http.MethodGet, "/nope/x", nil)
		p.do(t, 200, http.MethodGet, "/order/o1", nil)
		p.do(t, 200, http.MethodGet, "/cart/c1/events", nil)
		p.do(t, 200, http.MethodGet, "/cart/c1/events?after=2", nil)
		p.do(t, 200, http.MethodGet, "/cart/c1/events?after=100", nil)
		p.do(t, 200, http.MethodGet, "/cart/missing/events", nil)
		p.do(t, 400, http.MethodGet, "/cart/c1/events?after=x", nil)
		p.do(t, 400, http.MethodGet, "/cart/c1/events?after=-1", nil)
		p.do(t, 200, http.MethodGet, "/cart/c1/history", nil)
		p.do(t, 404, http.MethodGet, "/cart/missing/history", nil)
		p.do(t, 200, http.MethodGet, "/healthz", nil)
	})

	t.Run("log", func(t *testing.T) {
		log := p.compareLogs(t)
		if len(log) == 0 {
			t.Fatal("the global log is empty")
		}
		n := len(log)
		for _, q := range []string{"", "?after=0&limit=3", "?after=3&limit=3", "?after=5", "?limit=1000",
			fmt.Sprintf("?after=%d&limit=10", n-1), fmt.Sprintf("?after=%d", n), fmt.Sprintf("?after=%d", n+5)} {
			nr, _ := p.do(t, 200, http.MethodGet, "/events"+q, nil)
			var page struct {
				Events []logEvent `json:"events"`
				Next   int64      `json:"next"`
			}
			if err := json.Unmarshal(nr.Body, &page); err != nil {
				t.Errorf("GET /events%s: %v", q, err)
				continue
			}
			for _, ev := range page.Events {
				if ev.Position < 1 || ev.Position > int64(n) || log[ev.Position-1].ID != ev.ID {
					t.Errorf("GET /events%s: event %s at position %d is not the log's", q, ev.ID, ev.Position)
				}
			}
		}
		for _, q := range []string{"?after=-1", "?after=x", "?limit=0", "?limit=1001", "?limit=abc", "?after=1.5"} {
			p.do(t, 400, http.MethodGet, "/events"+q, nil)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		for _, path := range []string{"/openapi.json", "/context", "/diagram.svg"} {
			n, w := p.do(t, 200, http.MethodGet, path, nil)
			if !bytes.Equal(n.Body, w.Body) {
				t.Errorf("%s differs: native %d bytes, workerd %d bytes", path, len(n.Body), len(w.Body))
			}
		}
	})

	t.Run("admin", func(t *testing.T) {
		n, _ := p.do(t, 200, http.MethodPost, "/admin/rehydrate/cart/c1", nil, bearer...)
		var d struct {
			Drifted bool  `json:"drifted"`
			Version int64 `json:"version"`
		}
		if err := json.Unmarshal(n.Body, &d); err != nil || d.Drifted || d.Version == 0 {
			t.Errorf("rehydrate cart c1: %s: want drifted false at the instance's version", n.Body)
		}
		for _, id := range []string{"c2", "c3"} {
			if drifted, rerr, v := p.worker.rehydrate(t, "cart", id); drifted || rerr != "" || v == 0 {
				t.Errorf("workerd: rehydrate cart %s: drifted %v, error %q, version %d", id, drifted, rerr, v)
			}
		}
		p.do(t, 200, http.MethodPost, "/admin/rehydrate/order/o1", nil, bearer...)
		p.do(t, 404, http.MethodPost, "/admin/rehydrate/cart/missing", nil, bearer...)
		p.do(t, 401, http.MethodPost, "/admin/rehydrate/cart/c1", nil)
		p.do(t, 401, http.MethodPost, "/admin/rehydrate/cart/c1", nil, "Authorization", "Bearer wrong")
		p.do(t, 405, http.MethodGet, "/admin/rehydrate/cart/c1", nil, bearer...)

		seed := []byte(`{"events":[{"event":"CartOpened","payload":{"customer":"sam"}},{"event":"ItemAdded","payload":{"sku":"PEN-01","qty":3,"price":2}}]}`)
		p.do(t, 201, http.MethodPost, "/admin/seed/cart/s1", seed, append(bearer, appJSON...)...)
		p.sync(t)
		p.do(t, 0, http.MethodPost, "/admin/seed/cart/s1", seed, append(bearer, appJSON...)...) // exists
		p.do(t, 0, http.MethodPost, "/admin/seed/cart/s2", []byte(`{"events":[{"event":"Nope"}]}`), append(bearer, appJSON...)...)
		p.do(t, 0, http.MethodPost, "/admin/seed/cart/s3", []byte(`{"events":`), append(bearer, appJSON...)...)
		p.do(t, 401, http.MethodPost, "/admin/seed/cart/s4", seed, appJSON...)
		p.do(t, 200, http.MethodGet, "/cart/s1", nil)
		p.do(t, 200, http.MethodGet, "/cart/s1/events", nil)
		p.command(t, 200, "/cart/s1/AddItem", `{"sku":"PEN-01","qty":1,"price":2}`)
		p.compareLogs(t)
	})

	t.Run("readside/projections", func(t *testing.T) {
		waitProjections(t, p.native, "native")
		waitProjections(t, p.worker, "workerd")
		p.do(t, 200, http.MethodGet, "/projections", nil)
	})

	t.Run("readside/queries", func(t *testing.T) {
		waitProjections(t, p.native, "native")
		waitProjections(t, p.worker, "workerd")
		p.do(t, 200, http.MethodGet, "/queries/open_carts", nil)
		p.do(t, 200, http.MethodGet, "/queries/open_carts?limit=1", nil)
		p.do(t, 400, http.MethodGet, "/queries/open_carts?limit=0", nil)
		p.do(t, 200, http.MethodGet, "/queries/top_skus?min_qty=1", nil)
		p.do(t, 200, http.MethodGet, "/queries/top_skus?min_qty=3", nil)
		p.do(t, 400, http.MethodGet, "/queries/top_skus?min_qty=x", nil)
		p.do(t, 404, http.MethodGet, "/queries/nope", nil)
		p.do(t, 405, http.MethodPost, "/queries/open_carts", nil)
	})

	t.Run("effects/place_order", func(t *testing.T) {
		// c2 has 600 in items: CheckOut emits CheckedOut and GiftAdded, and
		// the place_order effect sends order c2 Place.
		p.command(t, 200, "/cart/c2/CheckOut", ``)
		for _, side := range []struct {
			name string
			c    *client
		}{{"native", p.native}, {"workerd", p.worker}} {
			// Placed, and its event in the log (on Workers the object
			// forwards it after the commit, which gives it its position).
			if !e2etest.Until(20*time.Second, 50*time.Millisecond, func() bool {
				evs := side.c.instanceEvents(t, "order", "c2")
				return len(evs) > 0 && evs[0].Position != 0
			}) {
				t.Fatalf("%s: order c2 was not placed by the place_order effect, and logged, within 20s of cart c2 CheckedOut", side.name)
			}
		}
		p.do(t, 200, http.MethodGet, "/order/c2", nil)
		p.do(t, 200, http.MethodGet, "/order/c2/events", nil)
		p.compareLogs(t)
	})

	t.Logf("compared in %v", time.Since(start).Round(time.Millisecond))
}

// waitProjections polls GET /projections until every projection is running
// with no lag (bounded).
func waitProjections(t tb, c *client, name string) {
	t.Helper()
	var last string
	if e2etest.Until(30*time.Second, 50*time.Millisecond, func() bool {
		var body struct {
			Projections []struct {
				Name  string `json:"name"`
				State string `json:"state"`
				Lag   int64  `json:"lag"`
			} `json:"projections"`
		}
		r, err := c.GetJSON("/projections", &body)
		last = fmt.Sprintf("%v %v", r, err)
		if err != nil || r.Status != http.StatusOK {
			return false
		}
		caught := len(body.Projections) > 0
		for _, pr := range body.Projections {
			if pr.State != "running" || pr.Lag != 0 {
				caught = false
			}
		}
		return caught
	}) {
		return
	}
	t.Fatalf("%s: the projections did not catch up within 30s: GET /projections: %s", name, last)
}
