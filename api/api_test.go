package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diagram"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
	"github.com/cuesource/cuesource/value"
)

// ---------------------------------------------------------------------------
// Harness

var (
	exampleOnce sync.Once
	exampleProg *interpreter.Program
	exampleErr  error
)

// example compiles contexts/example.cue once per test binary.
func example(t *testing.T) *interpreter.Program {
	t.Helper()
	exampleOnce.Do(func() { exampleProg, exampleErr = compile("../contexts/example.cue") })
	require.NoError(t, exampleErr)
	return exampleProg
}

func compile(path string) (*interpreter.Program, error) {
	m, err := compiler.Compile(path)
	if err != nil {
		return nil, err
	}
	return interpreter.Compile(m)
}

// server is one running `cuesource serve` over a fresh SQLite database.
type server struct {
	t       *testing.T
	url     string
	store   *sqlite.Store
	backend *native.Backend
	client  *http.Client
	// active counts requests the handler is still serving; ended gets one
	// value each time a request ends.
	active atomic.Int64
	ended  chan string
}

func newServer(t *testing.T, opt api.Options) *server {
	t.Helper()
	return newServerFor(t, example(t), opt)
}

func newServerFor(t *testing.T, p *interpreter.Program, opt api.Options) *server {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "shop.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	backend := native.New(p, st, engine.Options{})
	t.Cleanup(backend.Close)
	if opt.Diagram == nil {
		opt.Diagram = diagram.SVG
	}
	svc := api.New(p, backend, opt)
	s := &server{t: t, store: st, backend: backend, ended: make(chan string, 1024)}
	h := nethttp.Handler(svc, nethttp.Options{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.active.Add(1)
		defer func() {
			s.active.Add(-1)
			select {
			case s.ended <- r.Method + " " + r.URL.Path:
			default:
			}
		}()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s.url = ts.URL
	s.client = ts.Client()
	return s
}

// reply is a response read in full.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *reply) String() string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// json decodes the body into a generic value.
func (r *reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// do sends one request; headers come as name, value pairs. A non-empty body
// gets Content-Type: application/json unless headers name another.
func (s *server) do(method, path, body string, headers ...string) *reply {
	s.t.Helper()
	return s.doBytes(method, path, []byte(body), headers...)
}

func (s *server) doBytes(method, path string, body []byte, headers ...string) *reply {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.url+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	require.Zero(s.t, len(headers)%2, "headers come in pairs")
	for i := 0; i < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return &reply{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// post runs a command and requires the given status.
func (s *server) post(path, body string, status int, headers ...string) *reply {
	s.t.Helper()
	r := s.do(http.MethodPost, path, body, headers...)
	require.Equal(s.t, status, r.Status, "POST %s %s: %s", path, body, r)
	return r
}

// eventCount is the length of the global log.
func (s *server) eventCount() int {
	s.t.Helper()
	r := s.do(http.MethodGet, "/events?limit=1000", "")
	require.Equal(s.t, http.StatusOK, r.Status, r.String())
	var page struct{ Events []store.Event }
	require.NoError(s.t, json.Unmarshal(r.Body, &page))
	return len(page.Events)
}

// assertProblem checks an RFC 9457 answer of the given status and kind and
// returns its decoded body.
func assertProblem(t *testing.T, r *reply, status int, kind string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	m := r.json(t)
	assert.Equal(t, api.ProblemType+kind, m["type"])
	assert.Equal(t, float64(status), m["status"])
	assert.Equal(t, kind, m["kind"])
	assert.Equal(t, http.StatusText(status), m["title"])
	assert.NotEmpty(t, m["detail"])
	assert.Empty(t, r.Header.Get("X-Cuesource-Error"), "the cause of a failure never reaches the client")
	return m
}

// assertJSON checks a successful JSON answer.
func assertJSON(t *testing.T, r *reply, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	return r.json(t)
}

// decision is the body of an accepted command.
type decision struct {
	Version int64 `json:"version"`
	Events  []struct {
		ID      string         `json:"id"`
		Type    string         `json:"type"`
		Version int64          `json:"version"`
		Time    time.Time      `json:"time"`
		Payload map[string]any `json:"payload"`
	} `json:"events"`
	State map[string]any `json:"state"`
}

func decodeDecision(t *testing.T, r *reply) decision {
	t.Helper()
	var d decision
	require.NoError(t, json.Unmarshal(r.Body, &d), "body: %s", r.Body)
	return d
}

const (
	openAda = `{"customer":"ada"}`
	tea     = `{"sku":"TEA-01","qty":2,"price":4.5}`
	mug     = `{"sku":"MUG-02","qty":2,"price":50}`
)

// ---------------------------------------------------------------------------
// Commands

func TestCommandCreatedThenOK(t *testing.T) {
	s := newServer(t, api.Options{})

	r := s.post("/cart/c1/Open", openAda, http.StatusCreated)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))
	assert.Equal(t, "/cart/c1", r.Header.Get("Location"))
	d := decodeDecision(t, r)
	assert.Equal(t, int64(1), d.Version)
	require.Len(t, d.Events, 1)
	assert.Equal(t, "CartOpened", d.Events[0].Type)
	assert.Equal(t, int64(1), d.Events[0].Version)
	assert.Equal(t, map[string]any{"customer": "ada"}, d.Events[0].Payload)
	assert.NotEmpty(t, d.Events[0].ID)
	assert.Equal(t, map[string]any{"status": "open", "customer": "ada", "items": map[string]any{}, "total": 0.0, "discount": 0.0}, d.State)

	r = s.post("/cart/c1/AddItem", tea, http.StatusOK)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
	assert.Empty(t, r.Header.Get("Location"), "only a created instance has a Location")
	d = decodeDecision(t, r)
	assert.Equal(t, int64(2), d.Version)
	require.Len(t, d.Events, 1)
	assert.Equal(t, "ItemAdded", d.Events[0].Type)
	assert.Equal(t, int64(2), d.Events[0].Version)
	assert.Equal(t, 9.0, d.State["total"])

	// Two events from one command: both versions, one ETag.
	s.post("/cart/c1/AddItem", `{"sku":"CHAIR-9","qty":2,"price":300}`, http.StatusOK)
	r = s.post("/cart/c1/CheckOut", "", http.StatusOK)
	assert.Equal(t, `W/"5"`, r.Header.Get("ETag"))
	d = decodeDecision(t, r)
	assert.Equal(t, int64(5), d.Version)
	require.Len(t, d.Events, 2)
	assert.Equal(t, []string{"CheckedOut", "GiftAdded"}, []string{d.Events[0].Type, d.Events[1].Type})
	assert.Equal(t, []int64{4, 5}, []int64{d.Events[0].Version, d.Events[1].Version})
	assert.Equal(t, "checkedOut", d.State["status"])

	// A media type with a +json suffix and parameters is JSON too.
	s.post("/cart/c2/Open", openAda, http.StatusCreated, "Content-Type", "application/vnd.shop+json; charset=utf-8")
}

func TestCommandSchemaViolations(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)

	r := s.post("/cart/c1/AddItem", `{"sku":"x","qty":0,"price":-1,"color":"red"}`, http.StatusBadRequest)
	m := assertProblem(t, r, http.StatusBadRequest, "schema")
	vs, ok := m["violations"].([]any)
	require.True(t, ok, "violations: %s", r.Body)
	byPointer := map[string]string{}
	for _, v := range vs {
		v := v.(map[string]any)
		byPointer[v["pointer"].(string)] = v["message"].(string)
		assert.NotEmpty(t, v["message"], "violation %v", v)
	}
	pointers := slices.Sorted(maps.Keys(byPointer))
	// The unknown field is a violation of the object (pointer ""), as JSON
	// Schema's additionalProperties reports it; its message names the field.
	assert.Equal(t, []string{"", "/price", "/qty", "/sku"}, pointers, "every violation is listed: %s", r.Body)
	assert.Contains(t, byPointer[""], "'color'")
	assert.Contains(t, byPointer["/sku"], "must match")

	// A missing field is a violation of the object.
	r = s.post("/cart/c1/AddItem", `{"sku":"TEA-01"}`, http.StatusBadRequest)
	m = assertProblem(t, r, http.StatusBadRequest, "schema")
	assert.NotEmpty(t, m["violations"])

	// Nothing was appended.
	assert.Equal(t, 1, s.eventCount())
}

func TestCommandBodyErrors(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)

	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name    string
		body    string
		headers []string
		status  int
		kind    string
	}{
		{"invalid JSON", `{"sku":`, nil, http.StatusBadRequest, "invalid_json"},
		{"trailing data", `{"sku":"TEA-01","qty":1,"price":1} {}`, nil, http.StatusBadRequest, "invalid_json"},
		{"65 levels", deep(65), nil, http.StatusBadRequest, "too_deep"},
		{"65 levels in a field", `{"sku":` + deep(64) + `}`, nil, http.StatusBadRequest, "too_deep"},
		{"64 levels is not too deep", deep(64), nil, http.StatusBadRequest, "schema"},
		{"wrong content type", tea, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"form content type", tea, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"unparsable content type", tea, []string{"Content-Type", "application/json; ==="}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"integer beyond 2^53", `{"sku":"TEA-01","qty":9007199254740993,"price":1}`, nil, http.StatusBadRequest, "schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post("/cart/c1/AddItem", tc.body, tc.status, tc.headers...)
			assertProblem(t, r, tc.status, tc.kind)
		})
	}
	// A body without a Content-Type is refused too (net/http would not set one).
	t.Run("no content type", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/cart/c1/AddItem", strings.NewReader(tea))
		require.NoError(t, err)
		resp, err := s.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		assertProblem(t, &reply{resp.StatusCode, resp.Header, data}, http.StatusUnsupportedMediaType, "unsupported_media_type")
	})
	assert.Equal(t, 1, s.eventCount(), "no refused command appended anything")
}

