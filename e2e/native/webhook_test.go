//go:build unix

package native_e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestWebhookAllow runs the example's webhook against a receiver on
// 127.0.0.1: `cuesource serve` refuses to call it (a dead letter saying
// why, the receiver never called), and calls it under
// --webhook-allow 127.0.0.1.
func TestWebhookAllow(t *testing.T) {
	skipShort(t)
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	t.Setenv("CUESOURCE_ENV_ORDER_WEBHOOK_URL", hook.URL+"/hook")
	t.Setenv("CUESOURCE_WEBHOOK_ALLOW", "")
	ctx := contextPath("contexts/example.cue")

	pay := func(c *client, id string) {
		t.Helper()
		for _, cmd := range []struct{ path, body string }{
			{"/cart/" + id + "/Open", `{"customer":"ada"}`},
			{"/cart/" + id + "/AddItem", `{"sku":"TEA-01","qty":1,"price":10}`},
			{"/cart/" + id + "/CheckOut", `{}`},
		} {
			if r, err := c.Post(cmd.path, "", []byte(cmd.body)); err != nil || r.Status/100 != 2 {
				t.Fatalf("%s: %v %v", cmd.path, r, err)
			}
		}
		e2etest.WaitFor(t, 20*time.Second, "the order placed by the effect", func() bool {
			r, err := c.Request("GET", instancePath("order", id), nil)
			return err == nil && r.Status == 200
		})
		if r, err := c.Post("/order/"+id+"/Pay", "", []byte(`{"amount":10}`)); err != nil || r.Status != 200 {
			t.Fatalf("Pay: %v %v", r, err)
		}
	}

	srv := startServer(t, ctx, t.TempDir())
	c := newClient(srv.url)
	pay(c, "o1")
	var dl struct {
		DeadLetters []struct {
			Effect string `json:"effect"`
			Error  string `json:"error"`
		} `json:"deadLetters"`
	}
	e2etest.WaitFor(t, 20*time.Second, "the refused delivery's dead letter", func() bool {
		r, err := c.Request("GET", "/admin/dead-letters", nil, "Authorization", "Bearer "+adminToken)
		return err == nil && r.Status == 200 && json.Unmarshal(r.Body, &dl) == nil && len(dl.DeadLetters) == 1
	})
	if d := dl.DeadLetters[0]; d.Effect != "announce_paid" || !strings.Contains(d.Error, "127.0.0.1 is a loopback address") {
		t.Fatalf("dead letter %+v: want announce_paid refused as a loopback address", d)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the receiver was called %d times, want none", n)
	}
	c.Close()
	srv.kill()

	srv = startServer(t, ctx, t.TempDir(), "--webhook-allow", "127.0.0.1")
	c = newClient(srv.url)
	defer c.Close()
	pay(c, "o2")
	e2etest.WaitFor(t, 20*time.Second, "the delivery under --webhook-allow", func() bool { return calls.Load() == 1 })
}
