package edge

import (
	"time"

	"encoding/json"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// The functions an Aggregate Durable Object calls inside its storage
// transaction (its method transact): the object runs the reads Go named,
// calls one of them once on their rows, and runs the writes it answers (or
// none). The statements are package store/d1's.

// transact is the argument of an object's transact method.
type transact struct {
	Fn    string      `json:"fn,omitempty"` // none: the answer is the reads' rows
	Reads []Statement `json:"reads"`
	Input any         `json:"input,omitempty"`
}

// Transacted is the answer of a function transact calls: the answer to
// give, the writes to run in the same transaction, and After, the work
// after the commit.
type Transacted struct {
	Answer any         `json:"answer"`
	Writes []Statement `json:"writes,omitempty"`
	After  *After      `json:"after,omitempty"`
	// Reserve, instead of all of these, says the decision claims unique
	// keys its instance does not hold: the object writes nothing and runs
	// the claim script on it (keys.go).
	Reserve *claimInput `json:"reserve,omitempty"`
}

// After is the work after a commit, the committed script's: the object
// sets its alarm to Alarm (ms since the epoch: the retry of that work if it
// does not finish; 0: the alarm set stays, see keepAlarm), then answers at
// once and runs the script in the background, or, with Wait (an inline
// projection or a sync effect is owed), answers what the script says.
// The object sets the alarm in the transaction's turn, so its storage
// keeps both or neither (the runtime may end before the script goes on).
type After struct {
	Decided
	Wait  bool  `json:"wait"`
	Alarm int64 `json:"alarm,omitempty"`
}

func stmt(sql string, params ...any) Statement {
	if params == nil {
		params = []any{}
	}
	return Statement{SQL: sql, Params: params}
}

// instanceOf reads the rows of d1.ObjectInstance.
func instanceOf(rows json.RawMessage) (wireInstance, error) {
	var r []wireInstance
	if err := json.Unmarshal(rows, &r); err != nil || len(r) == 0 {
		return wireInstance{}, err
	}
	return r[0], nil
}

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
	// Snapshot, when the commit takes one (every N events), is kept in
	// the object's snapshot table.
	Snapshot *wireSnapshot `json:"snapshot,omitempty"`
}

// wireSnapshot is a snapshot row.
type wireSnapshot struct {
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
	State   string `json:"state"`
	Time    string `json:"time"`
}

// Decided is the outcome of decide and seed: the commit to write, and what
// the command answers (which the object returns to its caller).
type Decided struct {
	Commit *WireCommit      `json:"commit"`
	Answer cuesource.Answer `json:"answer"`
}

type decideInput struct {
	Request wireCommand `json:"request"`
	// Rows: the instance, then (with an idempotency key) its record,
	// then (when keys matter, see decideReads) the keys it holds.
	Rows []json.RawMessage `json:"rows"`
	// Reserved are the keys the claim script has reserved for this
	// command: a decision that claims only these (or keys held) commits.
	Reserved []store.KeyClaim `json:"reserved,omitempty"`
	// Alarm is the object's alarm (ms; none: null), which the object
	// reads before its transaction.
	Alarm *int64 `json:"alarm,omitempty"`
}

// decide is cuesource.Decide on an object's rows.
func (c *Core) decide(in []byte) (any, error) {
	var di decideInput
	if err := decodeInput(in, &di); err != nil {
		return nil, err
	}
	if di.Request.CommandRequest == nil || len(di.Rows) == 0 {
		return nil, &Fault{Kind: "input", Message: "decide: no request or no rows"}
	}
	req := di.Request.request()
	inst, err := instanceOf(di.Rows[0])
	if err != nil {
		return nil, err
	}
	rows := di.Rows[1:]
	var rec *store.Idempotency
	if req.IdempotencyKey != "" && len(rows) > 0 {
		var rs []wireRecord
		if err := json.Unmarshal(rows[0], &rs); err != nil {
			return nil, err
		}
		if len(rs) > 0 {
			rec = &store.Idempotency{Key: rs[0].Key, RequestHash: rs[0].RequestHash, Response: json.RawMessage(rs[0].Response)}
		}
		rows = rows[1:]
	}
	var held map[string]string
	if keyed(c.prog, req) {
		if len(rows) == 0 {
			return nil, &Fault{Kind: "input", Message: "decide: no rows of the keys held"}
		}
		if held, err = heldKeys(rows[0]); err != nil {
			return nil, err
		}
		// Addressed by a key: it runs only while the instance holds it (a
		// replay answers what it answered).
		if k := req.Holds; k != nil && rec == nil && held[k.Constraint] != k.Key {
			return Transacted{Answer: cuesource.KeyNotHeld(req.Aggregate, *k)}, nil
		}
	}
	d := cuesource.Decide(c.prog, inst.instance(req.Aggregate, req.ID), rec, req, engine.Options{})
	var keyWrites []Statement
	if d.Commit != nil && len(d.Commit.Unique) > 0 {
		need, writes := keyChanges(d.Commit.Unique, held, di.Reserved)
		if len(need) > 0 {
			return Transacted{Reserve: &claimInput{Request: di.Request, Claims: need}}, nil
		}
		keyWrites = writes
	}
	t := c.transacted(decided(d, inst.Version), req.Aggregate, req.ID, req.Time, di.Alarm)
	t.Writes = append(t.Writes, keyWrites...)
	return t, nil
}

