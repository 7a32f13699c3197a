package native_e2e

import (
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestHostileHTTP runs the hostile-HTTP table (e2etest.HostileTable)
// against `cuesource serve`; e2e/workerd runs the same table against the
// Worker.
func TestHostileHTTP(t *testing.T) {
	skipShort(t)
	s := startServer(t, contextPath("contexts/example.cue"), t.TempDir(), "--token", e2etest.HostileToken)
	e2etest.RunHostile(t, s.url)
}