func TestCommandBodyLimit(t *testing.T) {
	t.Run("configured", func(t *testing.T) {
		s := newServer(t, api.Options{Limits: value.Limits{MaxBytes: 64}})
		atLimit := `{"customer":"` + strings.Repeat("a", 64-len(`{"customer":""}`)) + `"}`
		require.Len(t, atLimit, 64)
		s.post("/cart/c1/Open", atLimit, http.StatusCreated)
		over := `{"customer":"` + strings.Repeat("a", 65-len(`{"customer":""}`)) + `"}`
		r := s.post("/cart/c2/Open", over, http.StatusRequestEntityTooLarge)
		m := assertProblem(t, r, http.StatusRequestEntityTooLarge, "too_large")
		assert.Contains(t, m["detail"], "64")
		// Far over the limit: the server stops reading and still answers.
		r = s.doBytes(http.MethodPost, "/cart/c3/Open", bytes.Repeat([]byte(" "), 1<<20))
		assertProblem(t, r, http.StatusRequestEntityTooLarge, "too_large")
		assert.Equal(t, 1, s.eventCount())
	})
	t.Run("default 1 MiB", func(t *testing.T) {
		s := newServer(t, api.Options{})
		pad := func(n int) []byte {
			b := []byte(`{"customer":"` + strings.Repeat("a", n-len(`{"customer":""}`)) + `"}`)
			require.Len(t, b, n)
			return b
		}
		r := s.doBytes(http.MethodPost, "/cart/c1/Open", pad(value.DefaultMaxBytes))
		require.Equal(t, http.StatusCreated, r.Status, "a body of exactly 1 MiB is accepted: %.300s", r.Body)
		r = s.doBytes(http.MethodPost, "/cart/c2/Open", pad(value.DefaultMaxBytes+1))
		m := assertProblem(t, r, http.StatusRequestEntityTooLarge, "too_large")
		assert.Contains(t, m["detail"], strconv.Itoa(value.DefaultMaxBytes))
		assert.Equal(t, 1, s.eventCount())
	})
	// Options.Limits is the service's limit for command payloads: a larger
	// configured body (cuesource serve --max-body) must be accepted whole.
	t.Run("configured above 1 MiB", func(t *testing.T) {
		s := newServer(t, api.Options{Limits: value.Limits{MaxBytes: 2 << 20}})
		body := []byte(`{"customer":"` + strings.Repeat("a", 3<<19) + `"}`)
		r := s.doBytes(http.MethodPost, "/cart/c1/Open", body)
		assert.Equal(t, http.StatusCreated, r.Status, "a %d-byte body under a 2 MiB limit: %.300s", len(body), r.Body)
	})
	t.Run("configured depth", func(t *testing.T) {
		s := newServer(t, api.Options{Limits: value.Limits{MaxDepth: 4}})
		s.post("/cart/c1/Open", openAda, http.StatusCreated)
		r := s.do(http.MethodPost, "/cart/c1/AddItem", `{"sku":[[[["x"]]]]}`)
		assertProblem(t, r, http.StatusBadRequest, "too_deep")
	})
}

func TestCommandNotFound(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	tests := []struct {
		name, path, body, kind string
	}{
		{"unknown aggregate", "/nope/c1/Open", openAda, "unknown_aggregate"},
		{"unknown command", "/cart/c1/Fly", "", "unknown_command"},
		{"instance missing", "/cart/c9/AddItem", tea, "instance_missing"},
		{"instance missing, order", "/order/o9/Pay", `{"amount":10}`, "instance_missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodPost, tc.path, tc.body)
			assertProblem(t, r, http.StatusNotFound, tc.kind)
		})
	}
	assert.Equal(t, 1, s.eventCount())
}

func TestCommandInstanceExists(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	r := s.post("/cart/c1/Open", `{"customer":"bob"}`, http.StatusConflict)
	assertProblem(t, r, http.StatusConflict, "instance_exists")
	got := assertJSON(t, s.do(http.MethodGet, "/cart/c1", ""), http.StatusOK)
	assert.Equal(t, "ada", got["state"].(map[string]any)["customer"])
}

func TestCommandRejections(t *testing.T) {
	tests := []struct {
		name  string
		setup [][2]string // path, body
		path  string
		body  string
		kind  string
		rule  string
	}{
		{
			name:  "cart is not open",
			setup: [][2]string{{"/cart/c/Open", openAda}, {"/cart/c/Abandon", ""}},
			path:  "/cart/c/AddItem", body: tea, kind: "guard", rule: "cart is not open",
		},
		{
			name:  "price changed for sku",
			setup: [][2]string{{"/cart/c/Open", openAda}, {"/cart/c/AddItem", tea}},
			path:  "/cart/c/AddItem", body: `{"sku":"TEA-01","qty":1,"price":5}`, kind: "guard", rule: "price changed for sku",
		},
		{
			name:  "item not in cart",
			setup: [][2]string{{"/cart/c/Open", openAda}},
			path:  "/cart/c/RemoveItem", body: `{"sku":"NOPE-1"}`, kind: "guard", rule: "item not in cart",
		},
		{
			name:  "cart is empty",
			setup: [][2]string{{"/cart/c/Open", openAda}},
			path:  "/cart/c/CheckOut", kind: "guard", rule: "cart is empty",
		},
		{
			name:  "a coupon is already used",
			setup: [][2]string{{"/cart/c/Open", openAda}, {"/cart/c/AddItem", mug}, {"/cart/c/ApplyCoupon", `{"code":"WELCOME10"}`}},
			path:  "/cart/c/ApplyCoupon", body: `{"code":"VIP25"}`, kind: "guard", rule: "a coupon is already used",
		},
		{
			name:  "payment exceeds the amount due",
			setup: [][2]string{{"/order/o/Place", `{"cart":"c-1","total":100}`}},
			path:  "/order/o/Pay", body: `{"amount":120}`, kind: "guard", rule: "payment exceeds the amount due",
		},
		{
			name: "discount never exceeds the total",
			setup: [][2]string{
				{"/cart/c/Open", openAda}, {"/cart/c/AddItem", mug},
				{"/cart/c/AddItem", `{"sku":"TEA-01","qty":1,"price":5}`}, {"/cart/c/ApplyCoupon", `{"code":"VIP25"}`},
			},
			path: "/cart/c/RemoveItem", body: `{"sku":"MUG-02"}`, kind: "invariant", rule: "discount never exceeds the total",
		},
		{
			name:  "at most 20 different items",
			setup: twentyItems(),
			path:  "/cart/c/AddItem", body: `{"sku":"SKU-21","qty":1,"price":1}`, kind: "invariant", rule: "at most 20 different items",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, api.Options{})
			for _, c := range tc.setup {
				r := s.do(http.MethodPost, c[0], c[1])
				require.Less(t, r.Status, 300, "setup %s: %s", c[0], r)
			}
			before := s.eventCount()
			r := s.do(http.MethodPost, tc.path, tc.body)
			m := assertProblem(t, r, http.StatusUnprocessableEntity, tc.kind)
			assert.Equal(t, tc.rule, m["name"])
			assert.Contains(t, m["detail"], tc.rule)
			assert.Equal(t, before, s.eventCount(), "a rejected command appends nothing")
		})
	}
}

