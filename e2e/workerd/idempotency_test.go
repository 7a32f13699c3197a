package workerd

import (
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestIdempotencyRecordsExpire: an object keeps a command's idempotency
// record for CUESOURCE_IDEMPOTENCY_TTL (serve's --idempotency-ttl), then
// its alarm prunes it, and the same request is decided again.
func TestIdempotencyRecordsExpire(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "", "CUESOURCE_IDEMPOTENCY_TTL=2s")
	c := newClient(w.url)
	defer c.Close()
	body := []byte(`{"customer":"ada"}`)
	first, err := c.Post("/cart/ttl-1/Open", "key-1", body)
	if err != nil || first.Status != 201 {
		t.Fatalf("Open: %v %v", first, err)
	}
	again, err := c.Post("/cart/ttl-1/Open", "key-1", body)
	if err != nil || again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || !e2etest.SameJSON(first.Body, again.Body) {
		t.Fatalf("a replay within the TTL: %v %v, want the first answer replayed", again, err)
	}
	e2etest.WaitFor(t, 20*time.Second, "the record's expiry", func() bool {
		r, err := c.Post("/cart/ttl-1/Open", "key-1", body)
		if err != nil {
			return false
		}
		if r.Status == 201 {
			return false // still replayed
		}
		if r.Status != 409 || !strings.Contains(string(r.Body), "instance_exists") {
			t.Fatalf("after the TTL: %v, want the command decided again (409 instance_exists)", r)
		}
		return true
	})
}
