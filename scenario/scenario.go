package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/value"
)

// Clock is the time every scenario command and given event carries.
var Clock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Result is the outcome of one scenario.
type Result struct {
	Name     string         `json:"name"`
	Pos      manifest.Pos   `json:"pos"`
	Pass     bool           `json:"pass"`
	Failures []string       `json:"failures,omitempty"` // each a readable difference
	Events   []engine.Event `json:"events,omitempty"`
	State    any            `json:"state,omitempty"`
	Error    *engine.Error  `json:"error,omitempty"`
	rejected int            // the when the rejection answered, with Error
}

// Run runs one scenario.
func Run(p *interpreter.Program, s *manifest.Scenario) Result {
	r := Result{Name: s.Name, Pos: s.Pos}
	if needsWorld(p, s) {
		r.world(context.Background(), p, s)
		r.Pass = len(r.Failures) == 0
		return r
	}
	opt := engine.Options{Strict: true}
	var given []engine.Event
	now := Clock // the time of the next given event or command without its own
	for i, g := range s.Given {
		if g.At != nil {
			now = *g.At
		}
		if agg, id := of(s, g); agg != s.Aggregate || id != s.ID {
			continue // another instance's: seeded on the read side
		}
		pl, err := decodeOrEmpty(g.Payload)
		typ := g.Event
		if err == nil && g.Version != nil {
			typ, pl, err = readOld(p, s.Aggregate, g.Event, *g.Version, pl)
		}
		if err != nil {
			r.fail("given[%d]: %v", i, err)
			return r
		}
		ev := engine.Event{
			ID: fmt.Sprintf("given-%d", i+1), Type: typ, Version: int64(len(given) + 1), Time: now, Payload: pl,
		}
		if c := caller(g.As); c != nil {
			ev.Recorded = &interpreter.Recorded{Actor: c.Actor, CorrelationID: ev.ID, CausationID: ev.ID}
		}
		given = append(given, ev)
	}
	cur, err := engine.Fold(p, s.Aggregate, s.ID, given, opt)
	if err != nil {
		r.fail("given: %v", err)
		return r
	}
	if !r.checkOthers(p, s) {
		return r
	}
	for i, w := range s.When {
		if w.At != nil {
			now = *w.At
		}
		env := engine.Envelope{
			ID: "cmd-" + strconv.Itoa(i+1), Aggregate: s.Aggregate, Instance: s.ID,
			Command: w.Command, Payload: w.Payload, ExpectedVersion: engine.AnyVersion, Time: now,
		}
		as := w.As
		if as == nil {
			as = s.As
		}
		if c := caller(as); c != nil && p.Auth != nil {
			env.Caller = c
			env.Recorded = interpreter.Recorded{Actor: c.Actor, CorrelationID: env.ID, CausationID: env.ID}
		}
		d, err := engine.Decide(p, cur, env, opt)
		if err != nil {
			var ee *engine.Error
			if !errors.As(err, &ee) {
				ee = &engine.Error{Kind: engine.KindExpression, Message: err.Error()}
			}
			r.Error, r.rejected = ee, i
			break
		}
		r.Events = append(r.Events, d.Events...)
		cur = engine.Current{State: d.State, Version: d.Version}
	}
	r.State = cur.State
	if cur.Version == 0 {
		r.State = nil
	}
	r.check(s.Then)
	r.Pass = len(r.Failures) == 0
	return r
}

func (r *Result) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func (r *Result) check(then manifest.Then) {
	switch {
	case r.Error != nil && then.Error == "":
		r.fail("rejected unexpectedly: %s", indent(r.Error.Error()))
	case r.Error == nil && then.Error != "":
		r.fail("then.error: want rejection %q, but the command succeeded with %s", then.Error, eventList(r.Events))
	case r.Error != nil && then.Error != r.Error.Name && then.Error != string(r.Error.Kind):
		r.fail("then.error: want %q, got %s", then.Error, describe(r.Error))
	}
	if then.Events != nil {
		r.checkEvents(then.Events)
	}
	if then.State != nil {
		r.checkState(then.State)
	}
}

func (r *Result) checkEvents(want []manifest.GivenItem) {
	ok := len(want) == len(r.Events)
	for i := 0; ok && i < len(want); i++ {
		if want[i].Event != r.Events[i].Type {
			ok = false
			break
		}
		if want[i].Payload != nil && !value.Equal(value.MustDecode(want[i].Payload), r.Events[i].Payload) {
			ok = false
		}
	}
	if ok {
		return
	}
	var w, g []string
	for _, e := range want {
		if e.Payload == nil {
			w = append(w, e.Event+" (any payload)")
		} else {
			w = append(w, e.Event+" "+value.Text(value.MustDecode(e.Payload)))
		}
	}
	for _, e := range r.Events {
		g = append(g, e.Type+" "+value.Text(e.Payload))
	}
	r.fail("then.events:\n    want: %s\n    got:  %s", orNone(w), orNone(g))
}

func (r *Result) checkState(raw json.RawMessage) {
	want, _ := value.MustDecode(raw).(map[string]any)
	got, _ := r.State.(map[string]any)
	if r.State == nil {
		r.fail("then.state: the instance does not exist")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		gv, present := got[k]
		switch {
		case !present:
			r.fail("then.state.%s:\n    want: %s\n    got:  (absent)", k, value.Text(want[k]))
		case !value.Equal(want[k], gv):
			r.fail("then.state.%s:\n    want: %s\n    got:  %s", k, value.Text(want[k]), value.Text(gv))
		}
	}
}

func describe(e *engine.Error) string {
	if e.Name != "" {
		return fmt.Sprintf("%s %q", e.Kind, e.Name)
	}
	return fmt.Sprintf("%s (%s)", e.Kind, indent(e.Error()))
}

func eventList(evs []engine.Event) string {
	if len(evs) == 0 {
		return "no events"
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Type)
	}
	return strings.Join(names, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(no events)"
	}
	return strings.Join(s, "\n          ")
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// readOld reads a given event stored at an older version as the lenses
// do, after checking it against that version's definition.
func readOld(p *interpreter.Program, aggregate, name string, version int, payload any) (string, any, error) {
	if a := p.Aggregates[aggregate]; a != nil && a.Event(name) != nil {
		if vs := a.Event(name).ValidateAt(version, payload); len(vs) > 0 {
			return "", nil, fmt.Errorf("%s at version %d does not fit its definition: %s", name, version, vs[0])
		}
	}
	return p.ReadEvent(aggregate, name, version, payload)
}

// decodeOrEmpty decodes a payload; an absent one is {} as in commands.
func decodeOrEmpty(raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	return value.Decode(raw, value.Limits{})
}

// caller is the identity a scenario's as names; nil without one.
func caller(as json.RawMessage) *engine.Caller {
	if as == nil {
		return nil
	}
	claims, _ := value.MustDecode(as).(map[string]any)
	sub, _ := claims["sub"].(string)
	return &engine.Caller{Actor: sub, Claims: claims}
}
