//go:build unix

package workerd

import (
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestHostileHTTP runs the hostile-HTTP table (e2etest.HostileTable)
// against the Worker under workerd; e2e/native runs the same table against
// `cuesource serve`.
func TestHostileHTTP(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "", "CUESOURCE_TOKEN="+e2etest.HostileToken)
	e2etest.RunHostile(t, w.url)
}
