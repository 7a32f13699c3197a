package cuesource

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// CommandRequest is a command ready to be decided on its instance: one
// that passed the HTTP checks, or one an effect sends.
type CommandRequest struct {
	Aggregate       string          `json:"aggregate"`
	ID              string          `json:"id"`
	Command         string          `json:"command"`
	Payload         json.RawMessage `json:"payload,omitempty"`
	CommandID       string          `json:"commandId"`
	Time            time.Time       `json:"time"`
	ExpectedVersion int64           `json:"expectedVersion"` // engine.AnyVersion, AnyExisting or a version
	// ExpectedVersions, when set, is an If-Match list: the command runs
	// only if the instance is at one of these versions (sorted, no
	// repeats), checked under the instance's writer.
	ExpectedVersions []int64      `json:"expectedVersions,omitempty"`
	IdempotencyKey   string       `json:"idempotencyKey,omitempty"`
	Limits           value.Limits `json:"limits"` // the service's payload limits
	// Caller is who sends the command in a context with auth: the
	// context's rules are evaluated for it. Nil: they are not (a command
	// an effect sends, one sent with a static token, a context without
	// auth). Only the API takes commands from outside, and it always sets
	// Caller when the context declares auth.
	Caller *Caller `json:"caller,omitempty"`
	// CorrelationID and CausationID, when set, are what the command's
	// events record as the process they belong to and their cause (an
	// effect's send carries them on); by default both are CommandID.
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	// Lookups are what the command's look-ups read (see Lookup), by
	// name; read before the decision, outside the instance's writer.
	Lookups map[string]any `json:"lookups,omitempty"`
	// Holds, when set, is the key the instance was addressed by (POST
	// /{aggregate}/by/{constraint}/{key}/{command}): the runtime checks,
	// under the instance's writer, that the instance still holds it, and
	// refuses the command (404 key_not_held) if not.
	Holds *KeyRef `json:"holds,omitempty"`
}

// KeyRef names a unique key of an aggregate.
type KeyRef struct {
	Constraint string `json:"constraint"`
	Key        string `json:"key"`
}

// Caller is a verified identity, or an anonymous one.
type Caller = engine.Caller

// StoreKey is the key the idempotency record is stored under: keys are
// scoped to their instance, so an instance's own storage can hold them.
func (r *CommandRequest) StoreKey() string {
	if r.IdempotencyKey == "" {
		return ""
	}
	return r.Aggregate + "/" + r.ID + "/" + r.IdempotencyKey
}

// DefaultIdempotencyTTL is how long an idempotency record is kept unless
// the operator says otherwise (serve --idempotency-ttl, the Worker's
// CUESOURCE_IDEMPOTENCY_TTL).
const DefaultIdempotencyTTL = 24 * time.Hour

