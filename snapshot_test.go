package cuesource_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
)

func counting(t testing.TB) *interpreter.Program {
	t.Helper()
	m, err := compiler.Compile("testdata/snapshots/counter.cue")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

var at = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// The context's interval holds for an aggregate that declares none; an
// aggregate's own overrides it.
func TestSnapshotsEffective(t *testing.T) {
	p := counting(t)
	assert.Equal(t, 3, p.Aggregates["counter"].SnapshotEvery)
	assert.Equal(t, 2, p.Aggregates["often"].SnapshotEvery)
	assert.Equal(t, 3, p.Manifest.Snapshots.Every)
	assert.Nil(t, p.Manifest.Aggregates["counter"].Snapshots)
}

// Decide takes a snapshot in exactly the commits whose events reach or
// pass a multiple of every, of the state the commit stores.
func TestDecideSnapshotsAtMultiples(t *testing.T) {
	p := counting(t)
	for _, tc := range []struct {
		aggregate string
		commands  []string // Add: one event, AddTwice: two, Noop: none
		want      []int64  // the snapshot of each commit's version, 0: none
	}{
		{"counter", []string{"Add", "Add", "Add", "Add", "Add", "Add", "Add"}, []int64{0, 0, 3, 0, 0, 6, 0}},
		{"counter", []string{"AddTwice", "AddTwice", "AddTwice", "Add"}, []int64{0, 4, 6, 0}}, // 0→2, 2→4 passes 3, 4→6 reaches 6
		{"counter", []string{"Add", "Add", "Noop", "Add"}, []int64{0, 0, 0, 3}},
		{"often", []string{"Add", "Add", "AddTwice", "Noop", "AddTwice", "Add"}, []int64{0, 2, 4, 0, 6, 0}},
	} {
		t.Run(tc.aggregate, func(t *testing.T) {
			cur := store.Instance{Aggregate: tc.aggregate, ID: "c1"}
			for i, name := range tc.commands {
				req := &cuesource.CommandRequest{Aggregate: tc.aggregate, ID: "c1", Command: name, CommandID: cuesource.NewID(),
					Payload: json.RawMessage(`{"by": 7}`), ExpectedVersion: engine.AnyVersion, Time: at}
				if name == "Noop" {
					req.Payload = json.RawMessage(`{}`)
				}
				d := cuesource.Decide(p, cur, nil, req, engine.Options{})
				require.Nil(t, d.Answer.Rejection, "command %d", i)
				snap := d.Commit.Snapshot
				if tc.want[i] == 0 {
					assert.Nil(t, snap, "command %d (%s) to version %d", i, name, d.Answer.Version)
				} else if assert.NotNil(t, snap, "command %d (%s) to version %d", i, name, d.Answer.Version) {
					assert.Equal(t, store.Snapshot{Aggregate: tc.aggregate, Instance: "c1", Version: tc.want[i], State: d.Commit.State,
						Hash: p.Aggregates[tc.aggregate].Hash, Time: at}, *snap)
					assert.Equal(t, d.Answer.Version, snap.Version)
				}
				cur = store.Instance{Aggregate: tc.aggregate, ID: "c1", Version: d.Answer.Version, State: d.Commit.State}
			}
		})
	}
}

// A seed takes a snapshot as a command does: when its events reach or
// pass a multiple.
func TestSeedSnapshots(t *testing.T) {
	p := counting(t)
	seed := func(n int) cuesource.Decision {
		req := &cuesource.SeedRequest{Aggregate: "counter", ID: "s1", CommandID: "seed", Time: at}
		for i := range n {
			req.Events = append(req.Events, cuesource.SeedEvent{Event: "Added", Payload: json.RawMessage(fmt.Sprintf(`{"by": %d}`, i))})
		}
		d := cuesource.DecideSeed(p, store.Instance{Aggregate: "counter", ID: "s1"}, req)
		require.Nil(t, d.Answer.Rejection)
		return d
	}
	assert.Nil(t, seed(2).Commit.Snapshot)
	d := seed(7)
	require.NotNil(t, d.Commit.Snapshot)
	assert.Equal(t, store.Snapshot{Aggregate: "counter", Instance: "s1", Version: 7, State: d.Commit.State,
		Hash: p.Aggregates["counter"].Hash, Time: at}, *d.Commit.Snapshot)
	assert.NotNil(t, seed(3).Commit.Snapshot)
}

// The definition hash changes with what folds events into the state, and
// only with that.
func TestDefinitionHash(t *testing.T) {
	p := counting(t)
	base := p.Manifest.Aggregates["counter"]
	h := interpreter.DefinitionHash(base)
	assert.Equal(t, p.Aggregates["counter"].Hash, h)
	assert.Equal(t, h, p.Aggregates["often"].Hash, "the same definition: the snapshot interval does not fold")
	assert.Len(t, h, 64)

	edit := func(f func(a *manifest.Aggregate)) string {
		b, err := json.Marshal(base)
		require.NoError(t, err)
		var a manifest.Aggregate
		require.NoError(t, json.Unmarshal(b, &a))
		f(&a)
		return interpreter.DefinitionHash(&a)
	}
	changes := map[string]func(a *manifest.Aggregate){
		"reducer": func(a *manifest.Aggregate) { a.Events["Added"].Apply.Fields[0].Expr.Src = "state.n + event.by" },
		"initial": func(a *manifest.Aggregate) { a.Initial = json.RawMessage(`{"count":0,"last":0,"n":1}`) },
		"state":   func(a *manifest.Aggregate) { a.State = json.RawMessage(`{"type":"object"}`) },
		"payload": func(a *manifest.Aggregate) { a.Events["Added"].Payload = json.RawMessage(`{"type":"object"}`) },
		"alias":   func(a *manifest.Aggregate) { a.Events["Added"].Aliases = []manifest.Alias{{Name: "Incremented"}} },
		"lens": func(a *manifest.Aggregate) {
			a.Events["Added"].Lenses = []manifest.Lens{{From: json.RawMessage(`{}`), Up: manifest.Shape{Whole: &manifest.Expr{Src: "{by: 1}"}}}}
		},
		"event": func(a *manifest.Aggregate) { a.Events["Removed"] = &manifest.Event{Payload: json.RawMessage(`{}`)} },
		"event name": func(a *manifest.Aggregate) {
			a.Events["Increased"] = a.Events["Added"]
			delete(a.Events, "Added")
		},
	}
	for name, f := range changes {
		assert.NotEqual(t, h, edit(f), name)
	}
	same := map[string]func(a *manifest.Aggregate){
		"positions": func(a *manifest.Aggregate) {
			a.Pos.Line += 10
			e := a.Events["Added"]
			e.Pos.Line += 10
			for i := range e.Apply.Fields {
				e.Apply.Fields[i].Expr.Pos.Line += 10
			}
		},
		"a guard": func(a *manifest.Aggregate) {
			a.Commands["Add"].Require = []manifest.Named{{Name: "no", Expr: manifest.Expr{Src: "false"}}}
		},
		"an invariant": func(a *manifest.Aggregate) {
			a.Invariants = []manifest.Named{{Name: "positive", Expr: manifest.Expr{Src: "state.n >= 0"}}}
		},
		"a command":     func(a *manifest.Aggregate) { delete(a.Commands, "Noop") },
		"the snapshots": func(a *manifest.Aggregate) { a.Snapshots = &manifest.Snapshots{Every: 100} },
	}
	for name, f := range same {
		assert.Equal(t, h, edit(f), name)
	}
}

// A Worker compiles the manifest `worker build` wrote (indented JSON) with
// CompileChecked: it gets the hashes and intervals the CUE file gives.
func TestDefinitionHashSurvivesTheManifestFile(t *testing.T) {
	m, err := compiler.Compile("testdata/snapshots/counter.cue")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	var back manifest.Manifest
	require.NoError(t, json.Unmarshal(data, &back))
	checked, err := interpreter.CompileChecked(&back)
	require.NoError(t, err)
	for name, a := range p.Aggregates {
		assert.Equal(t, a.Hash, checked.Aggregates[name].Hash, name)
		assert.Equal(t, a.SnapshotEvery, checked.Aggregates[name].SnapshotEvery, name)
	}
}
