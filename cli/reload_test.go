package cli

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/manifest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDiff: what a swap changed, by definition and not by where it is
// written.
func TestDiff(t *testing.T) {
	m := func(cmds map[string]*manifest.Command, projs map[string]*manifest.Projection) *manifest.Manifest {
		return &manifest.Manifest{Aggregates: map[string]*manifest.Aggregate{"cart": {Commands: cmds, Events: map[string]*manifest.Event{}}}, Projections: projs}
	}
	old := m(map[string]*manifest.Command{
		"Open": {Instance: "new", Pos: manifest.Pos{Line: 3}},
		"Drop": {Instance: "existing"},
		"Pay":  {Instance: "existing"},
	}, map[string]*manifest.Projection{"carts": {Mode: "inline"}})
	cur := m(map[string]*manifest.Command{
		"Open":   {Instance: "new", Pos: manifest.Pos{Line: 9}}, // moved only
		"Pay":    {Instance: "any"},
		"Rename": {Instance: "existing"},
	}, map[string]*manifest.Projection{"carts": {Mode: "async"}, "skus": {}})
	got := diff(old, cur).String()
	want := "commands added: cart.Rename; commands removed: cart.Drop; commands changed: cart.Pay; projections added: skus; projections changed: carts"
	if got != want {
		t.Errorf("diff:\n got %s\nwant %s", got, want)
	}
	if got := diff(old, old).String(); got != "no command, event or projection changed" {
		t.Errorf("no change: %s", got)
	}
}

// TestWatchStatusToken: under a token the watch status asks for it (or
// the admin token); without one it is open, as the page it serves is.
func TestWatchStatusToken(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // each stream sends the current status, then ends with the server
	ws := newWatchStatus(ctx, 0)
	ws.set(statusMsg{Errors: errorsOf(errors.New("boom"))})
	next := http.NotFoundHandler()
	for _, c := range []struct {
		tokens []string
		auth   string
		status int
	}{
		{nil, "", 200},
		{[]string{"", ""}, "", 200},
		{[]string{"user", "admin"}, "", 401},
		{[]string{"user", "admin"}, "Bearer nope", 401},
		{[]string{"user", "admin"}, "Bearer user", 200},
		{[]string{"user", "admin"}, "Bearer admin", 200},
	} {
		r := httptest.NewRequest("GET", "/ui/watch", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		withWatch(ws, next, c.tokens...).ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("tokens %q, %q: %d, want %d", c.tokens, c.auth, w.Code, c.status)
		}
		if c.status == 200 && !strings.Contains(w.Body.String(), `"message":"boom"`) {
			t.Errorf("tokens %q, %q: the stream said %s", c.tokens, c.auth, w.Body)
		}
	}
}

// TestWatchStatusStreamsAreCapped: pages following the watch hold a
// connection each; past the cap one is refused with 503 and Retry-After,
// and a stream that ends frees its place.
func TestWatchStatusStreamsAreCapped(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ws := newWatchStatus(ctx, 1)
	srv := httptest.NewServer(withWatch(ws, http.NotFoundHandler()))
	defer srv.Close()
	first, err := http.Get(srv.URL + "/ui/watch")
	require.NoError(t, err)
	// The first stream holds its place once its first frame arrived.
	line, err := bufio.NewReader(first.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "event: status\n", line)
	second, err := http.Get(srv.URL + "/ui/watch")
	require.NoError(t, err)
	second.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, second.StatusCode)
	assert.NotEmpty(t, second.Header.Get("Retry-After"))
	first.Body.Close()
	require.Eventually(t, func() bool { return ws.streams.Load() == 0 }, 10*time.Second, time.Millisecond, "the ended stream frees its place")
}
