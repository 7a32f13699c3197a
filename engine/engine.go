package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/value"
)

// AnyVersion as Envelope.ExpectedVersion skips the optimistic check.
const AnyVersion = -1

// Envelope is a command with everything the engine needs from outside.
type Envelope struct {
	ID              string          `json:"id"` // unique; event ids derive from it
	Aggregate       string          `json:"aggregate"`
	Instance        string          `json:"instance"`
	Command         string          `json:"command"`
	Payload         json.RawMessage `json:"payload,omitempty"`
	ExpectedVersion int64           `json:"expectedVersion"` // AnyVersion: no check
	Time            time.Time       `json:"time"`
	// Caller is who sends the command, in a context with auth: its rules
	// are evaluated for it unless it is Trusted. Nil: they are not (a
	// context without auth, a command a test decides directly).
	Caller *Caller `json:"caller,omitempty"`
	// Recorded is what the command's events record as meta (actor,
	// correlation, causation) in a context with auth.
	Recorded interpreter.Recorded `json:"recorded,omitzero"`
	// Lookup is what the command's look-ups read before it was decided,
	// by name (see interpreter.Lookup): guards and emits see it as
	// `lookup`.
	Lookup map[string]any `json:"lookup,omitempty"`
}

// Caller is a verified identity, or an anonymous one.
type Caller struct {
	// Actor is who the log records: the token's sub, a static token's
	// name, or "anonymous".
	Actor     string         `json:"actor"`
	Claims    map[string]any `json:"claims,omitempty"` // verified, fitting #claims
	Anonymous bool           `json:"anonymous,omitempty"`
	// Trusted: a static token (a machine, an administrator) or an effect
	// acting for the event's actor; the rules do not apply.
	Trusted bool `json:"trusted,omitempty"`
}

// Current is the state a command is decided on. Version 0 means the
// instance does not exist; State is then ignored and the initial state used.
type Current struct {
	State   any
	Version int64
}

// Event is an event the engine produced or replays.
type Event struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Version int64     `json:"version"` // the instance's version once applied
	Time    time.Time `json:"time"`
	Payload any       `json:"payload"`
	// Recorded is the metadata the event was stored with, for a replay;
	// nil while deciding, when the envelope's is used.
	Recorded *interpreter.Recorded `json:"-"`
}

// Decision is what a command did: its events and the state after them.
type Decision struct {
	Events  []Event `json:"events"`
	State   any     `json:"state"`
	Version int64   `json:"version"`
}

// Options tune Decide and Evolve.
type Options struct {
	// Strict validates every emitted payload against the event's #payload
	// and the state after every event against #state. Tests run strict;
	// runtimes may.
	Strict bool
	// Limits bound the command payload.
	Limits value.Limits
}

