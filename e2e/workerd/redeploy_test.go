package workerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestRedeployRebuildsChangedProjections is "edit the .cue file and
// deploy again" on persisted state: the Worker of the edited context finds
// the stored events and instances as they were, and rebuilds the
// projection whose definition changed from the log, without waiting for a
// command and without serving the old definition's rows meanwhile.
func TestRedeployRebuildsChangedProjections(t *testing.T) {
	needWorkerd(t)
	src, err := os.ReadFile(contextPath("e2e/workerd/testdata/ratios.cue"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	build := func(name, text string) string {
		t.Helper()
		ctx := filepath.Join(tmp, name+".cue")
		if err := os.WriteFile(ctx, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, name)
		if _, stderr, code := runCLI(t, time.Minute, "worker", "build", ctx, "-o", dir, "--wasm", engineWasm); code != 0 {
			t.Fatalf("worker build %s: %s", name, stderr)
		}
		return dir
	}
	persist := filepath.Join(tmp, "state")
	rows := func(c *client) string {
		t.Helper()
		r, err := c.Request("GET", "/queries/all_ratios", nil)
		if err != nil || r.Status != 200 {
			t.Fatalf("query: %v %v", r, err)
		}
		return string(r.Body)
	}

	w := startWorker(t, build("v1", string(src)), persist)
	c := newClient(w.url)
	// Before any command the projection has no table yet: a query answers
	// its rows, none, as natively (D1 would say "no such table").
	if got := rows(c); !strings.HasPrefix(got, `{"projections":[{"name":"ratios",`) || !strings.Contains(got, `"query":"all_ratios","rows":[],"stale":false}`) {
		t.Fatalf("rows before any command: %s", got)
	}
	c.command(t, 201, "meter", "a", "Read", `{"by":4}`)
	c.command(t, 201, "meter", "b", "Read", `{"by":5}`)
	c.command(t, 200, "meter", "a", "Read", `{"by":10}`)
	var before projectionState
	e2etest.WaitFor(t, 20*time.Second, "the projection caught up", func() bool {
		before = status(t, c)
		return before.State == "running" && before.Position == 3
	})
	if got := rows(c); !strings.Contains(got, `"ratio":10`) || !strings.Contains(got, `"ratio":20`) {
		t.Fatalf("rows before the change: %s", got)
	}
	aBefore := c.instance(t, "meter", "a")
	c.Close()
	w.stop(20 * time.Second)

	// The edited context: the ratio is now per thousand.
	edited := strings.Replace(string(src), `"100 / event.by"`, `"1000 / event.by"`, 1)
	if edited == string(src) {
		t.Fatal("the edit changed nothing")
	}
	w = startWorker(t, build("v2", edited), persist)
	c = newClient(w.url)
	defer c.Close()
	if a := c.instance(t, "meter", "a"); a.Version != aBefore.Version || !e2etest.SameJSON(a.State, aBefore.State) {
		t.Fatalf("meter a after the redeploy: %+v, was %+v", a, aBefore)
	}
	// No command comes: the first query has the projector reset the
	// changed projection and rebuild it in the background. No read shows
	// the old definition: its rows, its hash or a state the API does not
	// list.
	if got := rows(c); strings.Contains(got, `"ratio":10,`) || strings.Contains(got, `"ratio":20,`) {
		t.Fatalf("a query after the redeploy served the old definition's rows: %s", got)
	}
	var rebuilt projectionState
	e2etest.WaitFor(t, 20*time.Second, "the changed projection rebuilt without a command", func() bool {
		rebuilt = status(t, c)
		if rebuilt.Hash == before.Hash || (rebuilt.State != "rebuilding" && rebuilt.State != "running") {
			t.Fatalf("status after the redeploy: %+v, the old hash was %s", rebuilt, before.Hash)
		}
		if got := rows(c); strings.Contains(got, `"ratio":10,`) || strings.Contains(got, `"ratio":20,`) {
			t.Fatalf("a query during the rebuild served the old definition's rows: %s", got)
		}
		return rebuilt.State == "running" && rebuilt.Position == 3
	})
	if got := rows(c); !strings.Contains(got, `"meter":"a","ratio":100,"reads":2`) || !strings.Contains(got, `"meter":"b","ratio":200,"reads":1`) {
		t.Fatalf("rows after the rebuild: %s", got)
	}

	// Commands go on as before.
	c.command(t, 200, "meter", "b", "Read", `{"by":50}`)
	var after projectionState
	e2etest.WaitFor(t, 20*time.Second, "the projection caught up", func() bool {
		after = status(t, c)
		return after.Hash == rebuilt.Hash && after.State == "running" && after.Position == 4
	})
	got := rows(c)
	// a: 1000/10 (its last read), b: 1000/50; every read counted once.
	if !strings.Contains(got, `"meter":"a","ratio":100,"reads":2`) || !strings.Contains(got, `"meter":"b","ratio":20,"reads":2`) {
		t.Fatalf("rows after the rebuild: %s", got)
	}
}
