package cuesource

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// SeedRequest writes given events to a new instance: how scenarios are
// played over HTTP against any runtime, and how history is imported. It is
// an admin operation: the events bypass commands and guards (each is still
// validated against its #payload and folded through the reducers).
type SeedRequest struct {
	Aggregate string      `json:"aggregate"`
	ID        string      `json:"id"`
	Events    []SeedEvent `json:"events"`
	CommandID string      `json:"commandId"` // set by the server, never by the body
	Time      time.Time   `json:"time"`
}

// SeedEvent is one given event. With a version, it is stored at that
// version (its payload fits that version's definition; event may be a
// former name) and read through the lenses, as old history is.
type SeedEvent struct {
	Event   string          `json:"event"`
	Version *int            `json:"version,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// At is when the event happened; nil: the previous event's time, or
	// the seed's.
	At *time.Time `json:"at,omitempty"`
}

// DecideSeed decides a seed on the instance snapshot cur: the instance
// must not exist yet.
func DecideSeed(p *interpreter.Program, cur store.Instance, req *SeedRequest) Decision {
	if cur.Version > 0 {
		return rejected(engine.KindInstanceExists, fmt.Sprintf("%s %s already exists; seeding needs a new instance", req.Aggregate, req.ID))
	}
	if len(req.Events) == 0 {
		return rejected(KindInvalidBody, "events must list at least one event")
	}
	commit := &store.Commit{Aggregate: req.Aggregate, Instance: req.ID}
	var evs []engine.Event
	at := req.Time
	for i, se := range req.Events {
		if se.At != nil {
			at = se.At.UTC().Truncate(time.Millisecond) // the precision both runtimes store
		}
		var pl any = map[string]any{}
		if len(se.Payload) > 0 && string(se.Payload) != "null" {
			v, err := value.Decode(se.Payload, value.Limits{})
			if err != nil {
				return rejected(engine.KindInvalidJSON, fmt.Sprintf("events[%d].payload: %v", i, err))
			}
			pl = v
		}
		e := engine.Event{ID: fmt.Sprintf("%s-%d", req.CommandID, i+1), Type: se.Event, Version: int64(i + 1), Time: at, Payload: pl}
		enc, _ := value.Encode(pl)
		if max := p.Limits.EventBytes; len(enc) > max {
			return Decision{Answer: overLimit(engine.KindEventTooLarge, "eventBytes", max, len(enc),
				fmt.Sprintf("events[%d].payload is %d bytes, over the context's limit eventBytes (%d)", i, len(enc), max))}
		}
		stored := store.Event{ID: e.ID, Aggregate: req.Aggregate, Instance: req.ID,
			Version: e.Version, Type: e.Type, Time: e.Time, CommandID: req.CommandID, Payload: enc}
		et := p.Aggregates[req.Aggregate].Event(se.Event)
		switch {
		case et != nil && se.Version != nil:
			if *se.Version < 0 || *se.Version > et.Version() {
				return rejected(KindInvalidBody, fmt.Sprintf("events[%d].version: %s has versions 0 to %d", i, et.Name, et.Version()))
			}
			if vs := et.ValidateAt(*se.Version, pl); len(vs) > 0 {
				return Decision{Answer: Answer{Rejection: &Rejection{Kind: engine.KindSchema, Violations: vs,
					Message: fmt.Sprintf("events[%d]: %s at version %d does not fit its definition", i, et.Name, *se.Version)}}}
			}
			stored.SchemaVersion = *se.Version
			var err error
			if e.Type, e.Payload, err = p.ReadEvent(req.Aggregate, se.Event, *se.Version, pl); err != nil {
				return rejected(KindLensFailed, fmt.Sprintf("events[%d]: %v", i, err))
			}
		case et != nil:
			stored.SchemaVersion = et.Version()
			e.Type = et.Name
		}
		evs = append(evs, e)
		commit.Events = append(commit.Events, stored)
	}
	folded, err := engine.Fold(p, req.Aggregate, req.ID, evs, engine.Options{Strict: true})
	var ee *engine.Error
	if errors.As(err, &ee) && ee.Kind == engine.KindInvalidState {
		// Here the client wrote the payload: a bad one is its mistake.
		return Decision{Answer: Answer{Rejection: &Rejection{Kind: engine.KindSchema, Message: ee.Message, Violations: ee.Violations, Name: ee.Name}}}
	}
	if err != nil {
		return Decision{Answer: rejection(err, 0)}
	}
	commit.State, _ = value.Encode(folded.State)
	if max := p.Limits.StateBytes; len(commit.State) > max {
		return Decision{Answer: overLimit(engine.KindStateTooLarge, "stateBytes", max, len(commit.State),
			fmt.Sprintf("the state of %s %s after these events would be %d bytes, over the context's limit stateBytes (%d)", req.Aggregate, req.ID, len(commit.State), max))}
	}
	// Seeded events claim keys as a command's do: the world a seed states
	// (a scenario's given events) holds its keys.
	claims, rej := keyClaims(p.Aggregates[req.Aggregate], evs, &CommandRequest{Aggregate: req.Aggregate, Command: "seed"})
	if rej != nil {
		return Decision{Answer: Answer{Rejection: rej}}
	}
	commit.Unique = claims
	commit.Snapshot = snapshotOf(p, req.Aggregate, req.ID, 0, folded.Version, commit.State, req.Time)
	body, _ := value.Encode(map[string]any{"version": folded.Version, "state": folded.State})
	return Decision{Commit: commit, Answer: Answer{Version: folded.Version, Created: true, Body: body}}
}
