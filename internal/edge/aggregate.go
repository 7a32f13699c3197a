package edge

import (
	"encoding/json"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// The functions an Aggregate Durable Object calls inside its storage
// transaction: the object reads its rows, calls one of them once, and
// writes the commit it gets back (or nothing).

// wireRecord is an idempotency row.
type wireRecord struct {
	Key         string `json:"key"`
	RequestHash string `json:"request_hash"`
	Response    string `json:"response"`
	Time        string `json:"time"`
}

// WireCommit is what an object writes: the instance row, the event rows
// and the idempotency record, with every JSON value as the string to
// store.
type WireCommit struct {
	Version     int64       `json:"version"` // the instance's version after the commit
	State       *string     `json:"state"`   // nil: unchanged
	Events      []wireEvent `json:"events"`
	Idempotency *wireRecord `json:"idempotency,omitempty"`
	// Effects lists the deliveries the events owe: the outbox.
	Effects []store.OutboxEntry `json:"effects"`
}

// Decided is the answer of decide and seed.
type Decided struct {
	Commit   *WireCommit  `json:"commit"`
	Response WireResponse `json:"response"`
}

type decideInput struct {
	Instance wireInstance `json:"instance"`
	Record   *wireRecord  `json:"record"`
	Request  wireCommand  `json:"request"`
}

// decide is api.Decide on an object's rows.
func (c *Core) decide(in []byte) (any, error) {
	var di decideInput
	if err := decodeInput(in, &di); err != nil {
		return nil, err
	}
	if di.Request.CommandRequest == nil {
		return nil, &Fault{Kind: "input", Message: "decide: no request"}
	}
	req := di.Request.request()
	var rec *store.Idempotency
	if di.Record != nil {
		rec = &store.Idempotency{Key: di.Record.Key, RequestHash: di.Record.RequestHash, Response: json.RawMessage(di.Record.Response)}
	}
	d := api.Decide(c.prog, di.Instance.instance(req.Aggregate, req.ID), rec, req, engine.Options{})
	return decided(d, di.Instance.Version), nil
}

type seedInput struct {
	Instance wireInstance    `json:"instance"`
	Request  api.SeedRequest `json:"request"`
}

// seed is api.DecideSeed on an object's rows.
func (c *Core) seed(in []byte) (any, error) {
	var si seedInput
	if err := decodeInput(in, &si); err != nil {
		return nil, err
	}
	d := api.DecideSeed(c.prog, si.Instance.instance(si.Request.Aggregate, si.Request.ID), &si.Request)
	return decided(d, si.Instance.Version), nil
}

func decided(d api.Decision, version int64) Decided {
	out := Decided{Response: toWire(d.Response)}
	if d.Commit == nil {
		return out
	}
	cm := &WireCommit{Version: version, Events: []wireEvent{}, Effects: d.Commit.Outbox}
	if cm.Effects == nil {
		cm.Effects = []store.OutboxEntry{}
	}
	if d.Commit.State != nil {
		s := string(d.Commit.State)
		cm.State = &s
	}
	for _, e := range d.Commit.Events {
		cm.Version = e.Version
		cm.Events = append(cm.Events, wireEvent{ID: e.ID, Aggregate: e.Aggregate, Instance: e.Instance, Version: e.Version,
			Type: e.Type, SchemaVersion: e.SchemaVersion, Time: d1.FormatTime(e.Time), CommandID: e.CommandID, Payload: string(e.Payload)})
	}
	if r := d.Commit.Idempotency; r != nil {
		cm.Idempotency = &wireRecord{Key: r.Key, RequestHash: r.RequestHash, Response: string(r.Response), Time: d1.FormatTime(r.Time)}
	}
	out.Commit = cm
	return out
}

type rehydrateInput struct {
	Aggregate string       `json:"aggregate"`
	ID        string       `json:"id"`
	Instance  wireInstance `json:"instance"`
	Events    []wireEvent  `json:"events"`
	Fix       bool         `json:"fix"`
}

// Rehydrated is the answer of rehydrate: the drift report and, when the
// object must store the rebuilt state, that state.
type Rehydrated struct {
	Drift *api.Drift `json:"drift"`
	Store *string    `json:"store"`
}

// rehydrate compares an object's state with the fold of its events, as
// the native backend's Rehydrate does.
func (c *Core) rehydrate(in []byte) (any, error) {
	var ri rehydrateInput
	if err := decodeInput(in, &ri); err != nil {
		return nil, err
	}
	cur := ri.Instance.instance(ri.Aggregate, ri.ID)
	evs, err := eventsOf(ri.Events, ri.Aggregate, ri.ID)
	if err != nil {
		return nil, err
	}
	d := api.Compare(c.prog, cur, evs)
	out := Rehydrated{Drift: d}
	if ri.Fix && d.Drifted && d.Error == "" && cur.Version > 0 {
		s := string(d.Rebuilt)
		out.Store, d.Fixed = &s, true
	}
	return out, nil
}