func twentyItems() [][2]string {
	out := [][2]string{{"/cart/c/Open", openAda}}
	for i := 1; i <= 20; i++ {
		out = append(out, [2]string{"/cart/c/AddItem", fmt.Sprintf(`{"sku":"SKU-%02d","qty":1,"price":1}`, i)})
	}
	return out
}

func TestIfMatch(t *testing.T) {
	s := newServer(t, api.Options{})

	// If-Match: * needs an existing instance.
	r := s.post("/cart/c1/Open", openAda, http.StatusPreconditionFailed, "If-Match", "*")
	m := assertProblem(t, r, http.StatusPreconditionFailed, "version_conflict")
	assert.Equal(t, 0.0, m["version"])
	assert.Equal(t, `W/"0"`, m["etag"])
	r = s.post("/cart/c1/AddItem", tea, http.StatusPreconditionFailed, "If-Match", "*")
	assertProblem(t, r, http.StatusPreconditionFailed, "version_conflict")
	assert.Equal(t, 0, s.eventCount())

	// W/"0" is "the instance does not exist yet".
	r = s.post("/cart/c1/Open", openAda, http.StatusCreated, "If-Match", `W/"0"`)
	assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))

	r = s.post("/cart/c1/AddItem", tea, http.StatusOK, "If-Match", `W/"1"`)
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
	r = s.post("/cart/c1/AddItem", tea, http.StatusOK, "If-Match", "*")
	assert.Equal(t, `W/"3"`, r.Header.Get("ETag"))
	// A strong tag of the same version matches too.
	r = s.post("/cart/c1/AddItem", tea, http.StatusOK, "If-Match", `"3"`)
	assert.Equal(t, `W/"4"`, r.Header.Get("ETag"))

	// Stale: 412 with the current version and its ETag.
	for _, stale := range []string{`W/"1"`, `W/"3"`, `W/"5"`, `W/"0"`} {
		r = s.post("/cart/c1/AddItem", tea, http.StatusPreconditionFailed, "If-Match", stale)
		m = assertProblem(t, r, http.StatusPreconditionFailed, "version_conflict")
		assert.Equal(t, 4.0, m["version"], stale)
		assert.Equal(t, `W/"4"`, m["etag"], stale)
	}
	assert.Equal(t, 4, s.eventCount())

	// Malformed.
	for _, bad := range []string{`1`, `W/1`, `"abc"`, `"-1"`, `W/""`, `W/"1`, `**`} {
		t.Run("malformed "+bad, func(t *testing.T) {
			r := s.post("/cart/c1/AddItem", tea, http.StatusBadRequest, "If-Match", bad)
			m := assertProblem(t, r, http.StatusBadRequest, "invalid_header")
			assert.Contains(t, m["detail"], "If-Match")
			// The instance's real ETag, not an example that reads like it.
			assert.Contains(t, m["detail"], `the instance's current ETag is W/"4"`)
			assert.NotContains(t, m["detail"], `W/"3"`)
			assert.Equal(t, `W/"4"`, m["etag"])
		})
	}
	r = s.post("/cart/nobody/AddItem", tea, http.StatusBadRequest, "If-Match", "W/1")
	assert.Contains(t, assertProblem(t, r, http.StatusBadRequest, "invalid_header")["detail"], "cart nobody does not exist yet")
	assert.Equal(t, 4, s.eventCount())
}

const lockContext = `package locks

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "locks"
	aggregates: door: {
		#state: {locked: bool}
		initial: {locked: false}
		commands: {
			Install: {
				instance: "new"
				emit: [{event: "Installed"}]
			}
			Lock: {
				ifMatch: "required"
				require: "door is unlocked": "state.locked == false"
				emit: [{event: "Locked"}]
			}
		}
		events: {
			Installed: {}
			Locked: apply: locked: "true"
		}
	}
}
`

func TestIfMatchRequired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks.cue")
	require.NoError(t, os.WriteFile(path, []byte(lockContext), 0o644))
	p, err := compile(path)
	require.NoError(t, err)
	s := newServerFor(t, p, api.Options{})

	s.post("/door/d1/Install", "", http.StatusCreated)
	r := s.post("/door/d1/Lock", "", http.StatusPreconditionRequired)
	m := assertProblem(t, r, http.StatusPreconditionRequired, "precondition_required")
	assert.Contains(t, m["detail"], "Lock")
	// An Idempotency-Key does not stand in for If-Match.
	r = s.post("/door/d1/Lock", "", http.StatusPreconditionRequired, "Idempotency-Key", "k1")
	assertProblem(t, r, http.StatusPreconditionRequired, "precondition_required")
	assert.Equal(t, 1, s.eventCount())

	r = s.post("/door/d1/Lock", "", http.StatusPreconditionFailed, "If-Match", `W/"0"`)
	assertProblem(t, r, http.StatusPreconditionFailed, "version_conflict")
	r = s.post("/door/d1/Lock", "", http.StatusOK, "If-Match", `W/"1"`)
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
	// The optional command needs none.
	s.post("/door/d2/Install", "", http.StatusCreated)
}

// A guard that declares a status answers with it (kind and name as ever);
// the OpenAPI document lists it among the command's answers.
func TestGuardStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.cue")
	require.NoError(t, os.WriteFile(path, []byte(`package v

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "vault"
	aggregates: box: {
		#state: {owner: string, closed: bool}
		initial: {owner: "", closed: false}
		commands: {
			Open: {
				#payload: owner: string
				instance: "new"
				emit: [{event: "Opened", payload: owner: "cmd.owner"}]
			}
			Close: {
				#payload: by: string
				require: {
					"not yours": {check: "cmd.by == state.owner", status: 404}
					"closed already": {check: "!state.closed", status: 409}
					"open": "state.owner != ''"
				}
				emit: [{event: "Closed"}]
			}
		}
		events: {
			Opened: {#payload: owner: string, apply: owner: "event.owner"}
			Closed: apply: closed: "true"
		}
	}
}
`), 0o644))
	p, err := compile(path)
	require.NoError(t, err)
	s := newServerFor(t, p, api.Options{})
	s.post("/box/b1/Open", `{"owner":"ada"}`, http.StatusCreated)
	m := assertProblem(t, s.post("/box/b1/Close", `{"by":"bob"}`, http.StatusNotFound), http.StatusNotFound, "guard")
	assert.Equal(t, "not yours", m["name"])
	s.post("/box/b1/Close", `{"by":"ada"}`, http.StatusOK)
	m = assertProblem(t, s.post("/box/b1/Close", `{"by":"ada"}`, http.StatusConflict), http.StatusConflict, "guard")
	assert.Equal(t, "closed already", m["name"])

	var doc map[string]any
	require.NoError(t, json.Unmarshal(api.OpenAPI(p), &doc))
	responses := doc["paths"].(map[string]any)["/box/{id}/Close"].(map[string]any)["post"].(map[string]any)["responses"].(map[string]any)
	assert.Contains(t, responses["404"].(map[string]any)["description"], `guard "not yours"`)
	assert.Contains(t, responses["404"].(map[string]any)["description"], "instance_missing")
	assert.Contains(t, responses["409"].(map[string]any)["description"], `guard "closed already"`)
}

// Cuesource-Time dates a command (how scenarios that set the clock play
// over HTTP): the admin's only, an RFC 3339 time, kept to the millisecond.
func TestCommandTimeHeader(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm"})
	const at = "2026-03-01T10:00:00.123456Z"
	r := s.post("/cart/c1/Open", openAda, http.StatusForbidden, "Cuesource-Time", at)
	assertProblem(t, r, http.StatusForbidden, "forbidden")
	r = s.post("/cart/c1/Open", openAda, http.StatusBadRequest, "Authorization", "Bearer adm", "Cuesource-Time", "yesterday")
	assertProblem(t, r, http.StatusBadRequest, "invalid_header")
	assert.Equal(t, 0, s.eventCount())
	r = s.post("/cart/c1/Open", openAda, http.StatusCreated, "Authorization", "Bearer adm", "Cuesource-Time", at)
	var d struct{ Events []struct{ Time string } }
	require.NoError(t, json.Unmarshal(r.Body, &d))
	require.Len(t, d.Events, 1)
	assert.Equal(t, "2026-03-01T10:00:00.123Z", d.Events[0].Time)
}

