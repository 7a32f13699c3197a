package cuesource

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Drift compares an instance's stored state with the fold of its events.
type Drift struct {
	Aggregate string `json:"aggregate"`
	ID        string `json:"id"`
	Version   int64  `json:"version"`
	// Events counts the events folded: those after FromSnapshot.
	Events int `json:"events"`
	// FromSnapshot is the version of the snapshot the fold started from;
	// 0: it started from the first event.
	FromSnapshot int64           `json:"fromSnapshot,omitempty"`
	Drifted      bool            `json:"drifted"`
	Stored       json.RawMessage `json:"stored,omitempty"`
	Rebuilt      json.RawMessage `json:"rebuilt,omitempty"`
	Fixed        bool            `json:"fixed"`
	Error        string          `json:"error,omitempty"` // the replay failed
}

// Compare rebuilds the state of cur from its events.
func Compare(p *interpreter.Program, cur store.Instance, events []store.Event) *Drift {
	return CompareFrom(p, cur, nil, events)
}

// CompareFrom rebuilds the state of cur from snap (nil: from the first
// event) and the events after it. snap must be one UsableSnapshot
// accepts.
func CompareFrom(p *interpreter.Program, cur store.Instance, snap *store.Snapshot, events []store.Event) *Drift {
	d := &Drift{Aggregate: cur.Aggregate, ID: cur.ID, Version: cur.Version, Events: len(events)}
	var from engine.Current
	if snap != nil {
		s, err := value.DecodeStored(snap.State)
		if err != nil {
			d.Error = fmt.Sprintf("snapshot at version %d: %v", snap.Version, err)
			return d
		}
		from, d.FromSnapshot = engine.Current{State: s, Version: snap.Version}, snap.Version
	}
	var evs []engine.Event
	for _, e := range events {
		pl, err := value.DecodeStored(e.Payload)
		typ := e.Type
		if err == nil {
			typ, pl, err = p.ReadEvent(cur.Aggregate, e.Type, e.SchemaVersion, pl)
		}
		if err != nil {
			d.Error = fmt.Sprintf("event %s: %v", e.ID, err)
			return d
		}
		rec := interpreter.ReadRecorded(e.Meta)
		evs = append(evs, engine.Event{ID: e.ID, Type: typ, Version: e.Version, Time: e.Time, Payload: pl, Recorded: &rec})
	}
	folded, err := engine.FoldFrom(p, cur.Aggregate, cur.ID, from, evs, engine.Options{})
	if err != nil {
		d.Error = err.Error()
		return d
	}
	rebuilt, _ := value.Encode(folded.State)
	d.Rebuilt = rebuilt
	if cur.Version == 0 {
		return d
	}
	stored, err := value.DecodeStored(cur.State)
	d.Stored = cur.State
	d.Drifted = err != nil || folded.Version != cur.Version || !value.Equal(stored, folded.State)
	return d
}

// UsableSnapshot reports whether snap may start the rehydration of cur
// under p: it was taken under the aggregate's current definition (its
// hash) and at a version the instance has reached. Any other snapshot is
// ignored, and the fold starts from the first event.
func UsableSnapshot(p *interpreter.Program, cur store.Instance, snap store.Snapshot) bool {
	a := p.Aggregates[cur.Aggregate]
	return a != nil && snap.Aggregate == cur.Aggregate && snap.Instance == cur.ID &&
		snap.Hash == a.Hash && snap.Version > 0 && snap.Version <= cur.Version
}

// Rehydrate rebuilds the state of cur and compares it with the stored
// one: from snap when it is usable (see UsableSnapshot), folding only the
// events after it, else from the first event. read returns the
// instance's events after a version, in order. A snapshot that cannot be
// folded on (its state does not decode, or the events after it do not
// fold on it) is ignored too: the events are the source of truth, and the
// fold starts again from the first one.
func Rehydrate(p *interpreter.Program, cur store.Instance, snap *store.Snapshot, read func(after int64) ([]store.Event, error)) (*Drift, error) {
	if snap != nil && UsableSnapshot(p, cur, *snap) {
		evs, err := read(snap.Version)
		if err != nil {
			return nil, err
		}
		if d := CompareFrom(p, cur, snap, evs); d.Error == "" {
			return d, nil
		}
	}
	evs, err := read(0)
	if err != nil {
		return nil, err
	}
	return Compare(p, cur, evs), nil
}

// snapshotOf is the snapshot a commit takes, nil for none: one when its
// events, from version from to version to, reach or pass a multiple of
// the aggregate's snapshot interval. state is the state at to. Both
// runtimes take snapshots by this rule.
func snapshotOf(p *interpreter.Program, aggregate, id string, from, to int64, state json.RawMessage, at time.Time) *store.Snapshot {
	a := p.Aggregates[aggregate]
	if a == nil || a.SnapshotEvery <= 0 || to <= from {
		return nil
	}
	if n := int64(a.SnapshotEvery); to/n == from/n {
		return nil
	}
	return &store.Snapshot{Aggregate: aggregate, Instance: id, Version: to, State: state, Hash: a.Hash, Time: at}
}