// Decide handles one command on the current state.
func Decide(p *interpreter.Program, cur Current, env Envelope, opt Options) (*Decision, error) {
	agg, ok := p.Aggregates[env.Aggregate]
	if !ok {
		return nil, &Error{Kind: KindUnknownAggregate, Message: fmt.Sprintf("unknown aggregate %q (the context has %s)", env.Aggregate, names(p.Aggregates))}
	}
	cmd, ok := agg.Commands[env.Command]
	if !ok {
		return nil, &Error{Kind: KindUnknownCommand, Message: fmt.Sprintf("aggregate %s has no command %q (it has %s)", env.Aggregate, env.Command, names(agg.Commands))}
	}
	payload, err := decodePayload(env.Payload, opt.Limits)
	if err != nil {
		return nil, err
	}
	// A field the payload leaves out reads its CUE default, as the
	// definition says; the payload is then checked as a whole.
	payload = cmd.WithDefaults(payload)
	if vs := cmd.Validate(payload); len(vs) > 0 {
		return nil, &Error{Kind: KindSchema, Message: fmt.Sprintf("payload of %s does not fit its schema", env.Command), Violations: vs}
	}
	state := cur.State
	if cur.Version == 0 {
		state = agg.Initial()
	}
	ts := env.Time.UTC().Format(time.RFC3339Nano)
	// The rules come before what the instance's lifecycle says, so a
	// caller who may not act on an instance learns nothing of it.
	if p.Auth != nil && env.Caller != nil && !env.Caller.Trusted {
		if err := mayRun(p.Auth, env, payload, state, cur.Version, ts); err != nil {
			return nil, err
		}
	}
	switch {
	case cmd.Instance == manifest.InstanceExisting && cur.Version == 0:
		return nil, &Error{Kind: KindInstanceMissing, Message: fmt.Sprintf("%s %s does not exist; %s needs an existing instance", env.Aggregate, env.Instance, env.Command)}
	case cmd.Instance == manifest.InstanceNew && cur.Version > 0:
		return nil, &Error{Kind: KindInstanceExists, Message: fmt.Sprintf("%s %s already exists; %s creates a new instance", env.Aggregate, env.Instance, env.Command)}
	}
	if env.ExpectedVersion != AnyVersion && env.ExpectedVersion != cur.Version {
		return nil, &Error{Kind: KindVersionConflict, Message: fmt.Sprintf("expected version %d, the instance is at %d", env.ExpectedVersion, cur.Version), Version: cur.Version}
	}
	// One budget for every expression of the command, so a command costs
	// at most CostBudget however many expressions it runs.
	ev := &interpreter.Env{Cmd: payload, State: state, Budget: interpreter.NewBudget(), Meta: interpreter.Meta{
		Aggregate: env.Aggregate, AggregateID: env.Instance, Version: int(cur.Version),
		Command: env.Command, CommandID: env.ID, Timestamp: ts,
	}.With(env.Recorded)}
	if env.Caller != nil {
		ev.Caller = env.Caller.Claims
	}
	if len(cmd.Lookups) > 0 {
		ev.Lookup = lookups(cmd, env.Lookup)
	}
	for _, g := range cmd.Require {
		ok, err := g.Holds(ev)
		if err != nil {
			return nil, exprError(err)
		}
		if !ok {
			return nil, &Error{Kind: KindGuard, Name: g.Name, Status: g.Status, Message: fmt.Sprintf("%s rejected: %s", env.Command, g.Name)}
		}
	}
	d := &Decision{Version: cur.Version}
	for _, em := range cmd.Emit {
		ok, err := em.Emits(ev)
		if err != nil {
			return nil, exprError(err)
		}
		if !ok {
			continue
		}
		pl, err := em.Payload(ev)
		if err != nil {
			return nil, exprError(err)
		}
		d.Version++
		d.Events = append(d.Events, Event{
			ID:      env.ID + "-" + strconv.Itoa(len(d.Events)+1),
			Type:    em.Event,
			Version: d.Version,
			Time:    env.Time.UTC(),
			Payload: pl,
		})
	}
	for _, e := range d.Events {
		if state, err = evolve(agg, state, e, env, ev.Budget, opt); err != nil {
			return nil, err
		}
	}
	ev.State, ev.Cmd = state, nil
	ev.Meta.Version = int(d.Version)
	for _, inv := range agg.Invariants {
		ok, err := inv.Holds(ev)
		if err != nil {
			return nil, exprError(err)
		}
		if !ok {
			return nil, &Error{Kind: KindInvariant, Name: inv.Name, Message: fmt.Sprintf("%s would break the invariant: %s", env.Command, inv.Name)}
		}
	}
	d.State = state
	return d, nil
}

// Evolve applies one recorded event to a state. The envelope fields the
// reducer may read (meta) come from the event and its instance.
func Evolve(p *interpreter.Program, aggregate, instance string, state any, e Event, opt Options) (any, error) {
	agg, ok := p.Aggregates[aggregate]
	if !ok {
		return nil, &Error{Kind: KindUnknownAggregate, Message: fmt.Sprintf("unknown aggregate %q", aggregate)}
	}
	if state == nil {
		state = agg.Initial()
	}
	return evolve(agg, state, e, Envelope{Aggregate: aggregate, Instance: instance}, nil, opt)
}

// Fold replays events from the initial state.
func Fold(p *interpreter.Program, aggregate, instance string, events []Event, opt Options) (Current, error) {
	return FoldFrom(p, aggregate, instance, Current{}, events, opt)
}

// FoldFrom replays events on cur (a snapshot's state and version, or the
// zero Current: the initial state); events are the ones after it.
func FoldFrom(p *interpreter.Program, aggregate, instance string, cur Current, events []Event, opt Options) (Current, error) {
	for _, e := range events {
		s, err := Evolve(p, aggregate, instance, cur.State, e, opt)
		if err != nil {
			return Current{}, err
		}
		cur = Current{State: s, Version: e.Version}
	}
	return cur, nil
}

// envs recycles reducer environments: a replay evolves every event, and
// nothing keeps an environment after the reducer ran.
var envs = sync.Pool{New: func() any { return new(interpreter.Env) }}