func TestIdempotencyKey(t *testing.T) {
	s := newServer(t, api.Options{})

	first := s.post("/cart/c1/Open", openAda, http.StatusCreated, "Idempotency-Key", "k-open")
	assert.Empty(t, first.Header.Get("Idempotent-Replayed"))
	again := s.post("/cart/c1/Open", openAda, http.StatusCreated, "Idempotency-Key", "k-open")
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, string(first.Body), string(again.Body), "the replay is byte-identical (same event ids)")
	for _, h := range []string{"Content-Type", "ETag", "Location"} {
		assert.Equal(t, first.Header.Get(h), again.Header.Get(h), h)
	}
	assert.Equal(t, 1, s.eventCount(), "a replay appends nothing")

	// A later command: 200 replayed as 200, even after the instance moved on.
	add := s.post("/cart/c1/AddItem", tea, http.StatusOK, "Idempotency-Key", "k-add")
	s.post("/cart/c1/AddItem", mug, http.StatusOK)
	replay := s.post("/cart/c1/AddItem", tea, http.StatusOK, "Idempotency-Key", "k-add")
	assert.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, string(add.Body), string(replay.Body))
	assert.Equal(t, `W/"2"`, replay.Header.Get("ETag"), "the first answer, not the current version")
	assert.Equal(t, 3, s.eventCount())

	// Same key, different body: refused, nothing appended.
	r := s.post("/cart/c1/AddItem", `{"sku":"TEA-01","qty":3,"price":4.5}`, http.StatusConflict, "Idempotency-Key", "k-add")
	assertProblem(t, r, http.StatusConflict, "idempotency_key_reused")
	// Same key and body with another If-Match is another request.
	r = s.post("/cart/c1/AddItem", tea, http.StatusConflict, "Idempotency-Key", "k-add", "If-Match", `W/"3"`)
	assertProblem(t, r, http.StatusConflict, "idempotency_key_reused")
	assert.Equal(t, 3, s.eventCount())

	// The same key on another instance is independent.
	other := s.post("/cart/c2/Open", openAda, http.StatusCreated, "Idempotency-Key", "k-open")
	assert.Empty(t, other.Header.Get("Idempotent-Replayed"))
	assert.NotEqual(t, string(first.Body), string(other.Body), "new event ids")
	assert.Equal(t, "/cart/c2", other.Header.Get("Location"))
	assert.Equal(t, 4, s.eventCount())

	// A rejected command is not recorded: the retry decides again.
	r = s.post("/cart/c2/RemoveItem", `{"sku":"TEA-01"}`, http.StatusUnprocessableEntity, "Idempotency-Key", "k-rm")
	assertProblem(t, r, http.StatusUnprocessableEntity, "guard")
	s.post("/cart/c2/AddItem", tea, http.StatusOK)
	s.post("/cart/c2/RemoveItem", `{"sku":"TEA-01"}`, http.StatusOK, "Idempotency-Key", "k-rm")

	// An over-long key.
	r = s.post("/cart/c2/AddItem", tea, http.StatusBadRequest, "Idempotency-Key", strings.Repeat("k", 256))
	assertProblem(t, r, http.StatusBadRequest, "invalid_header")
}

// TestIdempotencyKeyCoversTheCommand: a key reused for another command on
// the same instance, with the same body and If-Match, is refused; it used
// to replay the first command's answer while the second never ran. Two
// spellings of the same If-Match are the same request.
func TestIdempotencyKeyCoversTheCommand(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)
	first := s.post("/cart/c1/CheckOut", "", http.StatusOK, "Idempotency-Key", "k-empty", "If-Match", `W/"2"`)
	r := s.post("/cart/c1/Abandon", "", http.StatusConflict, "Idempotency-Key", "k-empty", "If-Match", `W/"2"`)
	assertProblem(t, r, http.StatusConflict, "idempotency_key_reused")
	assert.Empty(t, r.Header.Get("Idempotent-Replayed"))
	again := s.post("/cart/c1/CheckOut", "", http.StatusOK, "Idempotency-Key", "k-empty", "If-Match", `"2"`)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, string(first.Body), string(again.Body))
	// Another If-Match list is another request.
	r = s.post("/cart/c1/CheckOut", "", http.StatusConflict, "Idempotency-Key", "k-empty", "If-Match", `W/"2", W/"9"`)
	assertProblem(t, r, http.StatusConflict, "idempotency_key_reused")
	assert.Equal(t, 3, s.eventCount())
}

// TestIfMatchList: an If-Match list (RFC 9110) is a set of acceptable
// versions, checked under the instance's writer; several If-Match lines
// are one list. "*" stands alone.
func TestIfMatchList(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)

	r := s.post("/cart/c1/AddItem", tea, http.StatusOK, "If-Match", `W/"1", W/"2"`)
	assert.Equal(t, `W/"3"`, r.Header.Get("ETag"))
	r = s.post("/cart/c1/AddItem", tea, http.StatusOK, "If-Match", `"7",W/"3" ,, "1"`)
	assert.Equal(t, `W/"4"`, r.Header.Get("ETag"))
	r = s.post("/cart/c1/AddItem", tea, http.StatusPreconditionFailed, "If-Match", `W/"1", W/"2", W/"5"`)
	m := assertProblem(t, r, http.StatusPreconditionFailed, "version_conflict")
	assert.Equal(t, 4.0, m["version"])
	// The payload is checked first, as with one tag.
	r = s.post("/cart/c1/AddItem", `{"sku":"TEA-01"}`, http.StatusBadRequest, "If-Match", `W/"1", W/"2"`)
	assertProblem(t, r, http.StatusBadRequest, "schema")

	// Two If-Match lines.
	req, err := http.NewRequest(http.MethodPost, s.url+"/cart/c1/AddItem", strings.NewReader(tea))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("If-Match", `W/"1"`)
	req.Header.Add("If-Match", `W/"4"`)
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, `W/"5"`, resp.Header.Get("ETag"))

	for _, bad := range []string{`*, W/"5"`, `W/"5", *`, `W/"5", abc`, `,`, `W/"5" W/"6"`} {
		r := s.post("/cart/c1/AddItem", tea, http.StatusBadRequest, "If-Match", bad)
		assertProblem(t, r, http.StatusBadRequest, "invalid_header")
	}
	assert.Equal(t, 5, s.eventCount())
}

// TestInstanceIDs: an id that is not valid UTF-8 (it used to be stored as
// U+FFFD, addressing another instance) or one with control characters is
// refused wherever an id enters, with 400 invalid_id.
func TestInstanceIDs(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "T"})
	seed := `{"events":[{"event":"CartOpened","payload":{"customer":"ada"}}]}`
	for _, id := range []string{"%FF", "a%C3", "%ED%A0%80", "a%EF%BF%BD", "..%00", "a%0Ab", "a%7Fb", "a%C2%85b", strings.Repeat("a", 257)} {
		t.Run(id, func(t *testing.T) {
			for _, rq := range []struct{ method, path, body string }{
				{http.MethodPost, "/cart/" + id + "/Open", openAda},
				{http.MethodGet, "/cart/" + id, ""},
				{http.MethodGet, "/cart/" + id + "/events", ""},
				{http.MethodGet, "/cart/" + id + "/history", ""},
				{http.MethodPost, "/admin/seed/cart/" + id, seed},
				{http.MethodPost, "/admin/rehydrate/cart/" + id, ""},
			} {
				r := s.do(rq.method, rq.path, rq.body, "Authorization", "Bearer T")
				assertProblem(t, r, http.StatusBadRequest, "invalid_id")
			}
		})
	}
	assert.Equal(t, 0, s.eventCount())
	// Ids that are fine: Unicode, escaped slashes, dots inside.
	for _, id := range []string{"caf%C3%A9", "a%2Fb", "...", ".a", "a.b"} {
		s.post("/cart/"+id+"/Open", openAda, http.StatusCreated)
	}
}