type seedInput struct {
	Request cuesource.SeedRequest `json:"request"`
	// Rows: the instance, then (when its aggregate declares unique
	// constraints) the keys it holds.
	Rows []json.RawMessage `json:"rows"`
	// Reserved and Alarm: as decideInput's.
	Reserved []store.KeyClaim `json:"reserved,omitempty"`
	Alarm    *int64           `json:"alarm,omitempty"`
}

// seed is cuesource.DecideSeed on an object's rows.
func (c *Core) seed(in []byte) (any, error) {
	var si seedInput
	if err := decodeInput(in, &si); err != nil {
		return nil, err
	}
	if len(si.Rows) == 0 {
		return nil, &Fault{Kind: "input", Message: "seed: no rows"}
	}
	inst, err := instanceOf(si.Rows[0])
	if err != nil {
		return nil, err
	}
	d := cuesource.DecideSeed(c.prog, inst.instance(si.Request.Aggregate, si.Request.ID), &si.Request)
	// Seeded events claim keys as a command's do: reserved first, by the
	// claim script, as a command's.
	var keyWrites []Statement
	if d.Commit != nil && len(d.Commit.Unique) > 0 {
		if len(si.Rows) < 2 {
			return nil, &Fault{Kind: "input", Message: "seed: no rows of the keys held"}
		}
		held, err := heldKeys(si.Rows[1])
		if err != nil {
			return nil, err
		}
		need, writes := keyChanges(d.Commit.Unique, held, si.Reserved)
		if len(need) > 0 {
			return Transacted{Reserve: &claimInput{Seed: &si.Request, Claims: need}}, nil
		}
		keyWrites = writes
	}
	t := c.transacted(decided(d, inst.Version), si.Request.Aggregate, si.Request.ID, si.Request.Time, si.Alarm)
	t.Writes = append(t.Writes, keyWrites...)
	return t, nil
}

// transacted is a decision as the object runs it: the response, the
// commit's writes, and the work after it when it has events, whose alarm
// is set unless the object's, alarm, stays.
func (c *Core) transacted(d Decided, agg, id string, now time.Time, alarm *int64) Transacted {
	t := Transacted{Answer: d.Answer}
	cm := d.Commit
	if cm == nil {
		return t
	}
	for _, e := range cm.Events {
		t.Writes = append(t.Writes, stmt(d1.ObjectAddEvent, e.Version, e.ID, e.Type, e.SchemaVersion, e.Time, e.CommandID, e.Payload, e.Meta))
	}
	if cm.State != nil {
		t.Writes = append(t.Writes, stmt(d1.ObjectPutInstance, agg, id, cm.Version, *cm.State))
	}
	if r := cm.Idempotency; r != nil {
		t.Writes = append(t.Writes, stmt(d1.ObjectAddIdempotency, r.Key, r.RequestHash, r.Response, r.Time))
	}
	for _, o := range cm.Effects {
		t.Writes = append(t.Writes, stmt(d1.ObjectAddOutbox, o.EventID, o.Consumer))
	}
	if s := cm.Snapshot; s != nil {
		t.Writes = append(t.Writes, stmt(d1.ObjectPutSnapshot, s.Version, s.Hash, s.State, s.Time))
	}
	if len(cm.Events) > 0 {
		t.After = &After{Decided: d, Wait: c.waits(agg, cm), Alarm: now.Add(retryAfterCommit).UnixMilli()}
		if keepAlarm(alarm, t.After.Alarm, now, false) {
			t.After.Alarm = 0
		}
	}
	return t
}

type rehydrateInput struct {
	Aggregate string `json:"aggregate"`
	ID        string `json:"id"`
	Fix       bool   `json:"fix"`
	// Rows: the instance, then its events; or (FromSnapshot) the
	// instance, its snapshot under the current definition and the events
	// after it.
	Rows         []json.RawMessage `json:"rows"`
	FromSnapshot bool              `json:"fromSnapshot,omitempty"`
	// Older are the instance's events before the object's first, read
	// from the log (the object let them go).
	Older []store.Event `json:"older,omitempty"`
}

