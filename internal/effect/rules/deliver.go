package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/internal/httptext"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Doer performs a delivery's I/O.
type Doer interface {
	// Execute runs a command on its instance, as the runtime's backend
	// does for the HTTP API.
	Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error)
	// Fetch makes one HTTP call within req.Timeout, without following
	// redirects (a redirect is the answer), and gives the first
	// SnippetBytes of the answer's body. An error means no answer (network, timeout);
	// wrap it with [TimedOut] when req.Timeout passed, and return the
	// policy's refusal (errors.Is egress.ErrRefused) when the runtime
	// refused an address it was about to connect to.
	Fetch(ctx context.Context, req *Request) (*Reply, error)
}

// Request is a webhook's HTTP call.
type Request struct {
	Method  string
	URL     string
	Header  map[string]string // canonical keys, including Content-Type (with a body), Idempotency-Key, Cuesource-Event-Id and Cuesource-Effect
	Body    []byte            // nil for GET
	Timeout time.Duration
}

// Reply is the answer to a [Request].
type Reply struct {
	Status     int
	StatusText string // e.g. "503 Service Unavailable", as net/http's Response.Status; "": the code and its reason phrase
	RetryAfter string // the Retry-After header
	Location   string // the Location header (of a redirect)
	Snippet    string // the first SnippetBytes of the body
}

// SnippetBytes is how much of a webhook's answer a delivery reads (for
// the log and the dead letter); both runtimes read no more.
const SnippetBytes = 512

// ErrTimeout is what a [Doer.Fetch] error wrapped by [TimedOut] matches
// (errors.Is).
var ErrTimeout = errors.New("no answer within the timeout")

// TimedOut marks err, a Fetch error, as the request's Timeout having
// passed without an answer; its message stays err's.
func TimedOut(err error) error {
	if err == nil {
		err = ErrTimeout
	}
	return timedOut{err}
}

type timedOut struct{ err error }

func (t timedOut) Error() string        { return t.err.Error() }
func (t timedOut) Unwrap() error        { return t.err }
func (t timedOut) Is(target error) bool { return target == ErrTimeout }

// Deliverer delivers the effects of one program. It is safe for
// concurrent use when its fields are not changed.
type Deliverer struct {
	Prog  *interpreter.Program
	Vars  map[string]string // the context's env values; a declared variable missing here is ""
	Now   func() time.Time  // command time of sends, Retry-After dates; nil: time.Now
	NewID func() string     // command ids of sends; nil: cuesource.NewID
	// Egress is which addresses webhooks may call; its zero value allows
	// public ones only. A webhook's URL is checked before the call; a
	// runtime that can resolve names checks the addresses it connects to
	// as well (Doer.Fetch).
	Egress egress.Policy
	// ByName judges a URL's host names by their spelling (localhost,
	// *.internal, ...): for a runtime that cannot resolve them (Workers).
	ByName bool
}

// delivery is one Deliver call's state.
type delivery struct {
	d   *Deliverer
	e   *interpreter.Effect
	ev  store.Event
	env *interpreter.Env
	do  Doer
}

// Deliver delivers effect name for ev, the triggering event as the log
// keeps it (Position may be 0 when not known yet), once. A Retry cut short
// by the end of ctx is returned as Release.
func (d *Deliverer) Deliver(ctx context.Context, name string, ev store.Event, do Doer) Outcome {
	e := d.Prog.Effects[name]
	if e == nil {
		return Outcome{Kind: Dead, Err: fmt.Sprintf("the context has no effect %q (any more)", name)}
	}
	payload, err := value.DecodeStored(ev.Payload)
	if err == nil {
		ev.Type, payload, err = d.Prog.ReadEvent(ev.Aggregate, ev.Type, ev.SchemaVersion, payload)
	}
	if err != nil {
		return Outcome{Kind: Dead, Err: fmt.Sprintf("the payload of event %s: %v", ev.ID, err)}
	}
	if payload == nil {
		payload = map[string]any{}
	}
	env := &interpreter.Env{Event: payload, Vars: d.envs(), Budget: interpreter.NewBudget(), Meta: interpreter.Meta{
		Aggregate: ev.Aggregate, AggregateID: ev.Instance, Version: int(ev.Version),
		CommandID: ev.CommandID, EventID: ev.ID, EventType: ev.Type, Position: int(ev.Position),
		Timestamp: ev.Time.UTC().Format(time.RFC3339Nano),
	}.With(interpreter.ReadRecorded(ev.Meta))}
	ok, err := e.Applies(env)
	if err != nil {
		return Outcome{Kind: Dead, Err: "if: " + err.Error()}
	}
	if !ok {
		return Outcome{Kind: Skip}
	}
	dl := &delivery{d: d, e: e, ev: ev, env: env, do: do}
	var out Outcome
	switch {
	case e.Send != nil:
		out = dl.send(ctx)
	case e.HTTP != nil:
		out = dl.webhook(ctx)
	default:
		out = Outcome{Kind: Dead, Err: "the effect has neither send nor http"}
	}
	if out.Kind == Retry && ctx.Err() != nil {
		// Cut short by shutdown (or the end of a sync request), not failed:
		// try again without counting it.
		out.Kind = Release
	}
	return out
}

