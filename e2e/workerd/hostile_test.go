//go:build unix

package workerd

import (
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// The hostile definition on the Worker: every expression that needed
// gigabytes or minutes is refused with 422 budget_exceeded in bounded time
// while the isolate serves on, and a poison event fails its projection and
// its effect alone.
func TestHostileDefinition(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, e2etest.HostileContext), "")
	c := newClient(w.url)
	defer c.Close()
	c.PlayHostile(t, "b1")
	c.PlayPoison(t, "p1", 1)
}
