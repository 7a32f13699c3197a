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
	defer c.close()
	body := []byte(`{"customer":"ada"}`)
	first, err := c.post("/cart/ttl-1/Open", "key-1", body)
	if err != nil || first.status != 201 {
		t.Fatalf("Open: %v %v", first, err)
	}
	again, err := c.post("/cart/ttl-1/Open", "key-1", body)
	if err != nil || again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || !e2etest.SameJSON(first.body, again.body) {
		t.Fatalf("a replay within the TTL: %v %v, want the first answer replayed", again, err)
	}
	waitFor(t, 20*time.Second, "the record's expiry", func() bool {
		r, err := c.post("/cart/ttl-1/Open", "key-1", body)
		if err != nil {
			return false
		}
		if r.status == 201 {
			return false // still replayed
		}
		if r.status != 409 || !strings.Contains(string(r.body), "instance_exists") {
			t.Fatalf("after the TTL: %v, want the command decided again (409 instance_exists)", r)
		}
		return true
	})
}
