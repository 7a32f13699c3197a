package native_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
)

const counting = "../testdata/snapshots/counter.cue"

// compileContext compiles the context at path, after replacing each old
// text of edits with the new one (a definition edited between runs).
func compileContext(t *testing.T, path string, edits ...string) *interpreter.Program {
	t.Helper()
	if len(edits) > 0 {
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		text := string(src)
		for i := 0; i < len(edits); i += 2 {
			require.Contains(t, text, edits[i])
			text = strings.Replace(text, edits[i], edits[i+1], 1)
		}
		path = filepath.Join(t.TempDir(), filepath.Base(path))
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	}
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

func backendOf(t *testing.T, p *interpreter.Program, st store.Store) *native.Backend {
	t.Helper()
	b := native.New(p, st, engine.Options{})
	t.Cleanup(b.Close)
	return b
}

// Rehydration from a snapshot equals rehydration from the first event:
// random command sequences (one, two or no events each) on instances
// snapshotted every 3 and every 2 events; after every command the
// instance is rehydrated, from the snapshot its last commit over a
// multiple took, and compared with the fold of all its events and with
// its stored state.
func TestRehydrateFromSnapshotEqualsFromFirstEvent(t *testing.T) {
	p := compileContext(t, counting)
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			b := backendOf(t, p, st)
			rng := rand.New(rand.NewPCG(15, uint64(len(sc.name))))
			for round := range 8 {
				aggregate := []string{"counter", "often"}[round%2]
				id := fmt.Sprintf("r%d", round)
				every := int64(p.Aggregates[aggregate].SnapshotEvery)
				var version, snapped int64
				for range 5 + rng.IntN(25) {
					name := []string{"Add", "Add", "AddTwice", "Noop"}[rng.IntN(4)]
					payload := fmt.Sprintf(`{"by":%d}`, rng.IntN(1001))
					if name == "Noop" {
						payload = `{}`
					}
					status := http.StatusOK
					if version == 0 && name != "Noop" {
						status = http.StatusCreated
					}
					d := execute(t, b, command(aggregate, id, name, payload), status)
					if d.Version/every > version/every {
						snapped = d.Version
					}
					version = d.Version

					dr, err := b.Rehydrate(t.Context(), aggregate, id, false)
					require.NoError(t, err)
					require.Empty(t, dr.Error)
					assert.Equal(t, snapped, dr.FromSnapshot, "%s %s at version %d", aggregate, id, version)
					assert.Equal(t, int(version-snapped), dr.Events, "only the events after the snapshot are folded")
					assert.False(t, dr.Drifted, "stored %s, rebuilt %s", dr.Stored, dr.Rebuilt)

					cur, err := st.Load(t.Context(), aggregate, id)
					require.NoError(t, err)
					all, err := st.Events(t.Context(), aggregate, id, 0, 0)
					require.NoError(t, err)
					full := cuesource.Compare(p, cur, all)
					require.Empty(t, full.Error)
					assert.Equal(t, len(all), full.Events)
					assert.Zero(t, full.FromSnapshot)
					if version > 0 {
						assert.JSONEq(t, string(full.Rebuilt), string(dr.Rebuilt), "from the snapshot and from the first event")
					}
				}
			}
		})
	}
}

