package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// The inspector's routes: what the playground shows besides the API a
// client uses. GET /context describes the context, and GET
// /{aggregate}/{id}/history replays an instance event by event.

// contextDoc describes the context: its aggregates with their commands
// (payload schema, instance rule, guards), events (payload schema,
// version, former names), invariants and state schema, and the read side.
// retentionDoc is a declared retention as GET /context shows it.
type retentionDoc struct {
	KeepFor       string `json:"keepFor,omitempty"`
	KeepLast      int64  `json:"keepLast,omitempty"`
	SinceSnapshot bool   `json:"sinceSnapshot,omitempty"`
	HotBytes      int64  `json:"hotBytes,omitempty"`
}

func retentionOf(r *manifest.Retention) *retentionDoc {
	if r == nil {
		return nil
	}
	return &retentionDoc{KeepFor: r.KeepFor, KeepLast: r.KeepLast, SinceSnapshot: r.SinceSnapshot, HotBytes: r.HotBytes}
}

func contextDoc(p *interpreter.Program) []byte {
	m := p.Manifest
	type command struct {
		Payload  json.RawMessage `json:"payload"`
		Instance string          `json:"instance"`
		Guards   []string        `json:"guards"`
	}
	type event struct {
		Payload json.RawMessage `json:"payload"`
		Version int             `json:"version"`
		Aliases []string        `json:"aliases"`
	}
	type snapshots struct {
		Every int `json:"every"`
	}
	type aggregate struct {
		Commands   map[string]command `json:"commands"`
		Events     map[string]event   `json:"events"`
		Invariants []string           `json:"invariants"`
		State      json.RawMessage    `json:"state"`
		// Retention: the aggregate's own, when it declares one.
		Retention *retentionDoc `json:"retention,omitempty"`
		Snapshots *snapshots    `json:"snapshots,omitempty"` // in effect: the aggregate's, else the context's
	}
	type projection struct {
		Mode    string            `json:"mode"`
		Columns map[string]string `json:"columns"`
	}
	type query struct {
		Params json.RawMessage `json:"params"`
	}
	type effect struct {
		On       []string `json:"on"`
		Delivery string   `json:"delivery"`
	}
	doc := struct {
		Name        string                `json:"name"`
		Aggregates  map[string]aggregate  `json:"aggregates"`
		Projections map[string]projection `json:"projections"`
		Queries     map[string]query      `json:"queries"`
		Effects     map[string]effect     `json:"effects"`
		// Retention: the context's, when it declares one.
		Retention *retentionDoc `json:"retention,omitempty"`
		Snapshots *snapshots    `json:"snapshots,omitempty"`
	}{Name: m.Name, Aggregates: map[string]aggregate{}, Projections: map[string]projection{}, Queries: map[string]query{}, Effects: map[string]effect{}}
	for name, ma := range m.Aggregates {
		a := aggregate{Commands: map[string]command{}, Events: map[string]event{}, Invariants: []string{}, State: ma.State}
		for cn, mc := range ma.Commands {
			c := command{Payload: mc.Payload, Instance: mc.Instance, Guards: []string{}}
			for _, g := range mc.Require {
				c.Guards = append(c.Guards, g.Name)
			}
			a.Commands[cn] = c
		}
		for en, me := range ma.Events {
			e := event{Payload: me.Payload, Version: len(me.Lenses), Aliases: []string{}}
			for _, al := range me.Aliases {
				e.Aliases = append(e.Aliases, al.Name)
			}
			a.Events[en] = e
		}
		for _, inv := range ma.Invariants {
			a.Invariants = append(a.Invariants, inv.Name)
		}
		a.Retention = retentionOf(ma.Retention)
		if pa := p.Aggregates[name]; pa != nil && pa.SnapshotEvery > 0 {
			a.Snapshots = &snapshots{Every: pa.SnapshotEvery}
		}
		doc.Aggregates[name] = a
	}
	doc.Retention = retentionOf(m.Retention)
	if m.Snapshots != nil {
		doc.Snapshots = &snapshots{Every: m.Snapshots.Every}
	}
	for name, mp := range m.Projections {
		doc.Projections[name] = projection{Mode: mp.Mode, Columns: mp.Columns}
	}
	for name, mq := range m.Queries {
		doc.Queries[name] = query{Params: mq.Params}
	}
	for name, me := range m.Effects {
		doc.Effects[name] = effect{On: me.On, Delivery: me.Delivery}
	}
	b, _ := value.Encode(doc)
	return b
}

