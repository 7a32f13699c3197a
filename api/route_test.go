package api

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/diagram"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/route"
	"github.com/cuesource/cuesource/store/sqlite"
)

var updateDispatch = flag.Bool("update-dispatch", false, "rewrite testdata/dispatch.golden")

// Every route of the table has a handler: a request to each, with its
// first method and its parameters filled in, is answered (Serve would
// panic on a route without one) by its handler, not by the dispatcher.
func TestRouteHandlers(t *testing.T) {
	p := openapiCompile(t, "../contexts/example.cue")
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "shop.db"), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	dir := archive.Dir(t.TempDir())
	require.NoError(t, dir.Put(t.Context(), archive.Name(1, 2), []byte("x")))
	s := New(p, openapiBackend{}, Options{AdminToken: "admin", ReadModels: openapiReadSide{}, DeadLetters: openapiReadSide{}, Diagram: func(*manifest.Manifest) []byte { return []byte("<svg/>") },
		Storage: func(context.Context) (any, error) { return struct{}{}, nil }, Archive: archive.Served{Target: dir, Index: st}})
	fill := strings.NewReplacer("{aggregate}", "cart", "{id:int}", "7", "{id}", "c1", "{command}", "Open", "/segments/{name}", "/segments/"+archive.Name(1, 2), "{name}", "open_carts", "{action}", "rebuild")
	for _, r := range route.Table {
		method, _, _ := strings.Cut(r.Methods, ",")
		h := Header{"Authorization": {"Bearer admin"}, "Content-Type": {"application/json"}}
		resp := s.Serve(context.Background(), &Request{Method: method, Path: fill.Replace(r.Path), Header: h, Body: []byte(`{"events": [{"event": "x"}]}`)})
		var pr struct{ Kind string }
		_ = json.Unmarshal(resp.Body, &pr)
		assert.NotContains(t, []string{"not_found", "method_not_allowed", "unknown_aggregate", "unknown_command", "internal"}, pr.Kind,
			"%s %s (%s): %s", method, r.Path, r.Name, resp.Body)
	}
}

// The answers at the edges of the routes (wrong methods, paths next to a
// route, tokens missing or wrong, a runtime without a read side) are the
// ones testdata/dispatch.golden records, which the API gave before it
// dispatched through the route table.
func TestDispatchEdges(t *testing.T) {
	p := openapiCompile(t, "../contexts/example.cue")
	full := New(p, openapiBackend{}, Options{Diagram: diagram.SVG, Token: "user", AdminToken: "admin", ReadModels: openapiReadSide{}, DeadLetters: openapiReadSide{}})
	bare := New(p, openapiBackend{}, Options{Diagram: diagram.SVG})
	requests := []string{
		"GET /healthz", "POST /healthz", "HEAD /healthz", "GET /healthz/x", "GET /", "GET //",
		"GET /openapi.json", "POST /openapi.json", "HEAD /context", "PUT /diagram.svg", "GET /openapi",
		"GET /events", "DELETE /events", "GET /events/x", "POST /events/x/y",
		"GET /queries", "GET /queries/nope", "GET /queries/open_carts", "POST /queries/open_carts", "GET /queries/a/b", "POST /queries/a/b",
		"GET /projections", "POST /projections", "GET /projections/a", "GET /projections/a/b", "POST /projections/a/bogus",
		"POST /projections/a/rebuild", "POST /projections/a/b/c",
		"GET /admin", "GET /admin/nope", "GET /admin/seed/x", "GET /admin/seed/cart/c1", "POST /admin/seed/nope/c1",
		"POST /admin/seed/cart/%01", "POST /admin/rehydrate/cart/c1", "POST /admin/rehydrate/cart/%01", "GET /admin/rehydrate/cart/c1",
		"GET /admin/storage", "POST /admin/storage", "GET /admin/storage/x",
		"GET /admin/projections/cart_summary/rows/c1", "POST /admin/projections/cart_summary/rows/c1", "GET /admin/projections/nope/rows/c1",
		"GET /admin/projections/cart_summary/rows", "GET /admin/projections",
		"GET /admin/dead-letters", "POST /admin/dead-letters", "GET /admin/dead-letters/abc", "POST /admin/dead-letters/abc/xyz",
		"GET /admin/dead-letters/5", "DELETE /admin/dead-letters/5", "GET /admin/dead-letters/5/retry", "POST /admin/dead-letters/5/retry",
		"POST /admin/dead-letters/5/foo", "DELETE /admin/dead-letters/5/retry/x", "DELETE /admin/dead-letters/-5",
		"GET /cart/c1", "POST /cart/c1", "HEAD /cart/c1", "GET /nope/c1", "POST /nope/c1", "GET /cart/%01",
		"GET /cart/c1/events", "POST /cart/c1/events", "GET /nope/c1/events", "GET /cart/c1/history", "HEAD /cart/c1/history",
		"POST /cart/c1/history", "PUT /cart/c1/history", "GET /nope/c1/history", "HEAD /cart/c1/Open", "POST /cart/c1/Nope",
		"POST /nope/c1/Open", "POST /cart/%01/Open", "POST /cart/c1/Open", "GET /cart/c1/x/y", "BREW /cart/c1",
		"POST /cart/Open", "PUT /cart/Open", "GET /cart/by/c/k", "POST /cart/by/c/k", "POST /cart/by/c/k/Open", "GET /nope/by/c/k",
	}
	var out strings.Builder
	for _, variant := range []struct {
		name  string
		s     *Service
		token string
	}{{"admin", full, "admin"}, {"user", full, "user"}, {"anonymous", full, ""}, {"bare", bare, ""}} {
		for _, req := range requests {
			method, path, _ := strings.Cut(req, " ")
			h := Header{"Content-Type": {"application/json"}}
			if variant.token != "" {
				h.Set("Authorization", "Bearer "+variant.token)
			}
			resp := variant.s.Serve(context.Background(), &Request{Method: method, Path: path, Header: h, Body: []byte(`{"events": [{"event": "x"}]}`)})
			fmt.Fprintf(&out, "%s %s: %d allow=%q %s\n", variant.name, req, resp.Status, resp.Header.Get("Allow"), resp.Body)
		}
	}
	const golden = "testdata/dispatch.golden"
	if *updateDispatch {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())
}
