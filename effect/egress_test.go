package effect_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/effect"
)

// syncHook is a sync webhook that gives up at once, so each failure is
// reported in the command's response and dead-lettered.
var syncHook = fmt.Sprintf(notifyHook, "sync", 1)

// A webhook pointing at the loopback interface (where the server's own
// admin routes are) is refused by default and not called; the operator's
// exception lets it through.
func TestWebhookToLoopbackRefusedByDefault(t *testing.T) {
	srv := newHook(t)
	h := newHarness(t, compile(t, syncHook), effect.Options{Vars: hookVars(srv)})
	resp := h.command("cart", "c1", "CheckOut", `{"total":1}`)
	rs := reports(t, resp)
	require.Len(t, rs, 1)
	assert.False(t, rs[0].OK)
	assert.Equal(t, "env HOOK_URL, the URL: 127.0.0.1 is a loopback address: webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var CUESOURCE_WEBHOOK_ALLOW) (dead-lettered)", rs[0].Error)
	srv.get(func(s *hook) { assert.Zero(t, s.calls) })
	require.Len(t, h.deadLetters(), 1)

	h2 := newHarness(t, compile(t, syncHook), effect.Options{Vars: hookVars(srv), Egress: loopback})
	rs = reports(t, h2.command("cart", "c1", "CheckOut", `{"total":1}`))
	require.Len(t, rs, 1)
	assert.True(t, rs[0].OK, rs[0].Error)
	srv.get(func(s *hook) { assert.Equal(t, 1, s.calls) })
}

// A name is judged by the addresses it resolves to, where the connection
// is made: localhost is refused as the loopback address it is (DNS
// rebinding gets no further, the check is on the address dialled).
func TestWebhookNameResolvingToLoopbackRefused(t *testing.T) {
	srv := newHook(t)
	vars := hookVars(srv)
	vars["HOOK_URL"] = strings.Replace(vars["HOOK_URL"], "127.0.0.1", "localhost", 1)
	h := newHarness(t, compile(t, syncHook), effect.Options{Vars: vars})
	rs := reports(t, h.command("cart", "c1", "CheckOut", `{"total":1}`))
	require.Len(t, rs, 1)
	assert.False(t, rs[0].OK)
	assert.Regexp(t, `^POST http://localhost:\d+/orders: localhost \((127\.0\.0\.1|::1)\) is a loopback address: webhooks may not call it unless the operator allows it .* \(dead-lettered\)$`, rs[0].Error)
	srv.get(func(s *hook) { assert.Zero(t, s.calls) })

	// Allowing the address allows the name that resolves to it.
	h2 := newHarness(t, compile(t, syncHook), effect.Options{Vars: vars, Egress: loopback})
	rs = reports(t, h2.command("cart", "c1", "CheckOut", `{"total":1}`))
	require.Len(t, rs, 1)
	assert.True(t, rs[0].OK, rs[0].Error)
	srv.get(func(s *hook) { assert.Equal(t, 1, s.calls) })
}

// A redirect is not followed, even to an allowed address: the delivery
// fails for good, and where it pointed is kept in the dead letter only.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/latest/meta-data/", http.StatusTemporaryRedirect))
	defer redirector.Close()
	h := newHarness(t, compile(t, syncHook), effect.Options{Vars: map[string]string{"HOOK_URL": redirector.URL}, Egress: loopback})
	rs := reports(t, h.command("cart", "c1", "CheckOut", `{"total":1}`))
	require.Len(t, rs, 1)
	assert.False(t, rs[0].OK)
	assert.Equal(t, fmt.Sprintf("POST %s: 307 Temporary Redirect (a redirect: webhooks do not follow redirects) (dead-lettered)", redirector.URL), rs[0].Error)
	assert.Zero(t, followed.Load())
	dls := h.deadLetters()
	require.Len(t, dls, 1)
	assert.Contains(t, dls[0].Error, "the receiver answered: Location: "+target.URL+"/latest/meta-data/")
}

// What a receiver answers never reaches the caller of the command whose
// sync effect called it: the report gives the status; the body goes to
// the outbox's last error and the dead letter (admin only), bounded.
func TestWebhookReplyNotInResponse(t *testing.T) {
	secret := "aws_secret_access_key=" + strings.Repeat("S", 600)
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, secret, int(status.Load()))
	}))
	defer srv.Close()
	vars := map[string]string{"HOOK_URL": srv.URL}
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "sync", 3)), effect.Options{Vars: vars, Egress: loopback})
	resp := h.command("cart", "c1", "CheckOut", `{"total":1}`)
	assert.NotContains(t, string(resp.Body), "aws_secret")
	rs := reports(t, resp)
	require.Len(t, rs, 1)
	assert.Equal(t, fmt.Sprintf("POST %s: 503 Service Unavailable (will retry)", srv.URL), rs[0].Error)
	rows := h.outbox()
	require.Len(t, rows, 1)
	assert.Contains(t, rows[0].LastError, "the receiver answered: aws_secret_access_key=SSS")
	assert.Less(t, len(rows[0].LastError), 700, "at most 512 bytes of the body are kept")

	status.Store(http.StatusForbidden)
	h2 := newHarness(t, compile(t, syncHook), effect.Options{Vars: vars, Egress: loopback})
	resp = h2.command("cart", "c2", "CheckOut", `{"total":1}`)
	assert.NotContains(t, string(resp.Body), "aws_secret")
	rs = reports(t, resp)
	require.Len(t, rs, 1)
	assert.Equal(t, fmt.Sprintf("POST %s: 403 Forbidden (dead-lettered)", srv.URL), rs[0].Error)
	dls := h2.deadLetters()
	require.Len(t, dls, 1)
	assert.Contains(t, dls[0].Error, "the receiver answered: aws_secret_access_key=SSS")
}