// envs is the env variables as expressions see them (env.NAME): every
// declared one, "" when not set.
func (d *Deliverer) envs() map[string]any {
	m := make(map[string]any, len(d.Vars))
	if d.Prog.Manifest != nil {
		for name := range d.Prog.Manifest.Env {
			m[name] = ""
		}
	}
	for name, v := range d.Vars {
		m[name] = v
	}
	return m
}

func (d *Deliverer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *Deliverer) newID() string {
	if d.NewID == nil {
		return cuesource.NewID()
	}
	return d.NewID()
}

// send executes the effect's command, and its onReject command when the
// first is rejected for good.
func (dl *delivery) send(ctx context.Context) Outcome {
	e := dl.e
	rej, out := dl.execute(ctx, e.Send, "effect:"+e.Name+":"+dl.ev.ID)
	if out.Kind != Done || rej == nil {
		return out
	}
	rejJSON, _ := json.Marshal(rej)
	first := fmt.Sprintf("%s %s %s was rejected: %s", e.Send.Aggregate, out.Target, e.Send.Command, rej.describe())
	if e.Send.OnReject == nil {
		return Outcome{Kind: Dead, Err: first, Rejection: rejJSON}
	}
	dl.env.Rejection = map[string]any{"kind": rej.Kind, "name": rej.Name, "message": rej.Message}
	re := e.Send.OnReject
	rej2, out2 := dl.execute(ctx, re, "effect:"+e.Name+":reject:"+dl.ev.ID)
	switch {
	case out2.Kind == Done && rej2 == nil:
		return Outcome{Kind: Done, Note: fmt.Sprintf("%s; onReject sent %s %s %s", first, re.Aggregate, out2.Target, re.Command)}
	case out2.Kind == Done: // the reaction was rejected for good too
		return Outcome{Kind: Dead, Rejection: rejJSON, Err: fmt.Sprintf("%s; onReject %s %s %s was rejected too: %s",
			first, re.Aggregate, out2.Target, re.Command, rej2.describe())}
	}
	out2.Err = first + "; onReject: " + out2.Err
	out2.Rejection = rejJSON
	return out2
}

// execute builds and runs one command. It returns Done when the command
// was accepted (no rejection) or rejected for good (with the rejection),
// Retry or Dead otherwise.
func (dl *delivery) execute(ctx context.Context, s *interpreter.Sender, key string) (*rejection, Outcome) {
	id, payload, err := s.Build(dl.env)
	if err != nil {
		return nil, Outcome{Kind: Dead, Err: fmt.Sprintf("send %s %s: %v", s.Aggregate, s.Command, err)}
	}
	body, err := value.Encode(payload)
	if err != nil {
		return nil, Outcome{Kind: Dead, Err: fmt.Sprintf("send %s %s: payload: %v", s.Aggregate, s.Command, err)}
	}
	req := &cuesource.CommandRequest{
		Aggregate: s.Aggregate, ID: id, Command: s.Command, Payload: body,
		CommandID: dl.d.newID(), Time: dl.d.now().UTC(), ExpectedVersion: engine.AnyVersion,
		IdempotencyKey: key,
	}
	if len(dl.ev.Meta) > 0 && dl.d.Prog.Auth != nil {
		// The process goes on for the same actor: the send carries the
		// correlation on, and the triggering event is its cause. The rules
		// were the first command's to apply.
		rec := interpreter.ReadRecorded(dl.ev.Meta)
		req.Caller = &cuesource.Caller{Actor: rec.Actor, Trusted: true, Claims: map[string]any{"sub": rec.Actor}}
		req.CorrelationID, req.CausationID = rec.CorrelationID, dl.ev.ID
	}
	a, err := dl.do.Execute(ctx, req)
	if err != nil {
		return nil, Outcome{Kind: Retry, Err: fmt.Sprintf("%s %s %s: %v", s.Aggregate, id, s.Command, err)}
	}
	if a.Rejection == nil {
		return nil, Outcome{Kind: Done, Target: id}
	}
	rej := &rejection{Kind: string(a.Rejection.Kind), Name: a.Rejection.Name, Message: a.Rejection.Message}
	switch a.Rejection.Kind {
	case cuesource.KindKeyReused:
		// Only accepted commands leave an idempotency record: this one ran
		// before, with a payload built differently (the env changed).
		return nil, Outcome{Kind: Done, Target: id,
			Note: fmt.Sprintf("%s %s %s ran before, with another payload (the env changed?)", s.Aggregate, id, s.Command)}
	case cuesource.KindConcurrentWrite, cuesource.KindInternal, engine.KindExpression, engine.KindInvalidState:
		// Another writer, or a failure of the runtime or of the
		// definition (which a redeploy fixes): it may go through later.
		return nil, Outcome{Kind: Retry, Err: fmt.Sprintf("%s %s %s: %s", s.Aggregate, id, s.Command, rej.describe())}
	}
	// Any other rejection (schema, unknown names, a missing or existing
	// instance, a version, a guard, an invariant, a budget, a size) is
	// the same when the command is sent again.
	return rej, Outcome{Kind: Done, Target: id}
}

