package scenario

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/value"
)

// Target is a running server, native or on Workers, that scenarios are
// played against over its HTTP API. Given events are written through the
// admin seed endpoint, so the target needs an admin token.
type Target struct {
	URL        string // base URL, e.g. http://127.0.0.1:8080
	Token      string // bearer token for the API, if the server has one
	AdminToken string
	Client     *http.Client // nil: http.DefaultClient
	// KeepIDs plays each scenario on its instance id as written, for
	// contexts whose rules read the id (an ownership guard, an id copied
	// into an event). The instances must not exist yet on the target.
	KeepIDs bool
}

// RunHTTP plays one scenario against the target. Each run works on a fresh
// instance (the scenario's id with a random suffix, unless KeepIDs), so
// runs never collide with each other or with data already there. Every
// command after the first carries the instance's current ETag as
// If-Match, so a command declared `ifMatch: "required"` runs as it does in
// process.
func RunHTTP(ctx context.Context, t Target, s *manifest.Scenario) Result {
	r := Result{Name: s.Name, Pos: s.Pos}
	if actsAs(s) {
		// Over HTTP the identity would be a token the runner cannot mint
		// for the target's keys.
		r.fail("as: a scenario that acts as an identity runs in process only (cuesource test without --url)")
		return r
	}
	sfx := "" // what each instance id gets, to keep runs apart
	if !t.KeepIDs {
		sfx = "-" + suffix()
	}
	id := s.ID + sfx
	etag := ""         // the instance's, once it exists
	var now *time.Time // the scenario's clock, once an item sets it
	// stamp is the Cuesource-Time of the next command.
	stamp := func() string {
		if now == nil {
			return ""
		}
		return now.UTC().Format(time.RFC3339Nano)
	}
	times := givenTimes(s, nil)
	if len(times) > 0 {
		now = times[len(times)-1]
	}
	seeded := instances(s)
	for _, in := range seeded {
		req := seedRequest(s, in, in.id+sfx, times)
		body, _ := json.Marshal(map[string]any{"events": req.Events})
		status, resp, tag, err := t.do(ctx, "/admin/seed/"+url.PathEscape(in.aggregate)+"/"+url.PathEscape(req.ID), t.AdminToken, "", body)
		what := "given"
		if !in.own {
			what = fmt.Sprintf("given (%s %s)", in.aggregate, in.id)
		}
		if err != nil {
			r.fail("%s: %v", what, err)
			return r
		}
		if status != http.StatusCreated {
			r.fail("%s: seeding answered %d: %s", what, status, resp)
			return r
		}
		if !in.own {
			continue
		}
		answer, err := object(resp)
		if err != nil {
			r.fail("%s: %v", what, err)
			return r
		}
		r.State = answer["state"]
		etag = tag
	}
	for i, w := range s.When {
		payload := w.Payload
		if payload == nil {
			payload = json.RawMessage("{}")
		}
		path := "/" + url.PathEscape(s.Aggregate) + "/" + url.PathEscape(id) + "/" + url.PathEscape(w.Command)
		if w.At != nil {
			now = w.At
		}
		// A dated command (the scenario set the clock) is the admin's to
		// send: Cuesource-Time needs the admin token.
		token, at := t.Token, stamp()
		if at != "" {
			token = t.AdminToken
		}
		status, resp, tag, err := t.doAt(ctx, path, token, etag, at, payload)
		if err != nil {
			r.fail("when[%d] %s: %v", i, w.Command, err)
			return r
		}
		if status >= 300 {
			p, err := object(resp)
			kind, _ := p["kind"].(string)
			if err != nil || kind == "" {
				r.fail("when[%d] %s: answered %d without a problem body: %s", i, w.Command, status, resp)
				return r
			}
			name, _ := p["name"].(string)
			detail, _ := p["detail"].(string)
			r.Error = &engine.Error{Kind: engine.Kind(kind), Name: name, Message: fmt.Sprintf("%d %s", status, detail)}
			break
		}
		d, err := object(resp)
		if err != nil {
			r.fail("when[%d] %s: %v", i, w.Command, err)
			return r
		}
		r.Events = append(r.Events, events(d["events"])...)
		r.State = d["state"]
		if tag != "" {
			etag = tag
		}
	}
	r.check(s.Then)
	if readsSide(s) {
		r.readSideHTTP(ctx, t, s, sfx, seeded)
	}
	r.Pass = len(r.Failures) == 0
	return r
}

// do posts body to path, with If-Match when ifMatch is set, and returns
// the status, the body and the ETag of the answer.
func (t Target) do(ctx context.Context, path, token, ifMatch string, body []byte) (int, []byte, string, error) {
	return t.doAt(ctx, path, token, ifMatch, "", body)
}

// doAt is do with a Cuesource-Time when at is set.
func (t Target) doAt(ctx context.Context, path, token, ifMatch, at string, body []byte) (int, []byte, string, error) {
	return t.request(ctx, http.MethodPost, path, body, "Content-Type", "application/json", "Authorization", bearer(token), "If-Match", ifMatch, "Cuesource-Time", at)
}

// request sends one request with the headers (name, value pairs; an
// empty value is left out) and returns the status, up to 16 MiB of the
// body and the ETag of the answer.
func (t Target) request(ctx context.Context, method, path string, body []byte, headers ...string) (int, []byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(t.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	c := t.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, data, resp.Header.Get("ETag"), err
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// object decodes a JSON object with numbers as the engine holds them, so
// payloads and states compare like the in-process runner's.
func object(data []byte) (map[string]any, error) {
	v, err := value.Decode(data, value.Limits{MaxBytes: 16 << 20, MaxDepth: 256})
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object, got %s", data)
	}
	return m, nil
}

func events(v any) []engine.Event {
	var out []engine.Event
	list, _ := v.([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		ev := engine.Event{Payload: m["payload"]}
		ev.ID, _ = m["id"].(string)
		ev.Type, _ = m["type"].(string)
		if n, ok := m["version"].(int); ok {
			ev.Version = int64(n)
		}
		if ts, ok := m["time"].(string); ok {
			ev.Time, _ = time.Parse(time.RFC3339Nano, ts)
		}
		out = append(out, ev)
	}
	return out
}

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func actsAs(s *manifest.Scenario) bool {
	if s.As != nil {
		return true
	}
	for _, w := range s.When {
		if w.As != nil {
			return true
		}
	}
	return false
}