// A snapshot taken under a definition that folds events otherwise (here a
// reducer edited) is ignored: rehydration folds every event, and finds
// the state the old reducer stored drifted. A change that does not fold
// events (a guard) keeps the snapshot.
func TestRehydrateIgnoresSnapshotOfChangedDefinition(t *testing.T) {
	st := openSQLite(t)
	ctx := t.Context()
	old := compileContext(t, counting)
	b := backendOf(t, old, st)
	for i := range 5 {
		execute(t, b, command("counter", "c1", "Add", fmt.Sprintf(`{"by":%d}`, i+1)), map[bool]int{true: http.StatusCreated, false: http.StatusOK}[i == 0])
	}
	d, err := b.Rehydrate(ctx, "counter", "c1", false)
	require.NoError(t, err)
	assert.Equal(t, int64(3), d.FromSnapshot)
	assert.Equal(t, 2, d.Events)
	b.Close()

	guarded := compileContext(t, counting, `emit: [{event: "Added", payload: by: "cmd.by"}]`,
		`require: "not too much": "cmd.by < 1000"
			emit: [{event: "Added", payload: by: "cmd.by"}]`)
	require.Equal(t, old.Aggregates["counter"].Hash, guarded.Aggregates["counter"].Hash)
	d, err = backendOf(t, guarded, st).Rehydrate(ctx, "counter", "c1", false)
	require.NoError(t, err)
	assert.Equal(t, int64(3), d.FromSnapshot, "a guard does not fold events")
	assert.False(t, d.Drifted)

	edited := compileContext(t, counting, `last:  "event.by"`, `last:  "event.by * 10"`)
	require.NotEqual(t, old.Aggregates["counter"].Hash, edited.Aggregates["counter"].Hash)
	nb := backendOf(t, edited, st)
	d, err = nb.Rehydrate(ctx, "counter", "c1", false)
	require.NoError(t, err)
	assert.Zero(t, d.FromSnapshot, "the old definition's snapshot is ignored")
	assert.Equal(t, 5, d.Events)
	assert.True(t, d.Drifted, "the old reducer's state against the new one's")
	assert.Equal(t, float64(50), jsonField(t, d.Rebuilt, "last"))
	assert.Equal(t, float64(5), jsonField(t, d.Stored, "last"))

	// The new definition takes its own snapshot at the next multiple, and
	// starts from it.
	execute(t, nb, command("counter", "c1", "Add", `{"by":6}`), http.StatusOK)
	d, err = nb.Rehydrate(ctx, "counter", "c1", true)
	require.NoError(t, err)
	assert.Equal(t, int64(6), d.FromSnapshot)
	assert.Zero(t, d.Events)
	snap, ok, err := st.Snapshot(ctx, "counter", "c1", edited.Aggregates["counter"].Hash)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(6), snap.Version)
	_, ok, err = st.Snapshot(ctx, "counter", "c1", old.Aggregates["counter"].Hash)
	require.NoError(t, err)
	assert.False(t, ok, "replaced by the newer one")
}

// The fold really starts from the snapshot: one whose state is not the
// fold of the events before it shows as drift; one that cannot be read is
// ignored, and the fold starts from the first event.
func TestRehydrateStartsFromSnapshot(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			p := compileContext(t, counting)
			st := sc.open(t)
			ss := st.(store.Snapshots)
			b := backendOf(t, p, st)
			ctx := t.Context()
			for i := range 4 {
				execute(t, b, command("counter", "c1", "Add", `{"by":1}`), map[bool]int{true: http.StatusCreated, false: http.StatusOK}[i == 0])
			}
			hash := p.Aggregates["counter"].Hash
			require.NoError(t, ss.SaveSnapshot(ctx, store.Snapshot{Aggregate: "counter", Instance: "c1", Version: 3,
				State: json.RawMessage(`{"n":500,"last":1,"count":3}`), Hash: hash, Time: time.Now()}))
			d, err := b.Rehydrate(ctx, "counter", "c1", false)
			require.NoError(t, err)
			assert.Equal(t, int64(3), d.FromSnapshot)
			assert.True(t, d.Drifted)
			assert.Equal(t, float64(500*31+1), jsonField(t, d.Rebuilt, "n"))

			require.NoError(t, ss.SaveSnapshot(ctx, store.Snapshot{Aggregate: "counter", Instance: "c1", Version: 3,
				State: json.RawMessage(`{"n":"not a number"}`), Hash: hash, Time: time.Now()}))
			d, err = b.Rehydrate(ctx, "counter", "c1", false)
			require.NoError(t, err)
			assert.Zero(t, d.FromSnapshot, "a snapshot the reducers cannot fold on")
			assert.Equal(t, 4, d.Events)
			assert.False(t, d.Drifted)
			assert.Empty(t, d.Error)

			// A snapshot past the instance's version is no snapshot of it.
			require.NoError(t, ss.SaveSnapshot(ctx, store.Snapshot{Aggregate: "counter", Instance: "c1", Version: 9,
				State: json.RawMessage(`{"n":1,"last":1,"count":9}`), Hash: hash, Time: time.Now()}))
			d, err = b.Rehydrate(ctx, "counter", "c1", false)
			require.NoError(t, err)
			assert.Zero(t, d.FromSnapshot)
			assert.False(t, d.Drifted)
		})
	}
}

func jsonField(t *testing.T, doc json.RawMessage, field string) any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(doc, &m), "%s", doc)
	return m[field]
}
