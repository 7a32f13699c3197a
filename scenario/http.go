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
}

// RunHTTP plays one scenario against the target. Each run works on a fresh
// instance (the scenario's id with a random suffix), so runs never collide
// with each other or with data already there.
func RunHTTP(ctx context.Context, t Target, s *manifest.Scenario) Result {
	r := Result{Name: s.Name, Pos: s.Pos}
	id := s.ID + "-" + suffix()
	if len(s.Given) > 0 {
		var events []map[string]any
		for _, g := range s.Given {
			e := map[string]any{"event": g.Event}
			if g.Payload != nil {
				e["payload"] = g.Payload
			}
			if g.Version != nil {
				e["version"] = *g.Version
			}
			events = append(events, e)
		}
		body, _ := json.Marshal(map[string]any{"events": events})
		status, resp, err := t.do(ctx, "/admin/seed/"+url.PathEscape(s.Aggregate)+"/"+url.PathEscape(id), t.AdminToken, body)
		if err != nil {
			r.fail("given: %v", err)
			return r
		}
		if status != http.StatusCreated {
			r.fail("given: seeding answered %d: %s", status, resp)
			return r
		}
		seeded, err := object(resp)
		if err != nil {
			r.fail("given: %v", err)
			return r
		}
		r.State = seeded["state"]
	}
	for i, w := range s.When {
		payload := w.Payload
		if payload == nil {
			payload = json.RawMessage("{}")
		}
		path := "/" + url.PathEscape(s.Aggregate) + "/" + url.PathEscape(id) + "/" + url.PathEscape(w.Command)
		status, resp, err := t.do(ctx, path, t.Token, payload)
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
	}
	r.check(s.Then)
	r.Pass = len(r.Failures) == 0
	return r
}

func (t Target) do(ctx context.Context, path, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := t.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, data, err
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
