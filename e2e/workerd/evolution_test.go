//go:build unix

package workerd

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestEvolution is the event evolution story of e2e/e2etest/evolution.go
// on Workers: v1's Worker writes its events (Durable Object storage and
// D1) and stops; v2's Worker starts on the same persisted state. Every
// read, from the objects (an instance's events) and from D1 (the log, its
// live stream, the projections), shows the old events through the lenses
// and aliases, and as stored with ?raw=true; states rehydrate without
// drift; the changed projections are rebuilt through the lenses; and
// `cuesource lens check --from` the Worker passes v2 and refuses a broken
// definition. The same story played on `cuesource serve` gives the same
// event reads, rows and states.
func TestEvolution(t *testing.T) {
	needWorkerd(t)
	v1, v2 := buildWorker(t, e2etest.EvolutionV1), buildWorker(t, e2etest.EvolutionV2)
	persist := filepath.Join(t.TempDir(), "state")

	w := startWorker(t, v1, persist)
	c := newClient(w.url)
	c.Play(t, e2etest.EvolutionV1Commands)
	c.CheckStates(t, "v1", e2etest.EvolutionStatesV1)
	before := c.WaitRows(t, "v1's projections", e2etest.EvolutionV1Events, e2etest.EvolutionRowsV1)
	e2etest.CheckEvolutionLog(t, "v1: GET /events?raw=true", c.WaitEvents(t, e2etest.EvolutionV1Events, true), e2etest.EvolutionV1Events, true)
	c.Close()
	if code := w.stop(20 * time.Second); code != 0 {
		t.Fatalf("v1's harness exited %d after its stdin closed, want 0:\n%s", code, w.logTail(20))
	}

	w = startWorker(t, v2, persist)
	c = newClient(w.url)
	defer c.Close()
	c.PlayEvolutionV2(t, before, func(id string, version int64) { checkNoDrift(t, c, id, version) })

	// The CI check before a deploy, over the Worker's stored log.
	stdout, stderr, code := runCLI(t, time.Minute, "lens", "check", contextPath(e2etest.EvolutionV2), "--from", w.url)
	e2etest.CheckLensCheckPasses(t, "lens check v2 --from the Worker", stdout, stderr, code)
	stdout, stderr, code = runCLI(t, time.Minute, "lens", "check", contextPath(e2etest.EvolutionBroken), "--from", w.url)
	e2etest.CheckLensCheckFails(t, "lens check broken --from the Worker", stdout, stderr, code)

	// The same story on the native server: the same reads.
	data := t.TempDir()
	srv := startServer(t, contextPath(e2etest.EvolutionV1), data)
	nc := newClient(srv.url)
	nc.Play(t, e2etest.EvolutionV1Commands)
	nc.Close()
	stopServer(t, srv)
	srv = startServer(t, contextPath(e2etest.EvolutionV2), data)
	p := &pair{native: newClient(srv.url), worker: c}
	defer p.native.Close()
	p.native.Play(t, e2etest.EvolutionV2Commands)
	p.native.WaitRows(t, "native v2's projections", int64(e2etest.EvolutionEvents), e2etest.EvolutionRowsV2)
	for _, path := range []string{
		"/events", "/events?raw=true", "/events?after=5&limit=3", "/events?after=5&limit=3&raw=true",
		"/cart/a/events", "/cart/b/events", "/cart/c/events",
		"/cart/a/events?raw=true", "/cart/b/events?raw=true", "/cart/c/events?raw=true", "/cart/b/events?after=1",
		"/cart/a", "/cart/b", "/cart/c", "/queries/all_carts", "/queries/all_skus",
	} {
		p.do(t, http.StatusOK, http.MethodGet, path, nil)
	}
	p.do(t, http.StatusBadRequest, http.MethodGet, "/events?raw=yes", nil)
	p.do(t, http.StatusBadRequest, http.MethodGet, "/cart/a/events?raw=1", nil)
}

// checkNoDrift rehydrates a cart through the admin route: its events,
// read through the lenses, give its stored state.
func checkNoDrift(t *testing.T, c *client, id string, version int64) {
	t.Helper()
	if drifted, rerr, v := c.rehydrate(t, "cart", id); drifted || rerr != "" || v != version {
		t.Errorf("rehydrate cart %s: drifted %v, error %q, version %d; want no drift at version %d", id, drifted, rerr, v, version)
	}
}

// stopServer ends a native server with SIGTERM and waits for it to exit
// 0.
func stopServer(t *testing.T, s *server) {
	t.Helper()
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("the native server exited %d after SIGTERM, want 0:\n%s", code, tail(s.logPath, 20))
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the native server did not exit within 20s of SIGTERM")
	}
}