// RequestHash is what an idempotency record remembers of its request:
// everything that makes the request what it is (the instance, the
// command, the versions it expects and the body), so that a key reused
// for any other request is refused rather than answered with another
// request's response. Decide computes it, so every runtime and every
// caller (HTTP, effects) hashes alike. Each field is length-prefixed: no
// two requests share the hashed text by moving bytes between fields.
func RequestHash(req *CommandRequest) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(req.Aggregate)
	field(req.ID)
	field(req.Command)
	field(strconv.FormatInt(req.ExpectedVersion, 10))
	field(fmt.Sprint(req.ExpectedVersions))
	field(string(req.Payload))
	if req.Caller != nil {
		// A key reused by another caller is refused, never answered with
		// the first caller's answer. Only with auth: every other request
		// hashes as before.
		field(req.Caller.Actor)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Decision is what Decide returns: the commit to append (nil when there is
// nothing to write) and the answer to give once it is appended.
type Decision struct {
	Commit *store.Commit
	Answer Answer
	// State is the decoded state after the commit (nil without a commit),
	// for backends that keep instances in memory.
	State any
}

// Answer is what a command or a seed answers, in no protocol's terms: the
// API maps it to HTTP, an effect reads its rejection as it is. It is also
// what an idempotency record keeps, so a replay answers as the first run.
type Answer struct {
	// Version is the instance's version after the command.
	Version int64 `json:"version"`
	// Created: the command or seed created the instance.
	Created bool `json:"created,omitempty"`
	// Body is the result: the decision of a command (its events, state and
	// version), the version and state of a seed.
	Body json.RawMessage `json:"body,omitempty"`
	// Replayed: an idempotency record answered, and nothing ran.
	Replayed bool `json:"replayed,omitempty"`
	// Rejection is set when the command was refused; nothing was written.
	Rejection *Rejection `json:"rejection,omitempty"`
}

// Rejection is a refused command or seed, typed by its kind.
type Rejection struct {
	Kind       engine.Kind             `json:"kind"`
	Message    string                  `json:"message"`
	Name       string                  `json:"name,omitempty"` // the guard or invariant
	Violations []interpreter.Violation `json:"violations,omitempty"`
	At         string                  `json:"at,omitempty"` // the expression that failed
	// Current is the instance's version, for version_conflict and
	// concurrent_write.
	Current int64 `json:"current,omitempty"`
	// Status is the HTTP status the rejecting guard declares (0: the
	// kind's): the context author's choice, so it travels with the kind.
	Status int `json:"status,omitempty"`
	// Limit, Max and Size name a size limit of the context the result
	// would break (state_too_large, event_too_large).
	Limit string `json:"limit,omitempty"`
	Max   int    `json:"max,omitempty"`
	Size  int    `json:"size,omitempty"`
	// Constraint and Key name the unique key of a unique_violation,
	// invalid_key or key_not_held; Holder is the instance that holds it
	// (the API leaves it out for a caller who may not read it).
	Constraint string `json:"constraint,omitempty"`
	Key        string `json:"key,omitempty"`
	Holder     string `json:"holder,omitempty"`
}

func (r *Rejection) Error() string { return string(r.Kind) + ": " + r.Message }

// The kinds of rejection Decide and DecideSeed give beside the engine's.
const (
	// KindInvalidID: an instance id no URL can address (see CheckID).
	KindInvalidID engine.Kind = "invalid_id"
	// KindInvalidBody: a seed whose body is not what it must be.
	KindInvalidBody engine.Kind = "invalid_body"
	// KindKeyReused: an idempotency key used before for another request.
	KindKeyReused engine.Kind = "idempotency_key_reused"
	// KindConcurrentWrite: another writer changed the instance between
	// load and append; the command may be sent again.
	KindConcurrentWrite engine.Kind = "concurrent_write"
	// KindLensFailed: a seeded event the lenses could not read.
	KindLensFailed engine.Kind = "lens_failed"
	// KindUniqueViolation: the command's events would claim a unique key
	// another instance holds (409).
	KindUniqueViolation engine.Kind = "unique_violation"
	// KindInvalidKey: a unique key an event would claim that no URL can
	// address (see CheckID) (422).
	KindInvalidKey engine.Kind = "invalid_key"
	// KindKeyNotHeld: no instance holds the key a request addressed, or
	// the instance it named let go of it (404).
	KindKeyNotHeld engine.Kind = "key_not_held"
	// KindInternal: the runtime failed, not the request.
	KindInternal engine.Kind = "internal"
)

// Rejected is a Decision that refuses with a rejection of kind.
func rejected(kind engine.Kind, msg string) Decision {
	return Decision{Answer: Answer{Rejection: &Rejection{Kind: kind, Message: msg}}}
}

func failed(err error) Decision { return rejected(KindInternal, err.Error()) }

// Conflict is the answer when the store refused a commit because the
// instance moved on (another writer, e.g. another process on the same
// database) between load and append.
func Conflict(current int64) Answer {
	return Answer{Rejection: &Rejection{Kind: KindConcurrentWrite, Current: current,
		Message: "the instance was changed by another writer while this command was decided; retry it"}}
}

// Decide decides a command on the instance snapshot cur, given the
// idempotency record stored under req.StoreKey() (nil if none). It is pure:
// the backend holds the instance's writer around it and appends the commit.
func Decide(p *interpreter.Program, cur store.Instance, rec *store.Idempotency, req *CommandRequest, opt engine.Options) Decision {
	var state any
	if cur.Version > 0 && rec == nil {
		s, err := value.DecodeStored(cur.State)
		if err != nil {
			return failed(fmt.Errorf("stored state of %s %s: %w", req.Aggregate, req.ID, err))
		}
		state = s
	}
	return DecideOn(p, cur, state, rec, req, opt)
}

// DecideOn is Decide with the snapshot's state already decoded (a backend
// that keeps it in memory saves the decoding). The engine never changes
// state, so a decoded state may be shared.
func DecideOn(p *interpreter.Program, cur store.Instance, state any, rec *store.Idempotency, req *CommandRequest, opt engine.Options) Decision {
	// The HTTP routes check the id first; a command an effect sends gets
	// its id from an expression.
	if reason := CheckID(req.ID); reason != "" {
		return rejected(KindInvalidID, "the instance id "+reason)
	}
	if rec != nil {
		if rec.RequestHash != RequestHash(req) {
			return rejected(KindKeyReused, "this Idempotency-Key was used for a different request to this instance")
		}
		var a Answer
		if err := json.Unmarshal(rec.Response, &a); err != nil {
			return failed(fmt.Errorf("stored idempotent answer: %w", err))
		}
		a.Replayed = true
		return Decision{Answer: a}
	}
	expected := req.ExpectedVersion
	if len(req.ExpectedVersions) > 0 {
		// A list is a set of acceptable versions: the engine checks the
		// current one if it is in the set, else one it cannot be, so that
		// the answer (412) comes in the engine's order of checks.
		expected = req.ExpectedVersions[0]
		if slices.Contains(req.ExpectedVersions, cur.Version) {
			expected = cur.Version
		}
	}
	if expected == AnyExisting {
		if cur.Version == 0 {
			return Decision{Answer: preconditionFailed(cur.Version)}
		}
		expected = engine.AnyVersion
	}
	if req.Limits != (value.Limits{}) {
		opt.Limits = req.Limits
	}
	recorded, meta := Recorded(p, req)
	d, err := engine.Decide(p, engine.Current{State: state, Version: cur.Version}, engine.Envelope{
		ID: req.CommandID, Aggregate: req.Aggregate, Instance: req.ID, Command: req.Command,
		Payload: req.Payload, ExpectedVersion: expected, Time: req.Time, Caller: req.Caller,
		Recorded: recorded, Lookup: req.Lookups,
	}, opt)
	if err != nil {
		return Decision{Answer: rejection(err, cur.Version)}
	}
	stateJSON, err := value.Encode(d.State)
	if err != nil {
		return failed(err)
	}
	// Sizes are checked on the encoded form, which is what is stored and
	// answered, before anything is written.
	if max := p.Limits.StateBytes; len(stateJSON) > max {
		return Decision{Answer: overLimit(engine.KindStateTooLarge, "stateBytes", max, len(stateJSON),
			fmt.Sprintf("the state of %s %s after %s would be %d bytes, over the context's limit stateBytes (%d)", req.Aggregate, req.ID, req.Command, len(stateJSON), max))}
	}
	commit := &store.Commit{Aggregate: req.Aggregate, Instance: req.ID, ExpectedVersion: cur.Version, State: stateJSON}
	for _, e := range d.Events {
		pl, err := value.Encode(e.Payload)
		if err != nil {
			return failed(err)
		}
		if max := p.Limits.EventBytes; len(pl) > max {
			return Decision{Answer: overLimit(engine.KindEventTooLarge, "eventBytes", max, len(pl),
				fmt.Sprintf("the payload of event %s emitted by %s would be %d bytes, over the context's limit eventBytes (%d)", e.Type, req.Command, len(pl), max))}
		}
		commit.Events = append(commit.Events, store.Event{
			ID: e.ID, Aggregate: req.Aggregate, Instance: req.ID, Version: e.Version, Type: e.Type,
			SchemaVersion: p.Aggregates[req.Aggregate].Events[e.Type].Version(),
			Time:          e.Time, CommandID: req.CommandID, Payload: pl, Meta: meta,
		})
		// Every delivery the event owes is written with it (the outbox),
		// so a crash after the commit loses none.
		for _, name := range p.EffectsOn(req.Aggregate, e.Type) {
			commit.Outbox = append(commit.Outbox, store.OutboxEntry{EventID: e.ID, Consumer: name})
		}
	}
	claims, rej := keyClaims(p.Aggregates[req.Aggregate], d.Events, req)
	if rej != nil {
		return Decision{Answer: Answer{Rejection: rej}}
	}
	commit.Unique = claims
	commit.Snapshot = snapshotOf(p, req.Aggregate, req.ID, cur.Version, d.Version, stateJSON, req.Time)
	body, err := value.Encode(d)
	if err != nil {
		return failed(err)
	}
	a := Answer{Version: d.Version, Created: cur.Version == 0 && d.Version > 0, Body: body}
	if req.IdempotencyKey != "" {
		stored, _ := json.Marshal(a)
		commit.Idempotency = &store.Idempotency{Key: req.StoreKey(), RequestHash: RequestHash(req), Response: stored, Time: req.Time}
	}
	return Decision{Commit: commit, Answer: a, State: d.State}
}

func preconditionFailed(current int64) Answer {
	return Answer{Rejection: &Rejection{Kind: engine.KindVersionConflict, Current: current,
		Message: fmt.Sprintf("If-Match does not match the instance's version %d", current)}}
}

// rejection types an error of the engine; any other error is internal.
func rejection(err error, current int64) Answer {
	var ee *engine.Error
	if !errors.As(err, &ee) {
		return failed(err).Answer
	}
	if ee.Kind == engine.KindVersionConflict {
		return preconditionFailed(current)
	}
	return Answer{Rejection: &Rejection{Kind: ee.Kind, Message: ee.Message, Name: ee.Name, Violations: ee.Violations, At: posString(ee.Pos), Status: ee.Status}}
}

func posString(p *manifest.Pos) string {
	if p == nil {
		return ""
	}
	return p.String()
}

// overLimit refuses a command whose result is over a size limit of the
// context: it names the limit, its value and the size reached.
func overLimit(kind engine.Kind, limit string, max, size int, msg string) Answer {
	return Answer{Rejection: &Rejection{Kind: kind, Message: msg, Limit: limit, Max: max, Size: size}}
}

// MaxIDLength bounds an instance id, in bytes.
const MaxIDLength = 256

// CheckID says what is wrong with an instance id, or "" when nothing is.
// It refuses an id that cannot name one instance the same way everywhere:
// one that is not valid UTF-8 or has U+FFFD (invalid bytes become U+FFFD
// in storage or in a URL parser, and would address another instance), "."
// or ".." (URL normalisation removes such segments), one with control
// characters (which logs, headers and terminals interpret), and one over
// MaxIDLength bytes. Both runtimes and every caller (HTTP, effects) apply
// it.
func CheckID(id string) string {
	switch {
	case len(id) > MaxIDLength:
		return fmt.Sprintf("is longer than %d bytes", MaxIDLength)
	case id == "":
		return "is empty"
	case id == "." || id == "..":
		return fmt.Sprintf("%q is a dot segment, which URLs remove", id)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	}
	for _, r := range id {
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("has the control character %U", r)
		case r == utf8.RuneError:
			// What bytes that are not UTF-8 become on the way to a Worker:
			// refused too, so that no such id addresses another instance.
			return "has U+FFFD, the replacement for bytes that are not UTF-8"
		}
	}
	return ""
}

// AnyExisting as an expected version means If-Match: * (the instance must
// exist, whatever its version).
const AnyExisting = -2

// Recorded is what the events of req record as their meta in a context
// with auth (and its encoding, shared by every event of the command):
// the actor (the caller's sub, a static token's name, "anonymous", or
// "system" for a command no caller sent), the correlation id (the first
// command's, carried on by sends) and the causation id. Without auth,
// nothing: events are written as before.
func Recorded(p *interpreter.Program, req *CommandRequest) (interpreter.Recorded, json.RawMessage) {
	if p.Auth == nil {
		return interpreter.Recorded{}, nil
	}
	r := interpreter.Recorded{Actor: "system", CorrelationID: req.CorrelationID, CausationID: req.CausationID}
	if req.Caller != nil {
		r.Actor = req.Caller.Actor
	}
	if r.CorrelationID == "" {
		r.CorrelationID = req.CommandID
	}
	if r.CausationID == "" {
		r.CausationID = req.CommandID
	}
	r.Declared = declared(p, req)
	raw, _ := json.Marshal(r)
	return r, raw
}

// declared evaluates the context's declared metadata for req: over its
// payload (null when it is not JSON: the command is then rejected anyway)
// and its caller's claims.
func declared(p *interpreter.Program, req *CommandRequest) map[string]any {
	if len(p.Auth.Manifest.Meta) == 0 && !commandMeta(p.Auth.Manifest, req.Aggregate, req.Command) {
		return nil
	}
	env := &interpreter.Env{Caller: map[string]any{}}
	if req.Caller != nil && req.Caller.Claims != nil {
		env.Caller = req.Caller.Claims
	}
	// The payload as the command's expressions read it: decoded as Decide
	// decodes it, with its declared defaults.
	if v, err := engine.DecodePayload(req.Payload, req.Limits); err == nil {
		env.Cmd = v
		if a := p.Aggregates[req.Aggregate]; a != nil && a.Commands[req.Command] != nil {
			env.Cmd = a.Commands[req.Command].WithDefaults(v)
		}
	}
	return p.Auth.Declared(req.Aggregate, req.Command, env)
}

func commandMeta(a *manifest.Auth, aggregate, command string) bool {
	if ar := a.Aggregates[aggregate]; ar != nil {
		if cr := ar.Commands[command]; cr != nil {
			return len(cr.Meta) > 0
		}
	}
	return false
}