// evolve applies e; b is the command's budget, or nil for a replay, where
// each event has a budget of its own.
func evolve(agg *interpreter.Aggregate, state any, e Event, env Envelope, b *interpreter.Budget, opt Options) (any, error) {
	et, ok := agg.Events[e.Type]
	if !ok {
		return nil, &Error{Kind: KindUnknownEvent, Message: fmt.Sprintf("aggregate %s has no event %q", agg.Name, e.Type)}
	}
	if opt.Strict {
		if vs := et.Validate(e.Payload); len(vs) > 0 {
			return nil, &Error{Kind: KindInvalidState, Name: e.Type, Message: fmt.Sprintf("event %s does not fit its #payload", e.Type), Violations: vs}
		}
	}
	var ts string
	rec := env.Recorded
	if et.ReadsMeta() {
		ts = e.Time.UTC().Format(time.RFC3339Nano)
		if e.Recorded != nil {
			rec = *e.Recorded
		}
	}
	x := envs.Get().(*interpreter.Env)
	*x = interpreter.Env{State: state, Event: e.Payload, Budget: b, Meta: interpreter.Meta{
		Aggregate: agg.Name, AggregateID: env.Instance, Version: int(e.Version),
		Command: env.Command, CommandID: env.ID, EventID: e.ID, Timestamp: ts,
	}.With(rec)}
	next, err := et.Apply(x)
	*x = interpreter.Env{}
	envs.Put(x)
	if err != nil {
		return nil, exprError(err)
	}
	if opt.Strict {
		if vs := agg.CheckState(next); len(vs) > 0 {
			return nil, &Error{Kind: KindInvalidState, Name: e.Type, Message: fmt.Sprintf("state after %s does not fit #state", e.Type), Violations: vs}
		}
	}
	return next, nil
}

func decodePayload(raw json.RawMessage, lim value.Limits) (any, error) {
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	v, err := value.Decode(raw, lim)
	var ne *value.NumberError
	var se *value.SyntaxError
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, value.ErrTooLarge):
		return nil, &Error{Kind: KindTooLarge, Message: err.Error()}
	case errors.Is(err, value.ErrTooDeep):
		return nil, &Error{Kind: KindTooDeep, Message: err.Error()}
	case errors.As(err, &ne):
		return nil, &Error{Kind: KindSchema, Message: "payload has a number that cannot be represented exactly",
			Violations: []interpreter.Violation{{Pointer: ne.Pointer, Message: ne.Reason()}}}
	case errors.As(err, &se):
		return nil, &Error{Kind: KindInvalidJSON, Message: err.Error()}
	}
	return nil, &Error{Kind: KindInvalidJSON, Message: err.Error()}
}

func exprError(err error) error {
	var ee *interpreter.EvalError
	if !errors.As(err, &ee) {
		return &Error{Kind: KindExpression, Message: err.Error()}
	}
	k := KindExpression
	if errors.Is(err, interpreter.ErrBudget) {
		k = KindBudget
	}
	pos := ee.Pos
	return &Error{Kind: k, Message: ee.Error(), Pos: &pos}
}

func names[V any](m map[string]V) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// mayRun evaluates the allow rules of a command for its caller.
func mayRun(a *interpreter.Auth, env Envelope, payload, state any, version int64, ts string) error {
	ev := &interpreter.Env{Cmd: payload, State: state, Caller: env.Caller.Claims, Budget: interpreter.NewBudget(), Meta: interpreter.Meta{
		Aggregate: env.Aggregate, AggregateID: env.Instance, Version: int(version),
		Command: env.Command, CommandID: env.ID, Timestamp: ts,
	}}
	if ev.Caller == nil {
		ev.Caller = map[string]any{}
	}
	v, err := a.MayRun(env.Aggregate, env.Command, ev, env.Caller.Anonymous)
	if err != nil {
		// A rule that cannot be evaluated for this caller (a claim it
		// lacks) does not allow: the caller is refused, not the server.
		return &Error{Kind: KindForbidden, Status: 403, Message: fmt.Sprintf("%s is not allowed: a rule could not be evaluated for this caller", env.Command)}
	}
	if !v.Allowed {
		msg := fmt.Sprintf("%s is not allowed for this caller", env.Command)
		if v.Rule != "" {
			msg = fmt.Sprintf("%s is not allowed for this caller: %s", env.Command, v.Rule)
		}
		return &Error{Kind: KindForbidden, Name: v.Rule, Status: 403, Message: msg}
	}
	return nil
}

// lookups gives every declared look-up a value: what was read, or, for
// one the caller did not read (a decision made without its world, as in
// a test), what an empty world gives: no rows, no instance (null).
func lookups(cmd *interpreter.Command, read map[string]any) map[string]any {
	out := make(map[string]any, len(cmd.Lookups))
	for _, l := range cmd.Lookups {
		v, ok := read[l.Name]
		if !ok && l.Query != "" {
			v = []any{}
		}
		out[l.Name] = v
	}
	return out
}

// ExprError types an error of an expression the engine's caller ran for
// a command (a unique key): expression_failed or budget_exceeded.
func ExprError(err error) error { return exprError(err) }

// DecodePayload decodes a command's payload as Decide does, under lim; its
// errors are Decide's (*Error).
func DecodePayload(raw json.RawMessage, lim value.Limits) (any, error) {
	return decodePayload(raw, lim)
}
