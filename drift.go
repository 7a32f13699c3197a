package cuesource

import (
	"encoding/json"
	"fmt"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Drift compares an instance's stored state with the fold of its events.
type Drift struct {
	Aggregate string          `json:"aggregate"`
	ID        string          `json:"id"`
	Version   int64           `json:"version"`
	Events    int             `json:"events"`
	Drifted   bool            `json:"drifted"`
	Stored    json.RawMessage `json:"stored,omitempty"`
	Rebuilt   json.RawMessage `json:"rebuilt,omitempty"`
	Fixed     bool            `json:"fixed"`
	Error     string          `json:"error,omitempty"` // the replay failed
}

// Compare rebuilds the state of cur from its events.
func Compare(p *interpreter.Program, cur store.Instance, events []store.Event) *Drift {
	d := &Drift{Aggregate: cur.Aggregate, ID: cur.ID, Version: cur.Version, Events: len(events)}
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
		evs = append(evs, engine.Event{ID: e.ID, Type: typ, Version: e.Version, Time: e.Time, Payload: pl})
	}
	folded, err := engine.Fold(p, cur.Aggregate, cur.ID, evs, engine.Options{})
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