// rejection is what onReject sees as `rejection` and a dead letter keeps.
type rejection struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (r rejection) describe() string {
	s := r.Kind
	if r.Name != "" {
		s += " " + strconv.Quote(r.Name)
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// webhook calls the effect's URL once.
func (dl *delivery) webhook(ctx context.Context) Outcome {
	e, w, ev := dl.e, dl.e.HTTP, dl.ev
	target := dl.d.Vars[w.URLEnv]
	if target == "" {
		return Outcome{Kind: Dead, Err: fmt.Sprintf("env %s (the URL) is empty: set %s%s", w.URLEnv, manifest.EnvPrefix, w.URLEnv)}
	}
	if err := dl.d.Egress.CheckURL(target, dl.d.ByName); err != nil {
		return Outcome{Kind: Dead, Err: fmt.Sprintf("env %s, the URL: %v", w.URLEnv, err)}
	}
	headers, body, err := w.Build(dl.env)
	if err != nil {
		return Outcome{Kind: Dead, Err: err.Error()}
	}
	h := map[string]string{}
	for k, v := range headers {
		h[httptext.CanonicalKey(k)] = v
	}
	req := &Request{Method: w.Method, URL: target, Timeout: w.Timeout}
	if w.Method != methodGet {
		if body == nil {
			// Without a body of its own, the effect posts the event.
			body = map[string]any{
				"eventId": ev.ID, "type": ev.Type, "aggregate": ev.Aggregate, "id": ev.Instance,
				"version": ev.Version, "position": ev.Position, "time": dl.env.Meta.Timestamp, "payload": dl.env.Event,
			}
		}
		data, err := value.Encode(body)
		if err != nil {
			return Outcome{Kind: Dead, Err: "body: " + err.Error()}
		}
		if data == nil {
			data = []byte{}
		}
		req.Body = data
		h["Content-Type"] = "application/json"
	}
	h["Idempotency-Key"] = e.Name + ":" + ev.ID
	h["Cuesource-Event-Id"] = ev.ID
	h["Cuesource-Effect"] = e.Name
	req.Header = h
	resp, err := dl.do.Fetch(ctx, req)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, egress.ErrRefused):
			// Resolved to an address the policy refuses: for good, until
			// the operator allows it (then the dead letter is retried).
			return Outcome{Kind: Dead, Err: fmt.Sprintf("%s %s: %v", w.Method, redact(target), err)}
		case errors.Is(err, ErrTimeout) && ctx.Err() == nil:
			msg = fmt.Sprintf("%s %s: no answer within %s", w.Method, redact(target), w.Timeout)
		}
		return Outcome{Kind: Retry, Err: msg}
	}
	if resp.Status/100 == 2 {
		return Outcome{Kind: Done}
	}
	status := resp.StatusText
	if status == "" {
		status = strings.TrimSpace(strconv.Itoa(resp.Status) + " " + httptext.StatusText(resp.Status))
	}
	// The receiver's body is kept apart (Outcome.Reply): what a target
	// answers must not reach the caller of a command whose sync effect
	// called it, or webhooks would read internal services for it.
	msg := fmt.Sprintf("%s %s: %s", w.Method, redact(target), status)
	reply := strings.TrimSpace(resp.Snippet)
	switch c := resp.Status; {
	case c == statusRequestTimeout, c == statusTooEarly, c == statusTooManyRequests, c >= 500:
		return Outcome{Kind: Retry, Err: msg, Reply: reply, RetryAfter: retryAfter(resp.RetryAfter, dl.d.now())}
	case c/100 == 3:
		// Not followed: where a webhook goes is the operator's URL, not
		// the receiver's choice, and a Worker could not check the
		// address a redirect leads to.
		msg += " (a redirect: webhooks do not follow redirects)"
		if resp.Location != "" {
			reply = strings.TrimSpace("Location: " + resp.Location + " " + reply)
		}
	}
	return Outcome{Kind: Dead, Err: msg, Reply: reply}
}
