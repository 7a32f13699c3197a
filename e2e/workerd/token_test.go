package workerd

import (
	"net/http"
	"testing"
)

// TestTokenOnWorker: the Worker reads CUESOURCE_TOKEN from its vars as
// `cuesource serve` reads it from the environment: every route but
// /healthz needs it (or the admin token).
func TestTokenOnWorker(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "", "CUESOURCE_TOKEN=user-token")
	c := newClient(w.url)
	defer c.Close()
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", http.StatusOK},
		{"/openapi.json", "", http.StatusUnauthorized},
		{"/openapi.json", "Bearer nope", http.StatusUnauthorized},
		{"/openapi.json", "Bearer user-token", http.StatusOK},
		{"/openapi.json", "Bearer " + adminToken, http.StatusOK},
	} {
		var h []string
		if tc.auth != "" {
			h = []string{"Authorization", tc.auth}
		}
		r, err := c.Request(http.MethodGet, tc.path, nil, h...)
		if err != nil || r.Status != tc.want {
			t.Errorf("GET %s with %q: %v %v, want %d", tc.path, tc.auth, r, err, tc.want)
		}
		if tc.want == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s with %q: 401 without WWW-Authenticate", tc.path, tc.auth)
		}
	}
}