// TestUnknownMethodsAndControlCharacters: what net/http refuses before the
// API sees it, and the Workers runtime does not, the API refuses itself,
// as the Workers runtime answers an unknown method: so both runtimes
// answer alike.
func TestUnknownMethodsAndControlCharacters(t *testing.T) {
	svc := api.New(example(t), nil, api.Options{})
	r := svc.Serve(t.Context(), &api.Request{Method: "FOO", Path: "/cart/c1", Header: api.Header{}})
	assert.Equal(t, http.StatusNotImplemented, r.Status, string(r.Body))
	assert.Contains(t, string(r.Body), "not_implemented")
	r = svc.Serve(t.Context(), &api.Request{Method: "GET", Path: "/healthz", Header: api.Header{"X-A": {"a\x01b"}}})
	assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	assert.Contains(t, string(r.Body), "invalid_header")
	r = svc.Serve(t.Context(), &api.Request{Method: "GET", Path: "/healthz", Header: api.Header{"X-A": {"a\tb"}}})
	assert.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

// TestDecideChecksTheID: a command that does not come over HTTP (an
// effect's send, whose id is an expression's value) meets the id rule too.
func TestDecideChecksTheID(t *testing.T) {
	for _, id := range []string{"..", "a\x00", "a\xff", "a\uFFFD", ""} {
		d := cuesource.Decide(example(t), store.Instance{Aggregate: "cart", ID: id}, nil, &cuesource.CommandRequest{
			Aggregate: "cart", ID: id, Command: "Open", Payload: []byte(openAda), ExpectedVersion: engine.AnyVersion,
		}, engine.Options{})
		assert.Nil(t, d.Commit, "%q", id)
		resp := api.Answer(d.Answer, "cart", id)
		assert.Equal(t, http.StatusBadRequest, resp.Status, "%q: %s", id, resp.Body)
		assert.Contains(t, string(resp.Body), "invalid_id")
	}
}

// TestDotSegments: dot segments, escaped or not, are removed as the URL
// standard removes them (and as the Workers runtime does before the
// Worker sees the request): `/cart/%2e%2e/Open` used to create the
// instance "..".
func TestDotSegments(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	for _, tc := range []struct {
		method, path string
		status       int
		kind         string
	}{
		{http.MethodPost, "/cart/%2e%2e/Open", http.StatusNotFound, "not_found"}, // /Open
		{http.MethodPost, "/cart/%2E%2e/Open", http.StatusNotFound, "not_found"}, // /Open
		{http.MethodPost, "/cart/.%2E/Open", http.StatusNotFound, "not_found"},   // /Open
		{http.MethodPost, "/cart/%2E/Open", http.StatusCreated, ""},              // /cart/Open: a new cart
		{http.MethodGet, "/cart/c1/..", http.StatusNotFound, "not_found"},        // /cart/
		{http.MethodGet, "/cart/.", http.StatusNotFound, "not_found"},            // /cart/
		{http.MethodGet, "/../../cart/c1", http.StatusOK, ""},                    // /cart/c1
		{http.MethodGet, "/cart/x/%2e%2e/c1", http.StatusOK, ""},                 // /cart/c1
		{http.MethodGet, `/cart\c1`, http.StatusOK, ""},                          // /cart/c1
	} {
		body := ""
		if tc.method == http.MethodPost {
			body = openAda
		}
		req, err := http.NewRequest(tc.method, s.url+"/", strings.NewReader(body))
		require.NoError(t, err)
		req.URL.Opaque = tc.path // sent as it is
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		require.NoError(t, err)
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := &reply{Status: resp.StatusCode, Header: resp.Header, Body: data}
		if tc.kind != "" {
			assertProblem(t, r, tc.status, tc.kind)
		} else {
			assert.Equal(t, tc.status, r.Status, "%s %s: %s", tc.method, tc.path, r)
		}
	}
	assert.Equal(t, 2, s.eventCount()) // c1, and the cart /cart/Open made
}

// TestExpectContinueOverLimit: a declared Content-Length over the body
// limit gets 413 at once; the client that waits for "100 Continue" never
// sends the body.
func TestExpectContinueOverLimit(t *testing.T) {
	s := newServer(t, api.Options{Limits: value.Limits{MaxBytes: 1 << 10}})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "POST /cart/c1/Open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", 1<<20)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assertProblem(t, &reply{Status: resp.StatusCode, Header: resp.Header, Body: body}, http.StatusRequestEntityTooLarge, "too_large")

	// Without Expect, a declared length over the limit is refused too.
	r := s.doBytes(http.MethodPost, "/cart/c1/Open", bytes.Repeat([]byte(" "), 2<<10))
	assertProblem(t, r, http.StatusRequestEntityTooLarge, "too_large")
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
}

func TestIdempotencyConcurrentRetries(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	const n = 8
	bodies := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, s.url+"/cart/c1/AddItem", strings.NewReader(tea))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "same")
			resp, err := s.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i], statuses[i] = string(b), resp.StatusCode
		})
	}
	wg.Wait()
	for i := range n {
		assert.Equal(t, http.StatusOK, statuses[i])
		assert.Equal(t, bodies[0], bodies[i])
	}
	assert.Equal(t, 2, s.eventCount(), "one retry wins, the others replay it")
}

// ---------------------------------------------------------------------------
// Reads

func TestGetInstance(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)

	r := s.do(http.MethodGet, "/cart/c1", "")
	m := assertJSON(t, r, http.StatusOK)
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
	assert.Equal(t, "cart", m["aggregate"])
	assert.Equal(t, "c1", m["id"])
	assert.Equal(t, 2.0, m["version"])
	assert.Equal(t, map[string]any{
		"status": "open", "customer": "ada", "discount": 0.0, "total": 9.0,
		"items": map[string]any{"TEA-01": map[string]any{"qty": 2.0, "price": 4.5}},
	}, m["state"])

	// Conditional GET.
	for _, inm := range []string{`W/"2"`, `"2"`, `W/"1", W/"2"`, "*"} {
		r = s.do(http.MethodGet, "/cart/c1", "", "If-None-Match", inm)
		assert.Equal(t, http.StatusNotModified, r.Status, inm)
		assert.Equal(t, `W/"2"`, r.Header.Get("ETag"), inm)
		assert.Empty(t, r.Body, inm)
	}
	r = s.do(http.MethodGet, "/cart/c1", "", "If-None-Match", `W/"1"`)
	assertJSON(t, r, http.StatusOK)

	// HEAD: the headers of GET, no body.
	r = s.do(http.MethodHead, "/cart/c1", "")
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Empty(t, r.Body)

	// Missing instance, unknown aggregate, bad ids.
	assertProblem(t, s.do(http.MethodGet, "/cart/nope", ""), http.StatusNotFound, "instance_missing")
	assertProblem(t, s.do(http.MethodGet, "/nope/c1", ""), http.StatusNotFound, "unknown_aggregate")
	assertProblem(t, s.do(http.MethodGet, "/cart/"+strings.Repeat("x", 257), ""), http.StatusBadRequest, "invalid_id")
	assertJSON(t, s.do(http.MethodGet, "/cart/c1/", ""), http.StatusOK)
	assertProblem(t, s.do(http.MethodGet, "/cart//c1", ""), http.StatusBadRequest, "invalid_path")

	// Escaped ids round-trip.
	r = s.post("/cart/a%20b%2Fc/Open", openAda, http.StatusCreated)
	assert.Equal(t, "/cart/a%20b%2Fc", r.Header.Get("Location"))
	m = assertJSON(t, s.do(http.MethodGet, "/cart/a%20b%2Fc", ""), http.StatusOK)
	assert.Equal(t, "a b/c", m["id"])
}

func TestInstanceEvents(t *testing.T) {
	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/cart/c2/Open", openAda, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)
	s.post("/cart/c1/AddItem", mug, http.StatusOK)

	type page struct {
		Aggregate string        `json:"aggregate"`
		ID        string        `json:"id"`
		Events    []store.Event `json:"events"`
	}
	get := func(query string) page {
		t.Helper()
		r := s.do(http.MethodGet, "/cart/c1/events"+query, "")
		assertJSON(t, r, http.StatusOK)
		var p page
		require.NoError(t, json.Unmarshal(r.Body, &p))
		assert.Equal(t, "cart", p.Aggregate)
		assert.Equal(t, "c1", p.ID)
		return p
	}
	versions := func(p page) []int64 {
		out := []int64{}
		for _, e := range p.Events {
			assert.Equal(t, "c1", e.Instance)
			out = append(out, e.Version)
		}
		return out
	}
	all := get("")
	assert.Equal(t, []int64{1, 2, 3}, versions(all))
	assert.Equal(t, []string{"CartOpened", "ItemAdded", "ItemAdded"}, []string{all.Events[0].Type, all.Events[1].Type, all.Events[2].Type})
	assert.Equal(t, []int64{1, 3, 4}, []int64{all.Events[0].Position, all.Events[1].Position, all.Events[2].Position})
	assert.JSONEq(t, tea, string(all.Events[1].Payload))
	assert.Equal(t, []int64{2, 3}, versions(get("?after=1")))
	assert.Equal(t, []int64{3}, versions(get("?after=2")))
	assert.Equal(t, []int64{}, versions(get("?after=3")))
	assert.Equal(t, []int64{}, versions(get("?after=99")))

	// HEAD works like GET.
	assert.Equal(t, http.StatusOK, s.do(http.MethodHead, "/cart/c1/events", "").Status)

	for _, bad := range []string{"x", "-1", "1.5", "99999999999999999999", "4611686018427387905"} {
		r := s.do(http.MethodGet, "/cart/c1/events?after="+bad, "")
		m := assertProblem(t, r, http.StatusBadRequest, "invalid_parameter")
		assert.Equal(t, "after", m["parameter"], bad)
	}
	assertProblem(t, s.do(http.MethodGet, "/nope/c1/events", ""), http.StatusNotFound, "unknown_aggregate")
	// A missing instance has no events.
	r := s.do(http.MethodGet, "/cart/none/events", "")
	m := assertJSON(t, r, http.StatusOK)
	assert.Equal(t, []any{}, m["events"])
}

