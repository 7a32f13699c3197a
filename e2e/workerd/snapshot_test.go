//go:build unix

package workerd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// drift is the body of POST /admin/rehydrate.
type drift struct {
	Version      int64           `json:"version"`
	Events       int             `json:"events"`
	FromSnapshot int64           `json:"fromSnapshot"`
	Drifted      bool            `json:"drifted"`
	Rebuilt      json.RawMessage `json:"rebuilt"`
	Error        string          `json:"error"`
}

func rehydrateDrift(t *testing.T, c *client, agg, id string) drift {
	t.Helper()
	r, err := c.admin(http.MethodPost, "/admin/rehydrate"+instancePath(agg, id), nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("rehydrate %s %s: %v %v", agg, id, r, err)
	}
	var d drift
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatalf("rehydrate %s %s: %v: %s", agg, id, err, r.Body)
	}
	return d
}

// TestRehydrateFromObjectSnapshot: an Aggregate object keeps the snapshot
// a commit takes every N events in its storage, and rehydration starts
// from it, folding only the events after it, to the state the commands
// stored (the fold of every event from the first). A Worker whose
// definition folds events otherwise (its hash changed) ignores the old
// snapshot and folds from the first event.
func TestRehydrateFromObjectSnapshot(t *testing.T) {
	needWorkerd(t)
	src, err := os.ReadFile(contextPath("testdata/snapshots/counter.cue"))
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
	w := startWorker(t, build("v1", string(src)), persist)
	c := newClient(w.url)
	for _, tc := range []struct {
		agg      string
		commands []string
		snapped  int64 // the snapshot's version after them
	}{
		{"counter", []string{"Add", "Add", "Add", "Add", "Add", "Add", "Add"}, 6},
		{"counter", []string{"AddTwice", "AddTwice", "AddTwice", "Add"}, 6},
		{"often", []string{"Add", "Add", "AddTwice", "Noop", "AddTwice", "Add"}, 6},
		{"often", []string{"Add"}, 0},
	} {
		id := fmt.Sprintf("s-%s-%d", tc.agg, len(tc.commands))
		var version int64
		for i, name := range tc.commands {
			body := fmt.Sprintf(`{"by":%d}`, (i*37+11)%1000)
			if name == "Noop" {
				body = `{}`
			}
			status := http.StatusOK
			if version == 0 && name != "Noop" {
				status = http.StatusCreated
			}
			version = c.command(t, status, tc.agg, id, name, body).Version
		}
		d := rehydrateDrift(t, c, tc.agg, id)
		if d.Error != "" || d.Drifted || d.FromSnapshot != tc.snapped || int64(d.Events) != version-tc.snapped {
			t.Errorf("%s %s at version %d: rehydrated %+v, want from the snapshot at %d folding %d events, not drifted", tc.agg, id, version, d, tc.snapped, version-tc.snapped)
		}
		if got := c.instance(t, tc.agg, id); !e2etest.SameJSON(got.State, d.Rebuilt) {
			t.Errorf("%s %s: rebuilt from the snapshot %s, the state the commands stored (folded from the first event) %s", tc.agg, id, d.Rebuilt, got.State)
		}
	}
	c.Close()
	w.stop(10 * time.Second)

	// The reducer edited: the old snapshots are not this definition's.
	edited := strings.Replace(string(src), `n:     "(state.n * 31 + event.by) % 1000003"`, `n:     "(state.n * 37 + event.by) % 1000003"`, 1)
	if edited == string(src) {
		t.Fatal("the reducer to edit is not in the context")
	}
	w2 := startWorker(t, build("v2", edited), persist)
	c2 := newClient(w2.url)
	defer c2.Close()
	d := rehydrateDrift(t, c2, "counter", "s-counter-7")
	if d.Error != "" || d.FromSnapshot != 0 || d.Events != 7 || !d.Drifted {
		t.Errorf("rehydrated under an edited reducer: %+v, want from the first event (7 events), drifted", d)
	}
}

// TestSinceSnapshotPrunesOnWorkers: with sinceSnapshot, the events of an
// instance up to the snapshot its object keeps leave D1 for R2 (the
// Archiver asks the object which snapshot it has); the others stay; the
// log still reads whole, and rehydration still starts from the snapshot.
func TestSinceSnapshotPrunesOnWorkers(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	dir := buildWorkerAt(t, edited(t, "testdata/snapshots/counter.cue", `snapshots: every: 3`, "snapshots: every: 3\n\tretention: sinceSnapshot: true"))
	w := startWorker(t, dir, "")
	c := newClient(w.url)
	defer c.Close()
	// counter a: 7 events, a snapshot at 6; counter b: 2, none.
	acked := map[string]bool{}
	for i := range 7 {
		d := c.command(t, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[i == 0], "counter", "a", "Add", fmt.Sprintf(`{"by":%d}`, i))
		acked[d.Events[0].ID] = true
	}
	for i := range 2 {
		d := c.command(t, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[i == 0], "counter", "b", "Add", fmt.Sprintf(`{"by":%d}`, i))
		acked[d.Events[0].ID] = true
	}
	var st storageStatus
	if !e2etest.Until(30*time.Second, 50*time.Millisecond, func() bool {
		st = storageOf(t, c)
		return st.Head == 9 && st.Archived >= 6 && len(st.Segments) > 0 && sumHot(st) < st.Archived
	}) {
		t.Fatalf("counter a's events up to its snapshot did not leave D1: %+v", st)
	}
	checkIndex(t, st)
	evs, _ := checkWhole(t, c, acked)
	if len(evs) != 9 {
		t.Errorf("the log holds %d events, want 9", len(evs))
	}
	if d := rehydrateDrift(t, c, "counter", "a"); d.FromSnapshot != 6 || d.Drifted || d.Error != "" {
		t.Errorf("rehydrated %+v, want from the snapshot at 6", d)
	}
}

