//go:build unix

package native_e2e

import (
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestScenariosOverHTTP plays every scenario of the repository's contexts
// against a real server with `cuesource test --url`: the HTTP scenario
// runner must agree with the in-process one.
func TestScenariosOverHTTP(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name, path string
		args       []string
	}{
		{"example", "contexts/example.cue", nil},
		{"tickets", "contexts/tickets", nil},
		// Its look-ups name products by the ids in payloads: ids as
		// written, each scenario's its own.
		{"carts", "contexts/carts", []string{"--keep-ids"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := contextPath(tc.path)
			srv := startServer(t, path, t.TempDir())
			e2etest.SameScenarios(t, binary, root, path, srv.url, adminToken, "over HTTP", tc.args...)
		})
	}
}
