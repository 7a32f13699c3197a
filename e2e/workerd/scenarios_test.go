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
	for _, tc := range []struct{ name, path string }{
		{"example", "contexts/example.cue"},
		{"tickets", "contexts/tickets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := contextPath(tc.path)
			w := startWorker(t, buildWorker(t, tc.path), "")
			e2etest.SameScenarios(t, binary, root, path, w.url, adminToken, "on workerd")
		})
	}
}
