package effect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/value"
)

// kind is what becomes of a row after a delivery.
type kind int

const (
	done    kind = iota // delivered: the row is deleted
	skip                // the effect's `if` is false: the row is deleted
	retry               // failed for now: attempts+1, due again after the backoff
	dead                // failed for good: moved to the dead letters
	release             // not attempted (shutting down): due again now
)

// outcome is the result of one delivery.
type outcome struct {
	kind       kind
	err        string
	rejection  json.RawMessage // a send's permanent rejection: {kind, name, message}
	retryAfter time.Duration   // what the receiver asked for
	note       string          // logged: what happened besides a plain delivery
	target     string          // a send's instance id
}

// storedLimits bound what is decoded from the log: it was checked when
// written.
var storedLimits = value.Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10}

// deliver delivers one row once.
func (d *Dispatcher) deliver(ctx context.Context, r *row) outcome {
	e := d.prog.Effects[r.consumer]
	if e == nil {
		return outcome{kind: dead, err: fmt.Sprintf("the context has no effect %q (any more)", r.consumer)}
	}
	payload, err := value.Decode(r.ev.Payload, storedLimits)
	if err != nil {
		return outcome{kind: dead, err: fmt.Sprintf("the payload of event %s: %v", r.eventID, err)}
	}
	if payload == nil {
		payload = map[string]any{}
	}
	env := &interpreter.Env{Event: payload, Vars: d.envs, Meta: interpreter.Meta{
		Aggregate: r.ev.Aggregate, AggregateID: r.ev.Instance, Version: int(r.ev.Version),
		CommandID: r.ev.CommandID, EventID: r.eventID, EventType: r.ev.Type, Position: int(r.ev.Position),
		Timestamp: r.ev.Time.UTC().Format(time.RFC3339Nano),
	}}
	ok, err := e.Applies(env)
	if err != nil {
		return outcome{kind: dead, err: "if: " + err.Error()}
	}
	if !ok {
		return outcome{kind: skip}
	}
	var out outcome
	switch {
	case e.Send != nil:
		out = d.send(ctx, e, r, env)
	case e.HTTP != nil:
		out = d.webhook(ctx, e, r, env)
	default:
		out = outcome{kind: dead, err: "the effect has neither send nor http"}
	}
	if out.kind == retry && ctx.Err() != nil {
		// Cut short by shutdown (or the end of a sync request), not failed:
		// try again without counting it.
		out.kind = release
	}
	return out
}

// send executes the effect's command, and its onReject command when the
// first is rejected for good.
func (d *Dispatcher) send(ctx context.Context, e *interpreter.Effect, r *row, env *interpreter.Env) outcome {
	resp, out := d.execute(ctx, e.Send, env, "effect:"+e.Name+":"+r.eventID)
	if out.kind != done || resp.Status/100 == 2 {
		return out
	}
	rej := rejectionOf(resp)
	rejJSON, _ := json.Marshal(rej)
	first := fmt.Sprintf("%s %s %s was rejected: %d %s", e.Send.Aggregate, out.target, e.Send.Command, resp.Status, rej.describe())
	if e.Send.OnReject == nil {
		return outcome{kind: dead, err: first, rejection: rejJSON}
	}
	env.Rejection = map[string]any{"kind": rej.Kind, "name": rej.Name, "message": rej.Message}
	re := e.Send.OnReject
	resp2, out2 := d.execute(ctx, re, env, "effect:"+e.Name+":reject:"+r.eventID)
	switch {
	case out2.kind == done && resp2.Status/100 == 2:
		return outcome{kind: done, note: fmt.Sprintf("%s; onReject sent %s %s %s", first, re.Aggregate, out2.target, re.Command)}
	case out2.kind == done: // the reaction was rejected for good too
		return outcome{kind: dead, rejection: rejJSON, err: fmt.Sprintf("%s; onReject %s %s %s was rejected too: %d %s",
			first, re.Aggregate, out2.target, re.Command, resp2.Status, rejectionOf(resp2).describe())}
	}
	out2.err = first + "; onReject: " + out2.err
	out2.rejection = rejJSON
	return out2
}

