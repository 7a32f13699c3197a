//go:build unix

package native_e2e

import (
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// Expressions that needed gigabytes or minutes are refused one by one
// with 422 budget_exceeded while the server serves; a stored event that a
// projection and an effect cannot handle fails them alone, and the server
// restarts over it and listens.
func TestHostileDefinition(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	ctx := contextPath(e2etest.HostileContext)
	srv := startServer(t, ctx, data)
	c := newClient(srv.url)
	c.PlayHostile(t, "b1")
	n := c.PlayPoison(t, "p1", 1)
	c.Close()
	stop(t, srv)

	// A new poison after the restart fails the projection again, and the
	// server is up to say so.
	srv = startServer(t, ctx, data)
	c = newClient(srv.url)
	defer c.Close()
	c.PlayPoison(t, "p2", n)
	if code, ok := srv.exited(0); ok {
		t.Fatalf("the server exited (%d):\n%s", code, srv.logTail(20))
	}
}
