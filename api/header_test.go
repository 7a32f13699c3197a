package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The package's own header map and reason phrases behave as net/http's.
func TestHeaderAsNetHTTP(t *testing.T) {
	for _, k := range []string{"content-type", "IF-MATCH", "idempotency-key", "x-cuesource-error", "Etag", "a b", "X_y", "", "-x-"} {
		assert.Equal(t, http.CanonicalHeaderKey(k), canonicalKey(k), "%q", k)
	}
	h := Header{}
	h.Add("if-match", `W/"1"`)
	h.Add("If-Match", `W/"2"`)
	assert.Equal(t, `W/"1"`, h.Get("IF-MATCH"))
	h.Set("if-match", "*")
	assert.Equal(t, []string{"*"}, h["If-Match"])
	h.Del("If-match")
	assert.Empty(t, h)
	for code := 0; code < 1000; code++ {
		assert.Equal(t, http.StatusText(code), StatusText(code), "%d", code)
	}
}
