package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// CommandRequest is a command that passed the HTTP checks, ready to be
// decided on its instance.
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
}

// StoreKey is the key the idempotency record is stored under: keys are
// scoped to their instance, so an instance's own storage can hold them.
func (r *CommandRequest) StoreKey() string {
	if r.IdempotencyKey == "" {
		return ""
	}
	return r.Aggregate + "/" + r.ID + "/" + r.IdempotencyKey
}

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
	return hex.EncodeToString(h.Sum(nil))
}

// Decision is what Decide returns: the commit to append (nil when there is
// nothing to write) and the response to give once it is appended.
type Decision struct {
	Commit   *store.Commit
	Response Response
	// State is the decoded state after the commit (nil without a commit),
	// for backends that keep instances in memory.
	State any
}

// Decide decides a command on the instance snapshot cur, given the
// idempotency record stored under req.StoreKey() (nil if none). It is pure:
// the backend holds the instance's writer around it and appends the commit.
func Decide(p *interpreter.Program, cur store.Instance, rec *store.Idempotency, req *CommandRequest, opt engine.Options) Decision {
	var state any
	if cur.Version > 0 && rec == nil {
		s, err := value.DecodeStored(cur.State)
		if err != nil {
			return Decision{Response: internal(fmt.Errorf("stored state of %s %s: %w", req.Aggregate, req.ID, err))}
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
	if bad := checkID(req.ID); bad != nil {
		return Decision{Response: *bad}
	}
	if rec != nil {
		if rec.RequestHash != RequestHash(req) {
			return Decision{Response: problem(statusConflict, "idempotency_key_reused",
				"this Idempotency-Key was used for a different request to this instance")}
		}
		var resp Response
		if err := json.Unmarshal(rec.Response, &resp); err != nil {
			return Decision{Response: internal(fmt.Errorf("stored idempotent response: %w", err))}
		}
		if resp.Header == nil {
			resp.Header = Header{}
		}
		resp.Header.Set("Idempotent-Replayed", "true")
		return Decision{Response: resp}
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
			return Decision{Response: preconditionFailed(cur.Version)}
		}
		expected = engine.AnyVersion
	}
	if req.Limits != (value.Limits{}) {
		opt.Limits = req.Limits
	}
	d, err := engine.Decide(p, engine.Current{State: state, Version: cur.Version}, engine.Envelope{
		ID: req.CommandID, Aggregate: req.Aggregate, Instance: req.ID, Command: req.Command,
		Payload: req.Payload, ExpectedVersion: expected, Time: req.Time,
	}, opt)
	if err != nil {
		return Decision{Response: rejection(err, cur.Version)}
	}
	stateJSON, err := value.Encode(d.State)
	if err != nil {
		return Decision{Response: internal(err)}
	}
	// Sizes are checked on the encoded form, which is what is stored and
	// answered, before anything is written.
	if max := p.Limits.StateBytes; len(stateJSON) > max {
		return Decision{Response: overLimit(engine.KindStateTooLarge, "stateBytes", max, len(stateJSON),
			fmt.Sprintf("the state of %s %s after %s would be %d bytes, over the context's limit stateBytes (%d)", req.Aggregate, req.ID, req.Command, len(stateJSON), max))}
	}
	commit := &store.Commit{Aggregate: req.Aggregate, Instance: req.ID, ExpectedVersion: cur.Version, State: stateJSON}
	for _, e := range d.Events {
		pl, err := value.Encode(e.Payload)
		if err != nil {
			return Decision{Response: internal(err)}
		}
		if max := p.Limits.EventBytes; len(pl) > max {
			return Decision{Response: overLimit(engine.KindEventTooLarge, "eventBytes", max, len(pl),
				fmt.Sprintf("the payload of event %s emitted by %s would be %d bytes, over the context's limit eventBytes (%d)", e.Type, req.Command, len(pl), max))}
		}
		commit.Events = append(commit.Events, store.Event{
			ID: e.ID, Aggregate: req.Aggregate, Instance: req.ID, Version: e.Version, Type: e.Type,
			SchemaVersion: p.Aggregates[req.Aggregate].Events[e.Type].Version(),
			Time:          e.Time, CommandID: req.CommandID, Payload: pl,
		})
		// Every delivery the event owes is written with it (the outbox),
		// so a crash after the commit loses none.
		for _, name := range p.EffectsOn(req.Aggregate, e.Type) {
			commit.Outbox = append(commit.Outbox, store.OutboxEntry{EventID: e.ID, Consumer: name})
		}
	}
	body, err := value.Encode(d)
	if err != nil {
		return Decision{Response: internal(err)}
	}
	resp := Response{Status: statusOK, Header: Header{
		"Content-Type": {"application/json"},
		"ETag":         {ETag(d.Version)},
	}, Body: body}
	if cur.Version == 0 && d.Version > 0 {
		resp.Status = statusCreated
		resp.Header.Set("Location", InstancePath(req.Aggregate, req.ID))
	}
	if req.IdempotencyKey != "" {
		stored, _ := json.Marshal(resp)
		commit.Idempotency = &store.Idempotency{Key: req.StoreKey(), RequestHash: RequestHash(req), Response: stored, Time: req.Time}
	}
	return Decision{Commit: commit, Response: resp, State: d.State}
}

// InstancePath is the URL path of an instance.
func InstancePath(aggregate, id string) string {
	return "/" + url.PathEscape(aggregate) + "/" + url.PathEscape(id)
}

// Conflict is the response when the store refused a commit because the
// instance moved on (another writer, e.g. another process on the same
// database) between load and append.
func Conflict(current int64) Response {
	return problemWith(statusConflict, "concurrent_write",
		"the instance was changed by another writer while this command was decided; retry it",
		map[string]any{"version": current})
}

func preconditionFailed(current int64) Response {
	return problemWith(statusPreconditionFailed, string(engine.KindVersionConflict),
		fmt.Sprintf("If-Match does not match the instance's version %d", current),
		map[string]any{"version": current, "etag": ETag(current)})
}

// statusOf maps rejection kinds to HTTP status codes.
var statusOf = map[engine.Kind]int{
	engine.KindInvalidJSON:      statusBadRequest,
	engine.KindTooLarge:         statusRequestEntityTooLarge,
	engine.KindTooDeep:          statusBadRequest,
	engine.KindSchema:           statusBadRequest,
	engine.KindUnknownAggregate: statusNotFound,
	engine.KindUnknownCommand:   statusNotFound,
	engine.KindUnknownEvent:     statusBadRequest, // a seed naming no event of the aggregate
	engine.KindInstanceMissing:  statusNotFound,
	engine.KindInstanceExists:   statusConflict,
	engine.KindVersionConflict:  statusPreconditionFailed,
	engine.KindGuard:            statusUnprocessableEntity,
	engine.KindInvariant:        statusUnprocessableEntity,
	engine.KindBudget:           statusUnprocessableEntity,
	engine.KindExpression:       statusInternalServerError,
	engine.KindInvalidState:     statusInternalServerError,
}

func rejection(err error, current int64) Response {
	var ee *engine.Error
	if !errors.As(err, &ee) {
		return internal(err)
	}
	if ee.Kind == engine.KindVersionConflict {
		return preconditionFailed(current)
	}
	status, ok := statusOf[ee.Kind]
	if !ok {
		status = statusInternalServerError
	}
	ext := map[string]any{}
	if ee.Name != "" {
		ext["name"] = ee.Name
	}
	if len(ee.Violations) > 0 {
		ext["violations"] = ee.Violations
	}
	if ee.Pos != nil {
		ext["at"] = ee.Pos.String()
	}
	return problemWith(status, string(ee.Kind), ee.Message, ext)
}

// overLimit is the 422 of a command whose result is over a size limit of
// the context: it names the limit, its value and the size reached.
func overLimit(kind engine.Kind, limit string, max, size int, msg string) Response {
	return problemWith(statusUnprocessableEntity, string(kind), msg, map[string]any{"limit": limit, "max": max, "size": size})
}

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