func TestGlobalLog(t *testing.T) {
	s := newServer(t, api.Options{})
	// 7 events over three instances.
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/order/o1/Place", `{"cart":"c1","total":100}`, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)
	s.post("/order/o1/Pay", `{"amount":40}`, http.StatusOK)
	s.post("/order/o1/Pay", `{"amount":60}`, http.StatusOK) // PaymentReceived + OrderPaid
	s.post("/cart/c2/Open", openAda, http.StatusCreated)

	type page struct {
		Events []store.Event `json:"events"`
		Next   int64         `json:"next"`
	}
	get := func(query string) page {
		t.Helper()
		r := s.do(http.MethodGet, "/events"+query, "")
		assertJSON(t, r, http.StatusOK)
		var p page
		require.NoError(t, json.Unmarshal(r.Body, &p))
		return p
	}

	all := get("")
	require.Len(t, all.Events, 7)
	assert.Equal(t, int64(7), all.Next)

	var positions []int64
	after := int64(0)
	pages := 0
	for {
		p := get(fmt.Sprintf("?after=%d&limit=2", after))
		if len(p.Events) == 0 {
			assert.Equal(t, after, p.Next, "an empty page keeps the cursor")
			break
		}
		pages++
		assert.LessOrEqual(t, len(p.Events), 2)
		for _, e := range p.Events {
			positions = append(positions, e.Position)
		}
		assert.Equal(t, p.Events[len(p.Events)-1].Position, p.Next)
		after = p.Next
	}
	assert.Equal(t, 4, pages)
	assert.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7}, positions, "positions are gap-free")
	for i, e := range all.Events {
		assert.NotEmpty(t, e.ID)
		assert.NotEmpty(t, e.CommandID)
		assert.False(t, e.Time.IsZero())
		if i > 0 {
			assert.NotEqual(t, all.Events[i-1].ID, e.ID)
		}
	}
	assert.Equal(t, []string{"PaymentReceived", "OrderPaid"}, []string{all.Events[4].Type, all.Events[5].Type})
	assert.Equal(t, all.Events[4].CommandID, all.Events[5].CommandID, "one command, one command id")

	assert.Len(t, get("?limit=1").Events, 1)
	assert.Len(t, get(fmt.Sprintf("?limit=%d", api.MaxPage)).Events, 7)
	assert.Empty(t, get("?after=7").Events)
	assert.Equal(t, int64(100), get("?after=100").Next)

	for _, q := range []string{"limit=0", "limit=-1", fmt.Sprintf("limit=%d", api.MaxPage+1), "limit=ten", "after=-1", "after=x"} {
		r := s.do(http.MethodGet, "/events?"+q, "")
		m := assertProblem(t, r, http.StatusBadRequest, "invalid_parameter")
		assert.Equal(t, strings.SplitN(q, "=", 2)[0], m["parameter"], q)
	}
	assert.Equal(t, http.StatusOK, s.do(http.MethodHead, "/events", "").Status)
}

// ---------------------------------------------------------------------------
// Server-Sent Events

type sseFrame struct {
	ID, Event, Data string
	Comment         bool
}

// sseStream reads frames from an open stream on a goroutine.
type sseStream struct {
	resp   *http.Response
	frames chan sseFrame
	cancel context.CancelFunc
	done   chan error // the reader's final error
}

func (s *server) openStream(t *testing.T, query string, headers ...string) (*sseStream, *reply) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/events"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return nil, &reply{resp.StatusCode, resp.Header, data}
	}
	st := &sseStream{resp: resp, frames: make(chan sseFrame, 64), cancel: cancel, done: make(chan error, 1)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(st.frames)
		br := bufio.NewReader(resp.Body)
		var f sseFrame
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				st.done <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				st.frames <- f
				f = sseFrame{}
			case strings.HasPrefix(line, ":"):
				f.Comment = true
			case strings.HasPrefix(line, "id: "):
				f.ID = line[len("id: "):]
			case strings.HasPrefix(line, "event: "):
				f.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				f.Data = line[len("data: "):]
			default:
				st.done <- fmt.Errorf("unexpected line %q", line)
				return
			}
		}
	}()
	return st, nil
}

// next returns the next event frame (skipping keep-alives), failing after d.
func (st *sseStream) next(t *testing.T, d time.Duration) sseFrame {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-st.frames:
			require.True(t, ok, "the stream ended early")
			if f.Comment {
				continue
			}
			return f
		case <-timer.C:
			require.FailNow(t, "no event within "+d.String())
		}
	}
}

func checkFrame(t *testing.T, f sseFrame, position int64, event string) store.Event {
	t.Helper()
	assert.Equal(t, strconv.FormatInt(position, 10), f.ID, "id: is the log position")
	assert.Equal(t, event, f.Event)
	var e store.Event
	require.NoError(t, json.Unmarshal([]byte(f.Data), &e))
	assert.Equal(t, position, e.Position)
	return e
}

func TestStream(t *testing.T) {
	old := api.KeepAlive
	api.KeepAlive = 100 * time.Millisecond
	t.Cleanup(func() { api.KeepAlive = old })

	s := newServer(t, api.Options{})
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)
	s.post("/cart/c2/Open", openAda, http.StatusCreated)

	t.Run("backlog then live", func(t *testing.T) {
		st, bad := s.openStream(t, "")
		require.Nil(t, bad)
		assert.Equal(t, "text/event-stream", st.resp.Header.Get("Content-Type"))
		assert.Equal(t, "no-store", st.resp.Header.Get("Cache-Control"))
		e := checkFrame(t, st.next(t, 5*time.Second), 1, "cart.CartOpened")
		assert.Equal(t, "c1", e.Instance)
		assert.JSONEq(t, openAda, string(e.Payload))
		checkFrame(t, st.next(t, 5*time.Second), 2, "cart.ItemAdded")
		e = checkFrame(t, st.next(t, 5*time.Second), 3, "cart.CartOpened")
		assert.Equal(t, "c2", e.Instance)

		// A quiet stream says it is alive.
		select {
		case f := <-st.frames:
			assert.True(t, f.Comment, "only keep-alives on a quiet log, got %+v", f)
		case <-time.After(5 * time.Second):
			t.Fatal("no keep-alive")
		}

		r := s.post("/order/o1/Place", `{"cart":"c1","total":10}`, http.StatusCreated)
		d := decodeDecision(t, r)
		e = checkFrame(t, st.next(t, 5*time.Second), 4, "order.OrderPlaced")
		assert.Equal(t, d.Events[0].ID, e.ID)

		// The client goes away: the server's stream ends.
		for len(s.ended) > 0 {
			<-s.ended
		}
		st.cancel()
		select {
		case <-st.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the client's read did not end")
		}
		deadline := time.After(5 * time.Second)
		for {
			select {
			case what := <-s.ended:
				if what == "GET /events" {
					return
				}
			case <-deadline:
				t.Fatalf("the stream handler still runs after the client left (%d active)", s.active.Load())
			}
		}
	})

	t.Run("Last-Event-ID resumes", func(t *testing.T) {
		st, bad := s.openStream(t, "", "Last-Event-ID", "2")
		require.Nil(t, bad)
		checkFrame(t, st.next(t, 5*time.Second), 3, "cart.CartOpened")
		checkFrame(t, st.next(t, 5*time.Second), 4, "order.OrderPlaced")
		st.cancel()
	})

	t.Run("Last-Event-ID wins over after", func(t *testing.T) {
		st, bad := s.openStream(t, "?after=0", "Last-Event-ID", "3")
		require.Nil(t, bad)
		checkFrame(t, st.next(t, 5*time.Second), 4, "order.OrderPlaced")
		st.cancel()
	})

	t.Run("after waits for new events", func(t *testing.T) {
		st, bad := s.openStream(t, "?after=4")
		require.Nil(t, bad)
		s.post("/order/o1/Pay", `{"amount":10}`, http.StatusOK) // two events
		checkFrame(t, st.next(t, 5*time.Second), 5, "order.PaymentReceived")
		checkFrame(t, st.next(t, 5*time.Second), 6, "order.OrderPaid")
		st.cancel()
	})

	t.Run("refusals", func(t *testing.T) {
		_, bad := s.openStream(t, "", "Last-Event-ID", "x")
		require.NotNil(t, bad)
		assertProblem(t, bad, http.StatusBadRequest, "invalid_header")
		_, bad = s.openStream(t, "", "Last-Event-ID", "-3")
		require.NotNil(t, bad)
		assertProblem(t, bad, http.StatusBadRequest, "invalid_header")
		_, bad = s.openStream(t, "?after=x")
		require.NotNil(t, bad)
		assertProblem(t, bad, http.StatusBadRequest, "invalid_parameter")
	})
}

