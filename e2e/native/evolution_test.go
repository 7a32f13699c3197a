//go:build unix

package native_e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestEvolution deploys a new definition of a context over the data the
// old one wrote (the story of e2e/e2etest/evolution.go): every reader sees
// the old events at the current version and under the current name, as
// stored with ?raw=true, and the states, projections and rehydration
// computed through the lenses equal what the old definition computed;
// `cuesource lens check` passes the new definition and refuses a broken
// one, naming the events it cannot read.
func TestEvolution(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	v1, v2 := contextPath(e2etest.EvolutionV1), contextPath(e2etest.EvolutionV2)

	// v1 writes its events.
	srv := startServer(t, v1, data)
	c := newClient(srv.url)
	c.Play(t, e2etest.EvolutionV1Commands)
	c.CheckStates(t, "v1", e2etest.EvolutionStatesV1)
	before := c.WaitRows(t, "v1's projections", e2etest.EvolutionV1Events, e2etest.EvolutionRowsV1)
	e2etest.CheckEvolutionLog(t, "v1: GET /events?raw=true", c.WaitEvents(t, e2etest.EvolutionV1Events, true), e2etest.EvolutionV1Events, true)
	c.Close()
	stop(t, srv)

	// v2 over the same data, validating every payload it reads and every
	// state it computes (--strict).
	srv = startServer(t, v2, data, "--strict")
	c = newClient(srv.url)
	defer c.Close()
	c.PlayEvolutionV2(t, before, func(id string, version int64) { checkNoDrift(t, c, id, version) })

	// The CI check before a deploy: over the stored log, exported from the
	// running server and from the data directory once it stopped.
	dir := t.TempDir()
	fromURL, fromData := filepath.Join(dir, "url.ndjson"), filepath.Join(dir, "data.ndjson")
	if _, stderr, code := runCLI(t, time.Minute, "export", v2, "--url", srv.url, "-o", fromURL); code != 0 {
		t.Fatalf("export --url: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := runCLI(t, time.Minute, "lens", "check", v2, "--from", srv.url)
	e2etest.CheckLensCheckPasses(t, "lens check v2 --from the server", stdout, stderr, code)
	stop(t, srv)
	if _, stderr, code := runCLI(t, time.Minute, "export", v2, "--data", data, "-o", fromData); code != 0 {
		t.Fatalf("export --data: exit %d: %s", code, stderr)
	}
	checkExport(t, fromURL, fromData)

	stdout, stderr, code = runCLI(t, time.Minute, "lens", "check", v2, "--events", fromData)
	e2etest.CheckLensCheckPasses(t, "lens check v2 --events", stdout, stderr, code)
	broken := contextPath(e2etest.EvolutionBroken)
	if _, stderr, code := runCLI(t, time.Minute, "vet", broken); code != 0 {
		t.Fatalf("vet %s: exit %d, want 0 (its faults show only on stored data):\n%s", e2etest.EvolutionBroken, code, stderr)
	}
	stdout, stderr, code = runCLI(t, time.Minute, "lens", "check", broken, "--events", fromData)
	e2etest.CheckLensCheckFails(t, "lens check broken --events", stdout, stderr, code)

	// Offline, every instance rebuilds from its events to its stored state.
	stdout, stderr, code = runCLI(t, time.Minute, "rehydrate", v2, "--data", data, "--json")
	var rep struct {
		Instances int `json:"instances"`
		Drifted   int `json:"drifted"`
		Failed    int `json:"failed"`
	}
	if err := json.Unmarshal(stdout, &rep); err != nil || code != 0 || rep.Instances != 3 || rep.Drifted != 0 || rep.Failed != 0 {
		t.Errorf("rehydrate v2 --data: exit %d, %+v (%v), want 3 instances, none drifted or failed:\n%s\n%s", code, rep, err, stdout, stderr)
	}
}

// checkNoDrift rehydrates a cart through the admin route: its events,
// read through the lenses, give its stored state.
func checkNoDrift(t *testing.T, c *client, id string, version int64) {
	t.Helper()
	if drifted, rerr, v := c.rehydrate(t, "cart", id); drifted || rerr != "" || v != version {
		t.Errorf("rehydrate cart %s: drifted %v, error %q, version %d; want no drift at version %d", id, drifted, rerr, v, version)
	}
}

// checkExport checks that the export from the running server and from its
// data directory are the same bytes: the stored events, as written.
func checkExport(t *testing.T, fromURL, fromData string) {
	t.Helper()
	a, _ := os.ReadFile(fromURL)
	b, _ := os.ReadFile(fromData)
	if string(a) != string(b) {
		t.Fatalf("the exports differ:\n--url:\n%s\n--data:\n%s", a, b)
	}
	var evs []e2etest.StoredEvent
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		var ev e2etest.StoredEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	e2etest.CheckEvolutionLog(t, "export", evs, e2etest.EvolutionEvents, true)
}

// stop ends a server with SIGTERM and waits for it to exit 0.
func stop(t *testing.T, s *server) {
	t.Helper()
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, ok := s.exited(20 * time.Second); !ok || code != 0 {
		t.Fatalf("the server did not exit 0 within 20s of SIGTERM (exited %v, code %d):\n%s", ok, code, s.logTail(20))
	}
}
