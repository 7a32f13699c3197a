//go:build unix

package playground_e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"testing"
)

// TestConnect: the page pointed by Connect at another origin that allows
// it by CORS, with a token. A server with a token refuses the page until
// then; through Connect the page reads the model and sends a command from
// its form, and, since the live stream cannot carry a token, it polls the
// log and shows an event written from outside.
func TestConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and drives Chromium; skipped under -short")
	}
	root := moduleRoot(t)
	bin := setup(t, root)
	page := start(t, bin, root, "cuesource: shop at ", "serve", filepath.Join(root, "contexts", "example.cue"),
		"--data", t.TempDir(), "--token", "user-token", "--admin-token", "admin-token")
	other := httptest.NewServer(allowCORS(page))
	defer other.Close()
	browse(t, root, "connect", "connect.mjs", page+"/", other.URL)
}

// allowCORS forwards to target and allows every origin: another server
// that lets the page in.
func allowCORS(target string) http.Handler {
	u, _ := url.Parse(target)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(u) },
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("Access-Control-Allow-Origin", "*")
			resp.Header.Set("Access-Control-Expose-Headers", "ETag, Location")
			return nil
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Idempotency-Key, If-Match")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}
