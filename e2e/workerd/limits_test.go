package workerd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const limitsContext = `package limited

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "limited"
	limits: {stateBytes: 300, queryRows: 2, queryBytes: 500}
	aggregates: note: {
		#state: {text: string}
		initial: {text: ""}
		commands: Set: {
			instance: "any"
			#payload: text: string
			emit: [{event: "Set", payload: text: "cmd.text"}]
		}
		events: Set: {
			#payload: text: string
			apply: text: "event.text"
		}
	}
	projections: notes: {
		mode: "inline"
		columns: text: "TEXT"
		on: "note.Set": upsert: text: "event.text"
	}
	queries: {
		all: sql: "SELECT key, text FROM notes ORDER BY key"
		sixfold: {
			sql: "SELECT key, text || text || text || text || text || text AS t FROM notes WHERE key = :key"
			#params: key: string
		}
	}
}
`

// The context's limits hold on Workers as natively: a command whose state
// would be over stateBytes is refused (422 state_too_large) and writes
// nothing; a query over queryRows or queryBytes on D1 fails with 422
// query_too_large naming the limit.
func TestLimitsOnWorkers(t *testing.T) {
	needWorkerd(t)
	_, dir := buildSource(t, "limited.cue", limitsContext)
	w := startWorker(t, dir, "")
	c := newClient(w.url)
	defer c.Close()
	text := strings.Repeat("x", 100)
	problem := func(path string, status int, kind, limit string) {
		t.Helper()
		var p map[string]any
		r, err := c.Request("GET", path, nil)
		if err == nil {
			err = json.Unmarshal(r.Body, &p)
		}
		if err != nil || r.Status != status || p["kind"] != kind || p["limit"] != limit {
			t.Fatalf("GET %s: %v %v, want %d %s naming %s", path, r, err, status, kind, limit)
		}
	}

	c.command(t, 201, "note", "n1", "Set", `{"text":"`+text+`"}`)
	c.command(t, 201, "note", "n2", "Set", `{"text":"`+text+`"}`)
	var q struct {
		Rows []map[string]any `json:"rows"`
	}
	if r, err := c.GetJSON("/queries/all", &q); err != nil || r.Status != 200 || len(q.Rows) != 2 {
		t.Fatalf("two rows, under the limits: %v %v %v", r, err, q.Rows)
	}
	problem("/queries/sixfold?key=n1", 422, "query_too_large", "queryBytes")
	c.command(t, 201, "note", "n3", "Set", `{"text":"y"}`)
	problem("/queries/all", 422, "query_too_large", "queryRows")

	r, err := c.Post("/note/n4/Set", "", []byte(`{"text":"`+strings.Repeat("z", 400)+`"}`))
	if err != nil || r.Status != 422 {
		t.Fatalf("a state over stateBytes: %v %v", r, err)
	}
	var p map[string]any
	if err := json.Unmarshal(r.Body, &p); err != nil || p["kind"] != "state_too_large" || p["limit"] != "stateBytes" {
		t.Fatalf("a state over stateBytes: %s", r.Body)
	}
	if r, err := c.Request("GET", "/note/n4", nil); err != nil || r.Status != 404 {
		t.Fatalf("the refused command wrote its instance: %v %v", r, err)
	}
}

const pagesContext = `package pages

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "pages"
	aggregates: log: {
		#state: {n: int}
		initial: {n: 0}
		commands: Write: {
			instance: "any"
			#payload: text: string
			emit: [{event: "Written", payload: text: "cmd.text"}]
		}
		events: Written: {
			#payload: text: string
			apply: n: "state.n + 1"
		}
	}
}
`

// A page of events holds store.PageBytes of payloads and one event more,
// in D1 and the Durable Object's storage as in SQLite: six events of about
// 0.95 MB of one instance come as a page of five and a page of one, read
// from the global log and from the instance, from the Worker and from
// serve alike.
func TestPageBytesOnD1(t *testing.T) {
	needWorkerd(t)
	path, dir := buildSource(t, "pages.cue", pagesContext)
	srv := startServer(t, path, t.TempDir())
	w := startWorker(t, dir, "")
	text := strings.Repeat("x", 950_000)
	for name, base := range map[string]string{"native": srv.url, "worker": w.url} {
		c := newClient(base)
		c.command(t, 201, "log", "one", "Write", `{"text":"`+text+`"}`)
		for range 5 {
			c.command(t, 200, "log", "one", "Write", `{"text":"`+text+`"}`)
		}
		c.waitLog(t, 6, 30*time.Second)
		for _, read := range []string{"/events?limit=10&after=", "/log/one/events?limit=10&after="} {
			var sizes []int
			for after := int64(0); ; {
				var page struct {
					Events []json.RawMessage `json:"events"`
					Next   int64             `json:"next"`
				}
				r, err := c.GetJSON(read+fmt.Sprint(after), &page)
				if err != nil || r.Status != 200 {
					t.Fatalf("%s: GET %s%d: %v %v", name, read, after, r, err)
				}
				if len(page.Events) == 0 {
					break
				}
				sizes = append(sizes, len(page.Events))
				after = page.Next
			}
			if !slices.Equal(sizes, []int{5, 1}) {
				t.Errorf("%s: %s...: pages of %v events, want [5 1]", name, read, sizes)
			}
		}
		c.Close()
	}
}

// buildSource writes a context's source to a file named name and builds
// its Worker; it returns the file and the Worker's directory.
func buildSource(t *testing.T, name, src string) (path, dir string) {
	t.Helper()
	tmp := t.TempDir()
	path = filepath.Join(tmp, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, "worker")
	if _, stderr, code := runCLI(t, time.Minute, "worker", "build", path, "-o", dir, "--wasm", engineWasm); code != 0 {
		t.Fatalf("worker build %s: %s", name, stderr)
	}
	return path, dir
}