// rehydrateReads are the reads of a rehydration: from the object's
// snapshot under hash (and the events after it), else all events.
func rehydrateReads(fromSnapshot bool, hash string) []Statement {
	if fromSnapshot {
		return []Statement{stmt(d1.ObjectInstance), stmt(d1.ObjectSnapshot, hash), stmt(d1.ObjectEventsAfterSnapshot, hash)}
	}
	return []Statement{stmt(d1.ObjectInstance), stmt(d1.ObjectAllEvents)}
}

// Rehydrated is the answer of rehydrate: the drift, or Again (the
// snapshot could not start the fold: read every event and call again).
type Rehydrated struct {
	*cuesource.Drift
	Again bool `json:"again,omitempty"`
	// MissingBefore, with Again: the object's history begins at this
	// version (its first event at position MissingAt): read the versions
	// before it from the log and call again with them.
	MissingBefore int64 `json:"missingBefore,omitempty"`
	MissingAt     int64 `json:"missingAt,omitempty"`
}

// rehydrate compares an object's state with the fold of its events, as
// the native backend's Rehydrate does (from the snapshot the current
// definition can use, by cuesource.Rehydrate's rule), and with fix
// stores the fold.
func (c *Core) rehydrate(in []byte) (any, error) {
	var ri rehydrateInput
	if err := decodeInput(in, &ri); err != nil {
		return nil, err
	}
	if want := 2 + len(ri.Rows)/3; len(ri.Rows) != want || ri.FromSnapshot != (want == 3) {
		return nil, &Fault{Kind: "input", Message: "rehydrate: want the instance, (with fromSnapshot) its snapshot, and its events"}
	}
	inst, err := instanceOf(ri.Rows[0])
	if err != nil {
		return nil, err
	}
	var rows []wireEvent
	if err := json.Unmarshal(ri.Rows[len(ri.Rows)-1], &rows); err != nil {
		return nil, err
	}
	cur := inst.instance(ri.Aggregate, ri.ID)
	evs, err := eventsOf(rows, ri.Aggregate, ri.ID)
	if err != nil {
		return nil, err
	}
	var snap *store.Snapshot
	if ri.FromSnapshot {
		var ss []wireSnapshot
		if err := json.Unmarshal(ri.Rows[1], &ss); err != nil {
			return nil, err
		}
		if len(ss) > 0 {
			snap = &store.Snapshot{Aggregate: ri.Aggregate, Instance: ri.ID, Version: ss[0].Version, State: json.RawMessage(ss[0].State)}
			if a := c.prog.Aggregates[ri.Aggregate]; a != nil {
				snap.Hash = a.Hash
			}
		}
	}
	again := false
	var missing Rehydrated
	d, err := cuesource.Rehydrate(c.prog, cur, snap, func(after int64) ([]store.Event, error) {
		if snap != nil && after == snap.Version {
			return evs, nil
		}
		if snap == nil && after == 0 {
			all := append(ri.Older, evs...)
			if cur.Version > 0 && (len(all) == 0 || all[0].Version != 1) {
				// The object let its first events go.
				missing = Rehydrated{Again: true, MissingBefore: cur.Version + 1}
				if len(evs) > 0 {
					missing.MissingBefore, missing.MissingAt = evs[0].Version, evs[0].Position
				}
				again = true
				return nil, nil
			}
			return all, nil
		}
		// From the first event, with only the events after the
		// snapshot read.
		again = true
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if again {
		if missing.Again {
			return Transacted{Answer: missing}, nil
		}
		return Transacted{Answer: Rehydrated{Again: true}}, nil
	}
	out := Transacted{Answer: Rehydrated{Drift: d}}
	if ri.Fix && d.Drifted && d.Error == "" && cur.Version > 0 {
		out.Writes, d.Fixed = []Statement{stmt(d1.ObjectSetState, string(d.Rebuilt))}, true
	}
	return out, nil
}
func decided(d cuesource.Decision, version int64) Decided {
	out := Decided{Answer: d.Answer}
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
			Type: e.Type, SchemaVersion: e.SchemaVersion, Time: d1.FormatTime(e.Time), CommandID: e.CommandID, Payload: string(e.Payload),
			Meta: metaText(e.Meta)})
	}
	if r := d.Commit.Idempotency; r != nil {
		cm.Idempotency = &wireRecord{Key: r.Key, RequestHash: r.RequestHash, Response: string(r.Response), Time: d1.FormatTime(r.Time)}
	}
	if s := d.Commit.Snapshot; s != nil {
		cm.Snapshot = &wireSnapshot{Version: s.Version, Hash: s.Hash, State: string(s.State), Time: d1.FormatTime(s.Time)}
	}
	out.Commit = cm
	return out
}