// Step is one event of an instance's history: the event as readers see
// it, as stored, at each version its lenses lead through, and the state
// after it.
type Step struct {
	Event  store.Event `json:"event"`
	Stored struct {
		Type          string          `json:"type"`
		SchemaVersion int             `json:"schemaVersion"`
		Payload       json.RawMessage `json:"payload"`
	} `json:"stored"`
	Lenses []LensVersion `json:"lenses"`
	State  any           `json:"state,omitempty"`
	Error  string        `json:"error,omitempty"` // the event could not be read or applied; the history ends here
}

// LensVersion is an event's payload at one version.
type LensVersion struct {
	Version int `json:"version"`
	Payload any `json:"payload"`
}

// MaxHistory is the most steps GET /{aggregate}/{id}/history answers.
// A step carries the event three ways and the whole state after it, so
// the answer grows with steps × state: 10,000 steps of a state of a few
// KiB is tens of MiB, about what one response should hold. A longer
// history is read in pages (GET /{aggregate}/{id}/events?after=).
const MaxHistory = 10000

// history answers GET /{aggregate}/{id}/history: the instance replayed
// from its initial state, event by event, as rehydration replays it.
func (s *Service) history(ctx context.Context, c *call) Response {
	a, agg, id := c.a, c.agg, c.id
	// The version is the count of the instance's events: one past the
	// limit is refused before any of them is read.
	inst, err := s.backend.Load(ctx, agg, id)
	if err != nil {
		return internal(err)
	}
	if inst.Version > int64(s.opt.MaxHistory) {
		return s.historyTooLong(agg, id, inst.Version)
	}
	evs, err := s.backend.Events(ctx, agg, id, 0, 0)
	if err != nil {
		return internal(err)
	}
	if len(evs) == 0 {
		return problem(statusNotFound, string(engine.KindInstanceMissing), fmt.Sprintf("%s %s does not exist", agg, id))
	}
	if n := len(evs); n > s.opt.MaxHistory {
		// Commands since the version was read.
		return s.historyTooLong(agg, id, evs[n-1].Version)
	}
	steps := make([]Step, 0, len(evs))
	state := a.Initial()
	for _, e := range evs {
		var st Step
		st.Stored.Type, st.Stored.SchemaVersion, st.Stored.Payload = e.Type, e.SchemaVersion, e.Payload
		steps = append(steps, st)
		cur := &steps[len(steps)-1]
		fail := func(format string, args ...any) Response {
			cur.Event = e
			cur.Error = fmt.Sprintf(format, args...)
			return s.historyResponse(agg, id, a, steps)
		}
		et := a.Event(e.Type)
		if et == nil {
			return fail("%s has no event %s", agg, e.Type)
		}
		pl, err := value.DecodeStored(e.Payload)
		if err != nil {
			return fail("payload: %v", err)
		}
		versions, err := et.Versions(e.SchemaVersion, pl)
		for i, v := range versions {
			cur.Lenses = append(cur.Lenses, LensVersion{Version: e.SchemaVersion + i, Payload: v})
		}
		if err != nil {
			return fail("%v", err)
		}
		read := versions[len(versions)-1]
		cur.Event = e
		cur.Event.Type, cur.Event.SchemaVersion = et.Name, et.Version()
		if cur.Event.Payload, err = value.Encode(read); err != nil {
			return fail("%v", err)
		}
		state, err = engine.Evolve(s.prog, agg, id, state, engine.Event{ID: e.ID, Type: et.Name, Version: e.Version, Time: e.Time, Payload: read, Recorded: recordedOf(e.Meta)}, engine.Options{})
		if err != nil {
			return fail("%v", err)
		}
		cur.State = state
	}
	return s.historyResponse(agg, id, a, steps)
}

// historyTooLong answers a history over the limit: 422
// history_too_long, with the instance's version and the limit.
func (s *Service) historyTooLong(agg, id string, version int64) Response {
	return problemWith(statusUnprocessableEntity, "history_too_long",
		fmt.Sprintf("%s %s has %d events, over the limit of %d steps of a history; read its events in pages: GET %s/events?after=", agg, id, version, s.opt.MaxHistory, InstancePath(agg, id)),
		map[string]any{"version": version, "limit": s.opt.MaxHistory})
}

func (s *Service) historyResponse(agg, id string, a *interpreter.Aggregate, steps []Step) Response {
	return jsonResponse(statusOK, map[string]any{
		"aggregate": agg, "id": id, "version": steps[len(steps)-1].Event.Version, "initial": a.Initial(), "steps": steps,
	})
}
