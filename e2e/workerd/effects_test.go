package workerd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// hook is a webhook receiver whose answer the test sets.
type hook struct {
	mu     sync.Mutex
	status int              // what it answers
	fails  int              // answer 503 this many more times first
	got    map[string][]int // event id -> statuses answered
	bodies map[string]string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	status := h.status
	if h.fails > 0 {
		h.fails--
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "0")
	}
	id := r.Header.Get("Cuesource-Event-Id")
	if r.Header.Get("Cuesource-Effect") != "announce_paid" || r.Header.Get("Idempotency-Key") != "announce_paid:"+id {
		status = http.StatusBadRequest
	}
	h.got[id] = append(h.got[id], status)
	h.bodies[id] = string(body)
	w.WriteHeader(status)
}

func (h *hook) set(status, fails int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status, h.fails = status, fails
}

func (h *hook) answers(id string) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.got[id]...)
}

// TestQueueEffects follows the example's effects on workerd: a checked-out
// cart places its order (send), and a paid order is announced to a webhook
// through the Queue: retried while the receiver fails, delivered once when
// it answers, dead-lettered when it refuses, and delivered from the dead
// letters by a retry.
func TestQueueEffects(t *testing.T) {
	needWorkerd(t)
	h := &hook{status: http.StatusNoContent, got: map[string][]int{}, bodies: map[string]string{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The receiver is on 127.0.0.1: the operator allows it (written to
	// wrangler.jsonc's vars by the build).
	w := startWorker(t, buildWorker(t, "contexts/example.cue", "--webhook-allow", "127.0.0.1"), "", "CUESOURCE_ENV_ORDER_WEBHOOK_URL="+srv.URL+"/hook")
	c := newClient(w.url)
	defer c.Close()

	pay := func(id string) string {
		t.Helper()
		c.command(t, 201, "cart", id, "Open", `{"customer":"ada"}`)
		c.command(t, 200, "cart", id, "AddItem", `{"sku":"SKU-1","qty":1,"price":10}`)
		c.command(t, 200, "cart", id, "CheckOut", `{}`)
		// The send effect placed the order (delivered after the answer).
		e2etest.WaitFor(t, 20*time.Second, "the order "+id+" placed by the send effect", func() bool {
			r, err := c.Request("GET", instancePath("order", id), nil)
			return err == nil && r.Status == 200
		})
		d := c.command(t, 200, "order", id, "Pay", `{"amount":10}`)
		for _, e := range d.Events {
			if e.Type == "OrderPaid" {
				return e.ID
			}
		}
		t.Fatalf("Pay on order %s emitted no OrderPaid: %+v", id, d.Events)
		return ""
	}

	// Failing twice, then delivered once.
	h.set(http.StatusNoContent, 2)
	ev := pay("q-1")
	e2etest.WaitFor(t, 30*time.Second, "the webhook delivered", func() bool {
		a := h.answers(ev)
		return len(a) > 0 && a[len(a)-1] == http.StatusNoContent
	})
	// Nothing more arrives. A duplicate would be the queue delivering the
	// message again: at once (a retry without delay) or after the effect's
	// first backoff, 1s (rules.Backoff); 1.5s leaves room for either.
	time.Sleep(1500 * time.Millisecond)
	if a := h.answers(ev); fmt.Sprint(a) != "[503 503 204]" {
		t.Fatalf("webhook answers for %s: %v, want [503 503 204]", ev, a)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(h.bodies[ev]), &body); err != nil || body["order"] != "q-1" {
		t.Fatalf("webhook body %q: want the order q-1 (%v)", h.bodies[ev], err)
	}

	// Refused for good: a dead letter, then retried from the list.
	h.set(http.StatusNotFound, 0)
	ev = pay("q-2")
	var dl struct {
		DeadLetters []struct {
			ID       int64  `json:"id"`
			Effect   string `json:"effect"`
			EventID  string `json:"eventId"`
			Attempts int    `json:"attempts"`
			Error    string `json:"error"`
		} `json:"deadLetters"`
	}
	e2etest.WaitFor(t, 30*time.Second, "the dead letter of "+ev, func() bool {
		r, err := c.admin("GET", "/admin/dead-letters", nil)
		if err != nil || r.Status != 200 || json.Unmarshal(r.Body, &dl) != nil {
			return false
		}
		return len(dl.DeadLetters) == 1 && dl.DeadLetters[0].EventID == ev
	})
	if d := dl.DeadLetters[0]; d.Effect != "announce_paid" || d.Attempts != 1 {
		t.Fatalf("dead letter %+v: want announce_paid after 1 attempt (404 is permanent)", d)
	}
	h.set(http.StatusNoContent, 0)
	r, err := c.admin("POST", fmt.Sprintf("/admin/dead-letters/%d/retry", dl.DeadLetters[0].ID), nil)
	if err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("retry of the dead letter: %v %v", r, err)
	}
	e2etest.WaitFor(t, 30*time.Second, "the retried delivery", func() bool {
		a := h.answers(ev)
		return len(a) > 0 && a[len(a)-1] == http.StatusNoContent
	})
	r, err = c.admin("GET", "/admin/dead-letters", nil)
	if err != nil || r.Status != 200 || json.Unmarshal(r.Body, &dl) != nil || len(dl.DeadLetters) != 0 {
		t.Fatalf("dead letters after the retry: %v %v", r, err)
	}
}

// TestWebhookPolicy follows sync webhooks on workerd, where names cannot
// be resolved before the shell's fetch: a metadata address is refused
// even with loopback allowed, localhost is refused by its name, a
// redirect is not followed, and what a receiver answers is not in the
// command's response (the dead letter, for admins, keeps it).
func TestWebhookPolicy(t *testing.T) {
	needWorkerd(t)
	var calls, followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/named", func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	mux.HandleFunc("/body", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "aws_secret_access_key="+strings.Repeat("S", 2000), http.StatusForbidden)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Redirect(w, r, "/stolen", http.StatusFound)
	})
	mux.HandleFunc("/stolen", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
	w := startWorker(t, buildWorker(t, "e2e/workerd/testdata/hooks.cue"), "",
		"CUESOURCE_WEBHOOK_ALLOW=127.0.0.1",
		"CUESOURCE_ENV_METADATA_URL=http://169.254.169.254/latest/meta-data/",
		"CUESOURCE_ENV_NAMED_URL=http://localhost:"+port+"/named",
		"CUESOURCE_ENV_BODY_URL="+srv.URL+"/body",
		"CUESOURCE_ENV_REDIRECT_URL="+srv.URL+"/redirect")
	c := newClient(w.url)
	defer c.Close()

	report := func(to string) (string, string) {
		t.Helper()
		r, err := c.Post(instancePath("note", to)+"/Write", "", []byte(`{"to":"`+to+`"}`))
		if err != nil || r.Status/100 != 2 {
			t.Fatalf("Write %s: %v %v", to, r, err)
		}
		var d struct {
			Effects []struct {
				Effect string `json:"effect"`
				OK     bool   `json:"ok"`
				Error  string `json:"error"`
			} `json:"effects"`
		}
		if err := json.Unmarshal(r.Body, &d); err != nil || len(d.Effects) != 1 || d.Effects[0].OK {
			t.Fatalf("Write %s: want one failed effect reported: %s", to, r.Body)
		}
		return d.Effects[0].Error, string(r.Body)
	}

	if e, _ := report("metadata"); e != "env METADATA_URL, the URL: 169.254.169.254 is a cloud metadata address: webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var CUESOURCE_WEBHOOK_ALLOW) (dead-lettered)" {
		t.Errorf("metadata: %s", e)
	}
	if e, _ := report("named"); !strings.Contains(e, "localhost is a loopback name") {
		t.Errorf("named: %s", e)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the receiver was called %d times by refused webhooks", n)
	}
	if e, body := report("body"); e != "POST "+srv.URL+"/body: 403 Forbidden (dead-lettered)" || strings.Contains(body, "aws_secret") {
		t.Errorf("body: the report %q, the response %s", e, body)
	}
	if e, _ := report("redirect"); e != "POST "+srv.URL+"/redirect: 302 Found (a redirect: webhooks do not follow redirects) (dead-lettered)" {
		t.Errorf("redirect: %s", e)
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}

	// The dead letters keep what the receivers answered, bounded.
	r, err := c.admin("GET", "/admin/dead-letters", nil)
	var dl struct {
		DeadLetters []struct {
			Effect string `json:"effect"`
			Error  string `json:"error"`
		} `json:"deadLetters"`
	}
	if err != nil || r.Status != 200 || json.Unmarshal(r.Body, &dl) != nil {
		t.Fatalf("dead letters: %v %v", r, err)
	}
	got := map[string]string{}
	for _, d := range dl.DeadLetters {
		got[d.Effect] = d.Error
	}
	if e := got["body"]; !strings.Contains(e, "the receiver answered: aws_secret_access_key=SSS") || len(e) > 700 {
		t.Errorf("the body's dead letter (%d bytes): %.200s", len(e), e)
	}
	if e := got["redirect"]; !strings.Contains(e, "the receiver answered: Location: /stolen") {
		t.Errorf("the redirect's dead letter: %s", e)
	}
	if len(got) != 4 {
		t.Errorf("dead letters: %v, want 4", got)
	}
}
