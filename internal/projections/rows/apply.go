package rows

import (
	"fmt"
	"time"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Failure is a projection that could not apply the event at Position.
type Failure struct {
	Position int64
	Msg      string
}

// Outcome is what applying a run of events did.
type Outcome struct {
	Last int64    // the position of the last event applied (or passed over without a handler)
	Fail *Failure // the event after Last, which could not be applied
}

// Row is one projection row as a batch sees it: loaded once, changed in
// memory by the batch's events, written back once at the end.
type Row struct {
	Vals    map[string]any    // every declared column; nil for NULL; nil map: no row
	Enc     map[string]string // the stored text of the JSON columns in Vals
	Dirty   bool              // to write back: Deleted, or upserted whole
	Deleted bool
}

// Decoded is an event's payload decoded ahead of [Prepare] (by the reader
// of a batch, while the previous one applies).
type Decoded struct {
	V   any
	Err error
}

// DecodeAll decodes the payloads of the events t handles, at their
// current version.
func DecodeAll(t *Table, evs []store.Event) []Decoded {
	out := make([]Decoded, len(evs))
	for i := range evs {
		if h := t.Def.Handlers[evs[i].Aggregate+"."+evs[i].Type]; h != nil {
			out[i].V, out[i].Err = read(h, &evs[i])
		}
	}
	return out
}

// read decodes an event's payload and brings it to the version h reads.
func read(h *interpreter.Handler, e *store.Event) (any, error) {
	v, err := value.DecodeStored(e.Payload)
	if err != nil {
		return nil, err
	}
	return h.Read(e.SchemaVersion, v)
}

// work is one event of a batch, prepared for its handler.
type work struct {
	e   *store.Event
	h   *interpreter.Handler // nil: the projection does not handle the event
	env *interpreter.Env
	key string
}

// Batch is a run of events prepared for one table: step 1 of applying
// them. The caller loads the rows of Keys, then calls Apply.
type Batch struct {
	t     *Table
	first int64
	ws    []work
	// Keys are the rows the events touch, in order of first use: the rows
	// to load, and the order to write them back in.
	Keys []string
	// Fail is an event whose payload or key could not be worked out: the
	// batch stops before it (Apply reports it unless an earlier event
	// fails).
	Fail *Failure
}

// Prepare works out the handler and row key of each of evs (consecutive
// positions, in order) for t. payloads, when not nil, holds the events'
// payloads decoded beforehand, index for index.
func Prepare(t *Table, evs []store.Event, payloads []Decoded) *Batch {
	b := &Batch{t: t, first: evs[0].Position, ws: make([]work, 0, len(evs))}
	seen := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		h := t.Def.Handlers[e.Aggregate+"."+e.Type]
		if h == nil {
			b.ws = append(b.ws, work{e: e})
			continue
		}
		var payload any
		var err error
		if payloads != nil {
			payload, err = payloads[i].V, payloads[i].Err
		} else {
			payload, err = read(h, e)
		}
		if err != nil {
			b.Fail = fail(e, "payload: %v", err)
			break
		}
		// One budget for the event's key and fields.
		env := &interpreter.Env{Event: payload, Meta: Meta(e), Budget: interpreter.NewBudget()}
		env.Meta.EventType = h.Event[len(e.Aggregate)+1:] // the current name
		key, err := h.Key(env)
		if err != nil {
			b.Fail = fail(e, "key: %v", err)
			break
		}
		if !seen[key] {
			seen[key] = true
			b.Keys = append(b.Keys, key)
		}
		b.ws = append(b.ws, work{e: e, h: h, env: env, key: key})
	}
	return b
}

// Apply is step 2: it runs the batch's events over rows, the loaded rows
// of Keys (a key without an entry has no row; Apply adds an empty one, so
// afterwards every key has one). It stops at the first event that fails;
// the rows are left as the events before it made them. The caller then
// writes back the Dirty rows, in Keys order.
func (b *Batch) Apply(rows map[string]*Row) Outcome {
	t := b.t
	out := Outcome{Last: b.first - 1}
	for _, k := range b.Keys {
		if rows[k] == nil {
			rows[k] = &Row{}
		}
	}
	for _, w := range b.ws {
		if w.h == nil {
			out.Last = w.e.Position
			continue
		}
		r := rows[w.key]
		if w.h.Delete {
			r.Vals, r.Enc, r.Deleted, r.Dirty = nil, nil, true, true
			out.Last = w.e.Position
			continue
		}
		// A row that exists has every column (nil for NULL), as a reload
		// gives it; a new one is {}.
		if r.Vals == nil {
			w.env.Row = map[string]any{}
		} else {
			w.env.Row = r.Vals
		}
		vals, err := w.h.Values(w.env)
		if err != nil {
			out.Fail = fail(w.e, "%v", err)
			break
		}
		changes := make([]Change, 0, len(vals))
		for _, col := range t.Cols { // in column order: the first bad one is reported
			v, ok := vals[col.Name]
			if !ok {
				continue
			}
			c, err := Coerce(col, v)
			if err != nil {
				out.Fail = fail(w.e, "column %s: %v", col.Name, err)
				break
			}
			changes = append(changes, c)
		}
		if out.Fail == nil && len(changes) != len(vals) {
			for name := range vals {
				if _, ok := t.Column(name); !ok {
					out.Fail = fail(w.e, "projection %s has no column %s", t.Def.Name, name)
				}
			}
		}
		if out.Fail != nil {
			break
		}
		if r.Vals == nil {
			r.Vals = make(map[string]any, len(t.Cols))
			for _, c := range t.Cols {
				r.Vals[c.Name] = nil
			}
		}
		for _, c := range changes {
			r.Vals[c.Col.Name] = c.Val
			if c.Col.Type == "JSON" {
				if r.Enc == nil {
					r.Enc = map[string]string{}
				}
				r.Enc[c.Col.Name] = c.Enc
			}
		}
		r.Deleted, r.Dirty = false, true
		out.Last = w.e.Position
	}
	if out.Fail == nil {
		out.Fail = b.Fail
	}
	return out
}

func fail(e *store.Event, format string, args ...any) *Failure {
	return &Failure{Position: e.Position, Msg: fmt.Sprintf("%s.%s at position %d: ", e.Aggregate, e.Type, e.Position) + fmt.Sprintf(format, args...)}
}

// Meta is what expressions see as `meta` for a recorded event.
func Meta(e *store.Event) interpreter.Meta {
	return interpreter.Meta{
		Aggregate: e.Aggregate, AggregateID: e.Instance, Version: int(e.Version),
		CommandID: e.CommandID, EventID: e.ID, EventType: e.Type, Position: int(e.Position),
		Timestamp: e.Time.UTC().Format(time.RFC3339Nano),
	}.With(interpreter.ReadRecorded(e.Meta))
}
