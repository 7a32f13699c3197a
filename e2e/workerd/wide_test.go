package workerd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWideProjection: a D1 table holds at most 100 columns. A projection
// of 99 columns (and its key) runs on Workers, written and read back whole
// (its upsert binds the 100 parameters D1 allows); one of 100 is refused by
// `cuesource worker build`, positioned, rather than failing in D1.
func TestWideProjection(t *testing.T) {
	needWorkerd(t)
	tooWide := wideContext(100)
	tmp := t.TempDir()
	path := filepath.Join(tmp, "toowide.cue")
	if err := os.WriteFile(path, []byte(tooWide), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, time.Minute, "worker", "build", path, "-o", filepath.Join(tmp, "no"), "--wasm", engineWasm)
	if code != 1 || !strings.Contains(string(stderr), "toowide.cue:") ||
		!strings.Contains(string(stderr), "projection wide has 100 columns and its key: a D1 table holds at most 100 columns") {
		t.Fatalf("worker build of a 100-column projection: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(tmp, "no")); err == nil {
		t.Fatal("the refused build wrote its directory")
	}

	path = filepath.Join(tmp, "wide.cue")
	if err := os.WriteFile(path, []byte(wideContext(99)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "worker")
	if _, stderr, code := runCLI(t, time.Minute, "worker", "build", path, "-o", dir, "--wasm", engineWasm); code != 0 {
		t.Fatalf("worker build: %s", stderr)
	}
	w := startWorker(t, dir, "")
	c := newClient(w.url)
	defer c.Close()
	c.command(t, 201, "meter", "m", "Set", `{"n":1000}`)
	c.command(t, 200, "meter", "m", "Set", `{"n":2000}`)
	var q struct {
		Rows []map[string]any `json:"rows"`
	}
	if r, err := c.GetJSON("/queries/edges", &q); err != nil || r.Status != 200 {
		t.Fatalf("query: %v %v", r, err)
	}
	if len(q.Rows) != 1 || fmt.Sprint(q.Rows[0]) != "map[c000:2000 c050:2050 c098:2098 key:m]" {
		t.Fatalf("rows: %v", q.Rows)
	}
}

// wideContext is a context whose projection has n INTEGER columns.
func wideContext(n int) string {
	var cols, upsert []string
	for i := range n {
		cols = append(cols, fmt.Sprintf("c%03d: \"INTEGER\"", i))
		upsert = append(upsert, fmt.Sprintf("c%03d: \"event.n + %d\"", i, i))
	}
	return fmt.Sprintf(`package wide

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "wide"
	aggregates: meter: {
		#state: {n: int}
		initial: {n: 0}
		commands: Set: {
			instance: "any"
			#payload: n: int
			emit: [{event: "Set", payload: n: "cmd.n"}]
		}
		events: Set: {
			#payload: n: int
			apply: n: "event.n"
		}
	}
	projections: wide: {
		mode: "inline"
		columns: {%s}
		on: "meter.Set": upsert: {%s}
	}
	queries: edges: sql: "SELECT key, c000, c050, c098 FROM wide ORDER BY key"
}
`, strings.Join(cols, ", "), strings.Join(upsert, ", "))
}