// sumHot is how many archived events D1 still holds.
func sumHot(st storageStatus) int64 {
	var n int64
	for _, s := range st.Segments {
		n += s.Hot
	}
	return n
}

// TestObjectLetsGoOfArchivedEvents: with keepLast, an instance's events
// that left D1 for R2 leave its object's storage too, up to its snapshot;
// its event pages then say where its history begins (hotFrom), its
// history still reads from the first event (from the archive), and
// rehydration starts from the snapshot, or, under a definition whose hash
// changed, from the first event read from the archive.
func TestObjectLetsGoOfArchivedEvents(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	const rel = "testdata/snapshots/counter.cue"
	keepLast := []string{`snapshots: every: 3`, "snapshots: every: 3\n\tretention: keepLast: 2"}
	persist := filepath.Join(t.TempDir(), "state")
	w := startWorker(t, buildWorkerAt(t, edited(t, rel, keepLast...)), persist)
	c := newClient(w.url)
	for i := range 8 {
		c.command(t, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[i == 0], "counter", "a", "Add", fmt.Sprintf(`{"by":%d}`, i*7))
	}
	var page struct {
		Events  []logEvent `json:"events"`
		HotFrom int64      `json:"hotFrom"`
	}
	if !e2etest.Until(30*time.Second, 50*time.Millisecond, func() bool {
		r, err := c.GetJSON(instancePath("counter", "a")+"/events", &page)
		return err == nil && r.Status == http.StatusOK && page.HotFrom == 7
	}) {
		t.Fatalf("the object kept its archived events: %+v (storage %+v)", page, storageOf(t, c))
	}
	if len(page.Events) != 2 || page.Events[0].Version != 7 {
		t.Errorf("the object's events: %+v, want versions 7 and 8", page.Events)
	}
	var hist struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if r, err := c.GetJSON(instancePath("counter", "a")+"/history", &hist); err != nil || r.Status != http.StatusOK || len(hist.Steps) != 8 {
		t.Errorf("history: %v %v, %d steps, want 8 from the first event", r, err, len(hist.Steps))
	}
	if d := rehydrateDrift(t, c, "counter", "a"); d.FromSnapshot != 6 || d.Events != 2 || d.Drifted || d.Error != "" {
		t.Errorf("rehydrated %+v, want from the snapshot at 6", d)
	}
	c.Close()
	w.stop(10 * time.Second)

	w2 := startWorker(t, buildWorkerAt(t, edited(t, rel, append(keepLast, `n:     "(state.n * 31 + event.by) % 1000003"`, `n:     "(state.n * 37 + event.by) % 1000003"`)...)), persist)
	c2 := newClient(w2.url)
	defer c2.Close()
	if d := rehydrateDrift(t, c2, "counter", "a"); d.FromSnapshot != 0 || d.Events != 8 || !d.Drifted || d.Error != "" {
		t.Errorf("rehydrated under an edited reducer: %+v, want from the first event (8, read from the archive), drifted", d)
	}
}

// TestSnapshotBeforePruneOnWorkers: an instance whose aggregate declares
// no snapshots is snapshotted by its object before its events leave D1
// (the archiver's Options.Snapshot, as natively), so its rehydration
// starts after them.
func TestSnapshotBeforePruneOnWorkers(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	dir := buildWorkerAt(t, edited(t, "testdata/snapshots/counter.cue", `snapshots: every: 3`, "retention: keepLast: 2"))
	w := startWorker(t, dir, "")
	c := newClient(w.url)
	defer c.Close()
	for i := range 5 {
		c.command(t, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[i == 0], "counter", "a", "Add", fmt.Sprintf(`{"by":%d}`, i*3))
	}
	var d drift
	if !e2etest.Until(30*time.Second, 100*time.Millisecond, func() bool {
		d = rehydrateDrift(t, c, "counter", "a")
		return d.FromSnapshot > 0
	}) {
		t.Fatalf("no snapshot before the prune: rehydrated %+v (storage %+v)", d, storageOf(t, c))
	}
	if d.FromSnapshot < 3 || d.Drifted || d.Error != "" || int64(d.Events) != 5-d.FromSnapshot {
		t.Errorf("rehydrated %+v, want from a snapshot at 3 or later", d)
	}
	if st := storageOf(t, c); st.Archived < 3 {
		t.Errorf("archived up to %d, want 3 or more", st.Archived)
	}
}