// ---------------------------------------------------------------------------
// Auth and admin

func TestAuth(t *testing.T) {
	s := newServer(t, api.Options{Token: "user-token", AdminToken: "admin-token"})

	tests := []struct {
		name, method, path, auth string
		status                   int
	}{
		{"no token", http.MethodGet, "/openapi.json", "", http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "/openapi.json", "Bearer nope", http.StatusUnauthorized},
		{"not bearer", http.MethodGet, "/openapi.json", "Basic dXNlci10b2tlbg==", http.StatusUnauthorized},
		{"token without scheme", http.MethodGet, "/openapi.json", "user-token", http.StatusUnauthorized},
		{"user token", http.MethodGet, "/openapi.json", "Bearer user-token", http.StatusOK},
		{"the scheme in lower case", http.MethodGet, "/openapi.json", "bearer user-token", http.StatusOK},
		{"the scheme in upper case, two spaces", http.MethodGet, "/openapi.json", "BEARER  user-token", http.StatusOK},
		{"a scheme that only starts like Bearer", http.MethodGet, "/openapi.json", "Bearerx user-token", http.StatusUnauthorized},
		{"admin token on a user route", http.MethodGet, "/openapi.json", "Bearer admin-token", http.StatusOK},
		{"command without token", http.MethodPost, "/cart/c1/Open", "", http.StatusUnauthorized},
		{"log without token", http.MethodGet, "/events", "", http.StatusUnauthorized},
		{"instance without token", http.MethodGet, "/cart/c1", "", http.StatusUnauthorized},
		{"healthz needs none", http.MethodGet, "/healthz", "", http.StatusOK},
		{"admin without token", http.MethodPost, "/admin/rehydrate/cart/c1", "", http.StatusUnauthorized},
		{"admin with the user token", http.MethodPost, "/admin/rehydrate/cart/c1", "Bearer user-token", http.StatusUnauthorized},
		{"admin with a wrong token", http.MethodPost, "/admin/rehydrate/cart/c1", "Bearer nope", http.StatusUnauthorized},
		{"admin with the admin token", http.MethodPost, "/admin/rehydrate/cart/c1", "Bearer admin-token", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := ""
			if tc.method == http.MethodPost && !strings.HasPrefix(tc.path, "/admin") {
				body = openAda
			}
			r := s.do(tc.method, tc.path, body, "Authorization", tc.auth)
			require.Equal(t, tc.status, r.Status, r.String())
			if tc.status == http.StatusUnauthorized {
				assertProblem(t, r, http.StatusUnauthorized, "unauthorized")
				assert.Equal(t, `Bearer realm="cuesource"`, r.Header.Get("WWW-Authenticate"))
			} else {
				assert.Empty(t, r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	assert.Equal(t, 0, countWith(s, "Bearer user-token"), "no refused command appended anything")

	s.post("/cart/c1/Open", openAda, http.StatusCreated, "Authorization", "Bearer user-token")
	assert.Equal(t, 1, countWith(s, "Bearer user-token"))

	t.Run("stream", func(t *testing.T) {
		_, bad := s.openStream(t, "")
		require.NotNil(t, bad)
		assertProblem(t, bad, http.StatusUnauthorized, "unauthorized")
		assert.Equal(t, `Bearer realm="cuesource"`, bad.Header.Get("WWW-Authenticate"))
		_, bad = s.openStream(t, "", "Authorization", "Bearer nope")
		require.NotNil(t, bad)
		assertProblem(t, bad, http.StatusUnauthorized, "unauthorized")
		st, bad := s.openStream(t, "", "Authorization", "Bearer user-token")
		require.Nil(t, bad)
		checkFrame(t, st.next(t, 5*time.Second), 1, "cart.CartOpened")
		st.cancel()
	})
}

func countWith(s *server, auth string) int {
	s.t.Helper()
	r := s.do(http.MethodGet, "/events", "", "Authorization", auth)
	require.Equal(s.t, http.StatusOK, r.Status, r.String())
	var page struct{ Events []store.Event }
	require.NoError(s.t, json.Unmarshal(r.Body, &page))
	return len(page.Events)
}

func TestAdminOff(t *testing.T) {
	s := newServer(t, api.Options{Token: "user-token"})
	for _, auth := range []string{"", "Bearer user-token", "Bearer anything"} {
		for _, path := range []string{"/admin/rehydrate/cart/c1", "/admin/seed/cart/c1", "/admin"} {
			r := s.do(http.MethodPost, path, `{"events":[]}`, "Authorization", auth)
			assertProblem(t, r, http.StatusNotFound, "not_found")
			assert.Empty(t, r.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestAdminRehydrate(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm"})
	admin := []string{"Authorization", "Bearer adm"}
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	s.post("/cart/c1/AddItem", tea, http.StatusOK)

	type drift struct {
		Aggregate string          `json:"aggregate"`
		ID        string          `json:"id"`
		Version   int64           `json:"version"`
		Events    int             `json:"events"`
		Drifted   bool            `json:"drifted"`
		Stored    json.RawMessage `json:"stored"`
		Rebuilt   json.RawMessage `json:"rebuilt"`
		Fixed     bool            `json:"fixed"`
		Error     string          `json:"error"`
	}
	rehydrate := func(query string) drift {
		t.Helper()
		r := s.do(http.MethodPost, "/admin/rehydrate/cart/c1"+query, "", admin...)
		assertJSON(t, r, http.StatusOK)
		var d drift
		require.NoError(t, json.Unmarshal(r.Body, &d))
		assert.Equal(t, "cart", d.Aggregate)
		assert.Equal(t, "c1", d.ID)
		assert.Equal(t, int64(2), d.Version)
		assert.Equal(t, 2, d.Events)
		assert.Empty(t, d.Error)
		return d
	}
	d := rehydrate("")
	assert.False(t, d.Drifted)
	assert.False(t, d.Fixed)
	assert.JSONEq(t, string(d.Stored), string(d.Rebuilt))
	d = rehydrate("?fix=true")
	assert.False(t, d.Drifted)
	assert.False(t, d.Fixed, "nothing to fix")

	// Corrupt the snapshot behind the server's back.
	good := d.Rebuilt
	_, err := s.store.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: "c1", ExpectedVersion: 2,
		State: json.RawMessage(`{"status":"open","customer":"eve","items":{},"total":999,"discount":0}`)})
	require.NoError(t, err)
	d = rehydrate("")
	assert.True(t, d.Drifted)
	assert.False(t, d.Fixed)
	assert.JSONEq(t, string(good), string(d.Rebuilt))
	assert.Contains(t, string(d.Stored), "eve")
	d = rehydrate("?fix=true")
	assert.True(t, d.Drifted)
	assert.True(t, d.Fixed)
	d = rehydrate("")
	assert.False(t, d.Drifted)
	m := assertJSON(t, s.do(http.MethodGet, "/cart/c1", ""), http.StatusOK)
	assert.Equal(t, "ada", m["state"].(map[string]any)["customer"])
	assert.Equal(t, 2, s.eventCount(), "a fix appends no event")

	assertProblem(t, s.do(http.MethodPost, "/admin/rehydrate/cart/nope", "", admin...), http.StatusNotFound, "instance_missing")
	assertProblem(t, s.do(http.MethodPost, "/admin/rehydrate/nope/c1", "", admin...), http.StatusNotFound, "unknown_aggregate")
	assertProblem(t, s.do(http.MethodPost, "/admin/rehydrate/cart", "", admin...), http.StatusNotFound, "not_found")
	assertProblem(t, s.do(http.MethodPost, "/admin/rehydrate/cart/"+strings.Repeat("x", 257), "", admin...), http.StatusBadRequest, "invalid_id")
}

func TestAdminSeed(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm"})
	admin := []string{"Authorization", "Bearer adm"}
	seed := `{"events":[
		{"event":"CartOpened","payload":{"customer":"ada"}},
		{"event":"ItemAdded","payload":{"sku":"TEA-01","qty":2,"price":4.5}},
		{"event":"CartAbandoned"}
	]}`

	r := s.post("/admin/seed/cart/s1", seed, http.StatusCreated, admin...)
	m := assertJSON(t, r, http.StatusCreated)
	assert.Equal(t, `W/"3"`, r.Header.Get("ETag"))
	assert.Equal(t, "/cart/s1", r.Header.Get("Location"))
	assert.Equal(t, 3.0, m["version"])
	state := m["state"].(map[string]any)
	assert.Equal(t, "abandoned", state["status"])
	assert.Equal(t, 9.0, state["total"])

	got := assertJSON(t, s.do(http.MethodGet, "/cart/s1", ""), http.StatusOK)
	assert.Equal(t, m["state"], got["state"])
	assert.Equal(t, 3.0, got["version"])
	assert.Equal(t, 3, s.eventCount())
	// The seeded instance takes commands: its guards see the seeded state.
	r = s.post("/cart/s1/AddItem", tea, http.StatusUnprocessableEntity)
	assert.Equal(t, "cart is not open", assertProblem(t, r, http.StatusUnprocessableEntity, "guard")["name"])

	tests := []struct {
		name, path, body string
		headers          []string
		status           int
		kind             string
	}{
		{"existing instance", "/admin/seed/cart/s1", seed, nil, http.StatusConflict, "instance_exists"},
		{"unknown event", "/admin/seed/cart/s2", `{"events":[{"event":"Teleported"}]}`, nil, http.StatusBadRequest, "unknown_event"},
		{"no events", "/admin/seed/cart/s2", `{"events":[]}`, nil, http.StatusBadRequest, "invalid_body"},
		{"invalid JSON", "/admin/seed/cart/s2", `{"events":`, nil, http.StatusBadRequest, "invalid_json"},
		{"wrong content type", "/admin/seed/cart/s2", seed, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"unknown aggregate", "/admin/seed/nope/s2", seed, nil, http.StatusNotFound, "unknown_aggregate"},
		// A payload that does not fit the event's #payload is the client's
		// error, like any other refused seed.
		{"payload off schema", "/admin/seed/cart/s2", `{"events":[{"event":"CartOpened","payload":{"customer":5}}]}`, nil, http.StatusBadRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodPost, tc.path, tc.body, append(append([]string{}, admin...), tc.headers...)...)
			if tc.kind == "" {
				assert.Equal(t, tc.status, r.Status, r.String())
				return
			}
			assertProblem(t, r, tc.status, tc.kind)
		})
	}
	assert.Equal(t, 3, s.eventCount(), "no refused seed appended anything")
	assertProblem(t, s.do(http.MethodGet, "/cart/s2", ""), http.StatusNotFound, "instance_missing")
}

// ---------------------------------------------------------------------------
// Routing

func TestMethodNotAllowed(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm"})
	admin := []string{"Authorization", "Bearer adm"}
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodPost, "/healthz", "GET, HEAD"},
		{http.MethodDelete, "/healthz", "GET, HEAD"},
		{http.MethodPost, "/openapi.json", "GET, HEAD"},
		{http.MethodPost, "/events", "GET, HEAD"},
		{http.MethodPut, "/events", "GET, HEAD"},
		{http.MethodDelete, "/cart/c1", "GET, HEAD"},
		{http.MethodPost, "/cart/c1", "GET, HEAD"},
		{http.MethodGet, "/cart/c1/AddItem", "POST"},
		{http.MethodPut, "/cart/c1/AddItem", "POST"},
		{http.MethodHead, "/cart/c1/AddItem", "POST"},
		{http.MethodPut, "/cart/c1/events", "GET, HEAD"},
		{http.MethodDelete, "/cart/c1/events", "GET, HEAD"},
		{http.MethodGet, "/admin/seed/cart/c1", "POST"},
		{http.MethodGet, "/admin/rehydrate/cart/c1", "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := s.do(tc.method, tc.path, "", admin...)
			require.Equal(t, http.StatusMethodNotAllowed, r.Status, r.String())
			assert.Equal(t, tc.allow, r.Header.Get("Allow"))
			if tc.method != http.MethodHead {
				assertProblem(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	s := newServer(t, api.Options{})

	r := s.do(http.MethodGet, "/openapi.json", "")
	m := assertJSON(t, r, http.StatusOK)
	assert.NotEmpty(t, m["openapi"])
	assert.Contains(t, m["paths"], "/cart/{id}/AddItem")

	r = s.do(http.MethodGet, "/healthz", "")
	m = assertJSON(t, r, http.StatusOK)
	assert.Equal(t, map[string]any{"status": "ok", "context": "shop"}, m)
	r = s.do(http.MethodHead, "/healthz", "")
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Body)

	for _, path := range []string{"/", "/a/b/c/d", "/cart/c1/events/x"} {
		assertProblem(t, s.do(http.MethodGet, path, ""), http.StatusNotFound, "not_found")
	}
}

// ---------------------------------------------------------------------------
// Determinism

func TestDeterministicResponse(t *testing.T) {
	var n atomic.Int64
	now := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("CET", 3600))
	s := newServer(t, api.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { return fmt.Sprintf("cmd-%d", n.Add(1)) },
	})
	open := s.post("/cart/c1/Open", openAda, http.StatusCreated)
	assert.Equal(t,
		`{"events":[{"id":"cmd-1-1","type":"CartOpened","version":1,"time":"2026-01-02T02:04:05.6Z","payload":{"customer":"ada"}}],`+
			`"state":{"customer":"ada","discount":0,"items":{},"status":"open","total":0},"version":1}`,
		string(open.Body))

	add := s.post("/cart/c1/AddItem", tea, http.StatusOK)
	assert.Equal(t,
		`{"events":[{"id":"cmd-2-1","type":"ItemAdded","version":2,"time":"2026-01-02T02:04:05.6Z","payload":{"price":4.5,"qty":2,"sku":"TEA-01"}}],`+
			`"state":{"customer":"ada","discount":0,"items":{"TEA-01":{"price":4.5,"qty":2}},"status":"open","total":9},"version":2}`,
		string(add.Body))

	// The log records the same ids and times.
	evs, err := s.store.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, []string{"cmd-1-1", "cmd-2-1"}, []string{evs[0].ID, evs[1].ID})
	assert.Equal(t, []string{"cmd-1", "cmd-2"}, []string{evs[0].CommandID, evs[1].CommandID})
	assert.True(t, evs[0].Time.Equal(now))

	// Two servers given the same inputs answer the same bytes.
	var m atomic.Int64
	s2 := newServer(t, api.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { return fmt.Sprintf("cmd-%d", m.Add(1)) },
	})
	assert.Equal(t, string(open.Body), string(s2.post("/cart/c1/Open", openAda, http.StatusCreated).Body))
	assert.Equal(t, string(add.Body), string(s2.post("/cart/c1/AddItem", tea, http.StatusOK).Body))
}

// Event times have milliseconds on every runtime: the Workers runtime's
// clock is JavaScript's, so the native one is cut to the same precision.
func TestEventTimesHaveMilliseconds(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 123_456_789, time.UTC)
	s := newServer(t, api.Options{AdminToken: "adm", Now: func() time.Time { return now }})
	r := s.post("/cart/c1/Open", openAda, http.StatusCreated)
	assert.Contains(t, string(r.Body), `"time":"2026-01-02T03:04:05.123Z"`)
	r = s.do(http.MethodPost, "/admin/seed/cart/s1", `{"events":[{"event":"CartOpened","payload":{"customer":"x"}}]}`,
		"Authorization", "Bearer adm")
	require.Less(t, r.Status, 300, r.String())
	evs, err := s.store.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	for _, e := range evs {
		assert.Equal(t, now.Truncate(time.Millisecond), e.Time, "event %s", e.ID)
	}
}

// The seed body may name its commandId (the ids of the seeded events derive
// from it). One that collides with events already in the log is the
// client's mistake and must not fail the server.
func TestAdminSeedCommandIDCollision(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm", NewID: func() string { return "fixed" }})
	r := s.post("/cart/c1/Open", openAda, http.StatusCreated)
	assert.Equal(t, "fixed-1", decodeDecision(t, r).Events[0].ID)
	r = s.do(http.MethodPost, "/admin/seed/cart/s1", `{"commandId":"fixed","events":[{"event":"CartOpened","payload":{"customer":"x"}}]}`,
		"Authorization", "Bearer adm")
	assert.Less(t, r.Status, 500, r.String())
	assert.Equal(t, 1, s.eventCount())
}
