package workerd

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// projectionState is one projection's status without what differs by
// runtime by design (nothing here does: the hash is the definition's).
type projectionState struct {
	Name          string `json:"name"`
	Mode          string `json:"mode"`
	State         string `json:"state"`
	Position      int64  `json:"position"`
	Head          int64  `json:"head"`
	Lag           int64  `json:"lag"`
	Hash          string `json:"hash"`
	Error         string `json:"error"`
	ErrorPosition int64  `json:"errorPosition"`
}

func status(t *testing.T, c *client) projectionState {
	t.Helper()
	var st struct {
		Projections []projectionState `json:"projections"`
	}
	if r, err := c.GetJSON("/projections", &st); err != nil || len(st.Projections) != 1 {
		t.Fatalf("GET /projections: %v %v", r, err)
	}
	return st.Projections[0]
}

// TestProjectorFailures drives a projection that fails on one event through
// failure, resume, skip and rebuild on the native server and on the Worker
// (D1 and the projector object), and requires the same status and rows at
// every step.
func TestProjectorFailures(t *testing.T) {
	needWorkerd(t)
	ctx := "e2e/workerd/testdata/ratios.cue"
	srv := startServer(t, contextPath(ctx), t.TempDir())
	w := startWorker(t, buildWorker(t, ctx), "")
	targets := map[string]*client{"native": newClient(srv.url), "worker": newClient(w.url)}
	for _, c := range targets {
		defer c.Close()
	}
	// each runs a step on both and waits until their projection is in the
	// state want; then both must give the same status and rows.
	each := func(step string, want string, do func(c *client)) projectionState {
		t.Helper()
		var got []projectionState
		var rows []string
		for _, name := range []string{"native", "worker"} {
			c := targets[name]
			do(c)
			var st projectionState
			e2etest.WaitFor(t, 20*time.Second, fmt.Sprintf("%s: %s: the projection %s", name, step, want), func() bool {
				st = status(t, c)
				return st.State == want && (want != "running" || st.Lag == 0)
			})
			got = append(got, st)
			r, err := c.Request("GET", "/queries/all_ratios", nil)
			if err != nil || r.Status != 200 {
				t.Fatalf("%s: %s: the query: %v %v", name, step, r, err)
			}
			rows = append(rows, string(r.Body))
		}
		if got[0] != got[1] {
			t.Fatalf("%s: the status differs:\nnative %+v\nworker %+v", step, got[0], got[1])
		}
		if !e2etest.SameJSON([]byte(rows[0]), []byte(rows[1])) {
			t.Fatalf("%s: the rows differ:\nnative %s\nworker %s", step, rows[0], rows[1])
		}
		return got[0]
	}
	admin := func(c *client, path string, want int) {
		t.Helper()
		r, err := c.admin("POST", path, nil)
		if err != nil || r.Status != want {
			t.Fatalf("POST %s: %v %v, want %d", path, r, err, want)
		}
	}

	st := each("commands", "failed", func(c *client) {
		c.command(t, 201, "meter", "a", "Read", `{"by":4}`)
		c.command(t, 201, "meter", "b", "Read", `{"by":0}`) // 100/0: no finite REAL
		c.command(t, 200, "meter", "a", "Read", `{"by":5}`)
	})
	if st.Position != 1 || st.ErrorPosition != 2 || !strings.Contains(st.Error, "REAL takes finite numbers") {
		t.Fatalf("after the failing event: %+v", st)
	}
	each("resume (the event fails again)", "failed", func(c *client) { admin(c, "/projections/ratios/resume", 200) })
	st = each("skip", "running", func(c *client) { admin(c, "/projections/ratios/skip", 200) })
	if st.Position != 3 {
		t.Fatalf("after skip: %+v, want position 3", st)
	}
	// Skipping a projection that is running is a conflict.
	for name, c := range targets {
		r, err := c.admin("POST", "/projections/ratios/skip", nil)
		if err != nil || r.Status != 409 {
			t.Fatalf("%s: skip of a running projection: %v %v, want 409", name, r, err)
		}
	}
	var q struct {
		Rows []map[string]any `json:"rows"`
	}
	if r, err := targets["worker"].GetJSON("/queries/all_ratios", &q); err != nil || len(q.Rows) != 1 || fmt.Sprint(q.Rows[0]["reads"]) != "2" {
		t.Fatalf("rows after skip: %v %v %s", q, err, r)
	}
	// A rebuild replays the log and stops at the failing event again.
	st = each("rebuild", "failed", func(c *client) { admin(c, "/projections/ratios/rebuild", 200) })
	if st.Position != 1 || st.ErrorPosition != 2 {
		t.Fatalf("after rebuild: %+v", st)
	}
	each("more commands, still failed", "failed", func(c *client) { c.command(t, 201, "meter", "c", "Read", `{"by":10}`) })
	var bad struct {
		Kind string `json:"kind"`
	}
	r, err := targets["worker"].admin("POST", "/projections/nope/rebuild", nil)
	if err != nil || r.Status != 404 || json.Unmarshal(r.Body, &bad) != nil || bad.Kind != "unknown_projection" {
		t.Fatalf("rebuild of an unknown projection: %v %v", r, err)
	}
}
