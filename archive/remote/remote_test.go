package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/archive/remote"
)

// The client reads at most a bound of each answer, sends the admin
// token, turns object_not_found into archive.ErrNotFound, and never
// writes.
func TestClientBounds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer adm" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/admin/archive/segments":
			// A page far over any the API writes: read no further than
			// the bound.
			_, _ = w.Write([]byte(`{"segments": [`))
			for range 1 << 20 {
				if _, err := w.Write([]byte(strings.Repeat(" ", 1024))); err != nil {
					return
				}
			}
		case "/admin/archive/segments/" + archive.Name(1, 2):
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind": "object_not_found", "detail": "the archive holds no segment named it"}`))
		}
	}))
	defer srv.Close()
	c := remote.New(srv.URL+"/", "adm")
	ctx := context.Background()

	_, err := remote.Index{C: c}.Segments(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the answer is over")

	_, err = remote.Target{C: c}.Get(ctx, archive.Name(1, 2))
	assert.True(t, errors.Is(err, archive.ErrNotFound), "%v", err)

	assert.ErrorContains(t, remote.Target{C: c}.Put(ctx, archive.Name(1, 2), []byte("x")), "read-only")

	_, err = remote.Target{C: remote.New(srv.URL, "wrong")}.List(ctx)
	var re *remote.Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, re.Status)
}
