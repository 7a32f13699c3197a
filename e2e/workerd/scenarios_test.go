//go:build unix

package workerd

import (
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestScenariosOnWorkerd plays every scenario of the repository's contexts
// against their Worker under workerd with `cuesource test --url`: the same
// scenarios pass as in process.
func TestScenariosOnWorkerd(t *testing.T) {
	needWorkerd(t)
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
			w := startWorker(t, buildWorker(t, tc.path), "")
			e2etest.SameScenarios(t, binary, root, path, w.url, adminToken, "on workerd", tc.args...)
		})
	}
}