// execute builds and runs one command. It returns kind done with the
// response when the command was accepted or rejected for good (the caller
// tells them apart by status), retry or dead otherwise.
func (d *Dispatcher) execute(ctx context.Context, s *interpreter.Sender, env *interpreter.Env, key string) (api.Response, outcome) {
	id, payload, err := s.Build(env)
	if err != nil {
		return api.Response{}, outcome{kind: dead, err: fmt.Sprintf("send %s %s: %v", s.Aggregate, s.Command, err)}
	}
	body, err := value.Encode(payload)
	if err != nil {
		return api.Response{}, outcome{kind: dead, err: fmt.Sprintf("send %s %s: payload: %v", s.Aggregate, s.Command, err)}
	}
	sum := sha256.Sum256(append([]byte(key+"\n"), body...))
	resp, err := d.exec.Execute(ctx, &api.CommandRequest{
		Aggregate: s.Aggregate, ID: id, Command: s.Command, Payload: body,
		CommandID: api.NewID(), Time: d.now().UTC(), ExpectedVersion: engine.AnyVersion,
		IdempotencyKey: key, RequestHash: hex.EncodeToString(sum[:]),
	})
	if err != nil {
		return resp, outcome{kind: retry, err: fmt.Sprintf("%s %s %s: %v", s.Aggregate, id, s.Command, err)}
	}
	if resp.Status/100 == 2 {
		return resp, outcome{kind: done, target: id}
	}
	rej := rejectionOf(resp)
	switch {
	case resp.Status == http.StatusConflict && rej.Kind == "idempotency_key_reused":
		// Only accepted commands leave an idempotency record: this one ran
		// before, with a payload built differently (the env changed).
		return api.Response{Status: http.StatusOK}, outcome{kind: done, target: id,
			note: fmt.Sprintf("%s %s %s ran before, with another payload (the env changed?)", s.Aggregate, id, s.Command)}
	case permanent(resp.Status, rej.Kind):
		return resp, outcome{kind: done, target: id}
	}
	out := outcome{kind: retry, err: fmt.Sprintf("%s %s %s: %d %s", s.Aggregate, id, s.Command, resp.Status, rej.describe())}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		out.retryAfter = retryAfter(ra, d.now())
	}
	return resp, out
}

// permanent reports whether a command rejection stays the same when the
// command is sent again: schema, unknown names, a missing or existing
// instance, a version, a guard, an invariant or a budget.
func permanent(status int, kind string) bool {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusPreconditionFailed,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	case http.StatusConflict:
		return kind != "concurrent_write"
	}
	return false
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

func rejectionOf(resp api.Response) rejection {
	var p struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	_ = json.Unmarshal(resp.Body, &p)
	r := rejection{Kind: p.Kind, Name: p.Name, Message: p.Detail}
	if r.Message == "" {
		r.Message = p.Title
	}
	if r.Kind == "" {
		r.Kind = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.Status), " ", "_"))
	}
	return r
}

// webhook calls the effect's URL once.
func (d *Dispatcher) webhook(ctx context.Context, e *interpreter.Effect, r *row, env *interpreter.Env) outcome {
	w := e.HTTP
	target := d.vars[w.URLEnv]
	if target == "" {
		return outcome{kind: dead, err: fmt.Sprintf("env %s (the URL) is empty: set %s%s", w.URLEnv, manifest.EnvPrefix, w.URLEnv)}
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outcome{kind: dead, err: fmt.Sprintf("env %s is not an http(s) URL: %q", w.URLEnv, target)}
	}
	headers, body, err := w.Build(env)
	if err != nil {
		return outcome{kind: dead, err: err.Error()}
	}
	var rd io.Reader
	if w.Method != http.MethodGet {
		if body == nil {
			// Without a body of its own, the effect posts the event.
			body = map[string]any{
				"eventId": r.eventID, "type": r.ev.Type, "aggregate": r.ev.Aggregate, "id": r.ev.Instance,
				"version": r.ev.Version, "position": r.ev.Position, "time": env.Meta.Timestamp, "payload": env.Event,
			}
		}
		data, err := value.Encode(body)
		if err != nil {
			return outcome{kind: dead, err: "body: " + err.Error()}
		}
		rd = bytes.NewReader(data)
	}
	tctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, w.Method, target, rd)
	if err != nil {
		return outcome{kind: dead, err: err.Error()}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Idempotency-Key", e.Name+":"+r.eventID)
	req.Header.Set("Cuesource-Event-Id", r.eventID)
	req.Header.Set("Cuesource-Effect", e.Name)
	resp, err := d.client.Do(req)
	if err != nil {
		msg := err.Error()
		if tctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			msg = fmt.Sprintf("%s %s: no answer within %s", w.Method, redact(target), w.Timeout)
		}
		return outcome{kind: retry, err: msg}
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return outcome{kind: done}
	}
	msg := fmt.Sprintf("%s %s: %s", w.Method, redact(target), resp.Status)
	if s := strings.TrimSpace(string(snippet)); s != "" {
		msg += ": " + s
	}
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return outcome{kind: retry, err: msg, retryAfter: retryAfter(resp.Header.Get("Retry-After"), d.now())}
	}
	return outcome{kind: dead, err: msg}
}

// redact drops credentials and the query from a URL written to errors.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// retryAfter reads Retry-After: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
