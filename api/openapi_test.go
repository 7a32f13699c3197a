package api

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diagram"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
)

// openapiCompile compiles a context file.
func openapiCompile(t *testing.T, path string) *interpreter.Program {
	t.Helper()
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

// openapiDoc generates and decodes the document of p.
func openapiDoc(t *testing.T, p *interpreter.Program) map[string]any {
	t.Helper()
	data := OpenAPI(p)
	require.True(t, json.Valid(data), "the document is JSON")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc
}

// at walks a decoded document along keys, failing the test where a key is
// missing.
func at(t *testing.T, doc any, keys ...string) any {
	t.Helper()
	cur := doc
	for i, k := range keys {
		m, ok := cur.(map[string]any)
		require.Truef(t, ok, "%s is not an object", strings.Join(keys[:i], "/"))
		cur, ok = m[k]
		require.Truef(t, ok, "no %s", strings.Join(keys[:i+1], "/"))
	}
	return cur
}

// resolve follows a local $ref ("#/components/...") in doc.
func resolve(t *testing.T, doc map[string]any, v any) any {
	t.Helper()
	r, ok := v.(map[string]any)["$ref"].(string)
	if !ok {
		return v
	}
	require.True(t, strings.HasPrefix(r, "#/"), r)
	var keys []string
	for _, k := range strings.Split(r[2:], "/") {
		keys = append(keys, strings.NewReplacer("~1", "/", "~0", "~").Replace(k))
	}
	return at(t, doc, keys...)
}

func jsonEq(t *testing.T, want json.RawMessage, got any, msg string) {
	t.Helper()
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(g), msg)
}

func TestOpenAPIExample(t *testing.T) {
	p := openapiCompile(t, "../contexts/example.cue")
	m := p.Manifest
	doc := openapiDoc(t, p)

	assert.Equal(t, "3.1.0", doc["openapi"])
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["jsonSchemaDialect"])
	assert.Equal(t, "shop", at(t, doc, "info", "title"))
	assert.Equal(t, "manifest v1", at(t, doc, "info", "version"))
	assert.Equal(t, "http", at(t, doc, "components", "securitySchemes", "bearer", "type"))
	assert.Equal(t, "bearer", at(t, doc, "components", "securitySchemes", "bearer", "scheme"))
	for _, s := range []string{"Problem", "Event", "DecidedEvent", "Drift"} {
		at(t, doc, "components", "schemas", s)
	}

	// The paths are exactly the routes: the fixed ones, and per aggregate
	// the instance, its events and one per command.
	want := []string{"/events", "/healthz", "/openapi.json", "/admin/rehydrate/{aggregate}/{id}", "/admin/seed/{aggregate}/{id}"}
	for q := range m.Queries {
		want = append(want, "/queries/"+q)
	}
	if len(m.Projections) > 0 {
		want = append(want, "/projections", "/projections/{name}/{action}", "/admin/projections/{name}/rows/{key}")
	}
	if len(m.Effects) > 0 {
		want = append(want, "/admin/dead-letters", "/admin/dead-letters/{id}/retry", "/admin/dead-letters/{id}")
	}
	for agg, a := range m.Aggregates {
		want = append(want, "/"+agg+"/{id}", "/"+agg+"/{id}/events", "/"+agg+"/{id}/history")
		for cmd, c := range a.Commands {
			want = append(want, "/"+agg+"/{id}/"+cmd)
			if c.Instance != manifest.InstanceExisting {
				want = append(want, "/"+agg+"/"+cmd) // made with an id the server chooses
			}
		}
	}
	var got []string
	for p := range doc["paths"].(map[string]any) {
		got = append(got, p)
	}
	assert.ElementsMatch(t, want, got)

	commands := 0
	for agg, a := range m.Aggregates {
		jsonEq(t, a.State, resolve(t, doc, at(t, doc, "paths", "/"+agg+"/{id}", "get", "responses", "200", "content", "application/json", "schema", "properties", "state")), agg+" state")
		for ev, e := range a.Events {
			jsonEq(t, e.Payload, at(t, doc, "components", "schemas", agg+".event."+ev), agg+"."+ev)
		}
		for cmd, c := range a.Commands {
			commands++
			name := agg + "." + cmd
			op := at(t, doc, "paths", "/"+agg+"/{id}/"+cmd, "post").(map[string]any)
			assert.Equal(t, name, op["operationId"])
			body := at(t, op, "requestBody").(map[string]any)
			jsonEq(t, c.Payload, resolve(t, doc, at(t, body, "content", "application/json", "schema")), name+" payload")
			// Commands without payload fields take no body; the others
			// need one.
			var payload struct{ Required []string }
			require.NoError(t, json.Unmarshal(c.Payload, &payload))
			assert.Equal(t, len(payload.Required) > 0, body["required"] == true, name+" body required")

			responses := op["responses"].(map[string]any)
			for _, code := range []string{"200", "400", "401", "409", "412", "413", "415", "422"} {
				assert.Contains(t, responses, code, name)
			}
			assert.NotContains(t, responses, "428", "%s does not require If-Match", name)
			_, created := responses["201"]
			assert.Equal(t, c.Instance != manifest.InstanceExisting, created, "%s: 201 when it may create", name)
			if created {
				at(t, responses, "201", "headers", "Location")
			}
			_, missing := responses["404"]
			assert.Equal(t, c.Instance == manifest.InstanceExisting, missing, "%s: 404 when the instance must exist", name)
			assert.Equal(t, map[string]any{"$ref": "#/components/schemas/Problem"}, at(t, responses, "422", "content", "application/problem+json", "schema"))
			at(t, responses, "200", "headers", "ETag")

			desc := op["description"].(string)
			for _, g := range c.Require {
				assert.Contains(t, desc, g.Name, "%s lists its guards", name)
			}
			// The answer's events are one of the events the command emits,
			// each with that event's payload schema.
			var emitted []string
			for _, e := range c.Emit {
				assert.Contains(t, desc, e.Event, "%s lists what it emits", name)
				if !slices.Contains(emitted, e.Event) {
					emitted = append(emitted, e.Event)
				}
			}
			items := at(t, responses, "200", "content", "application/json", "schema", "properties", "events", "items").(map[string]any)
			// One event is its schema itself, beside the reference; more
			// are a oneOf.
			branches, _ := items["oneOf"].([]any)
			if len(emitted) == 1 {
				require.Nil(t, branches, name)
				branches = []any{items}
			}
			require.Len(t, branches, len(emitted), name)
			for i, ev := range emitted {
				assert.Equal(t, ev, at(t, branches[i], "properties", "type", "const"))
				jsonEq(t, a.Events[ev].Payload, resolve(t, doc, at(t, branches[i], "properties", "payload")), name+" emits "+ev)
			}
		}
	}
	assert.Equal(t, 10, commands, "the example has 10 commands")

	assertRefsResolve(t, doc, doc)
}

// assertRefsResolve checks that every $ref in v points into doc.
func assertRefsResolve(t *testing.T, doc map[string]any, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["$ref"].(string); ok {
			resolve(t, doc, x)
		}
		for _, e := range x {
			assertRefsResolve(t, doc, e)
		}
	case []any:
		for _, e := range x {
			assertRefsResolve(t, doc, e)
		}
	}
}

// ifMatchContext has a command that requires If-Match, one that may create
// its instance, a command and an event of the same name, and a recursive
// type (whose schema keeps a $ref).
const ifMatchContext = `
package bank

import "github.com/cuesource/cuesource/schema"

#Node: {name: string, children?: [...#Node]}

schema.#Context & {
	name: "bank"
	aggregates: account: {
		#state: {balance: number, tree?: #Node}
		initial: balance: 0
		commands: {
			Open: {
				instance: "any"
				emit: [{event: "Opened"}]
			}
			Withdraw: {
				ifMatch: "required"
				#payload: amount: number & >0
				require: "insufficient funds": "state.balance >= cmd.amount"
				emit: [{event: "Withdrawn", payload: amount: "cmd.amount"}]
			}
			Deposit: {
				#payload: {amount: number & >0, note?: string}
				emit: [{event: "Deposit", payload: amount: "cmd.amount"}]
			}
		}
		events: {
			Opened: {}
			Withdrawn: {
				#payload: amount: number
				apply: balance: "state.balance - event.amount"
			}
			Deposit: {
				#payload: amount: number
				apply: balance: "state.balance + event.amount"
			}
		}
	}
}
`

func TestOpenAPIIfMatchAndNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.cue")
	require.NoError(t, os.WriteFile(path, []byte(ifMatchContext), 0o644))
	p := openapiCompile(t, path)
	doc := openapiDoc(t, p)

	ifMatchRequired := func(op any) any {
		for _, prm := range at(t, op, "parameters").([]any) {
			if prm.(map[string]any)["name"] == "If-Match" {
				return prm.(map[string]any)["required"]
			}
		}
		t.Fatal("no If-Match parameter")
		return nil
	}
	withdraw := at(t, doc, "paths", "/account/{id}/Withdraw", "post")
	assert.Contains(t, at(t, withdraw, "responses"), "428")
	assert.Equal(t, true, ifMatchRequired(withdraw))
	assert.Contains(t, at(t, withdraw, "description"), "insufficient funds")
	for _, cmd := range []string{"Open", "Deposit"} {
		op := at(t, doc, "paths", "/account/{id}/"+cmd, "post")
		assert.NotContains(t, at(t, op, "responses"), "428", cmd)
		assert.Equal(t, false, ifMatchRequired(op), cmd)
	}

	open := at(t, doc, "paths", "/account/{id}/Open", "post")
	assert.Contains(t, at(t, open, "responses"), "201")
	assert.NotContains(t, at(t, open, "responses"), "404")
	assert.NotContains(t, at(t, open, "requestBody"), "required", "Open has no payload")

	// The command Deposit and the event Deposit keep their own schemas.
	a := p.Manifest.Aggregates["account"]
	require.NotEqual(t, string(a.Commands["Deposit"].Payload), string(a.Events["Deposit"].Payload))
	jsonEq(t, a.Commands["Deposit"].Payload, at(t, doc, "components", "schemas", "account.command.Deposit"), "command")
	jsonEq(t, a.Events["Deposit"].Payload, at(t, doc, "components", "schemas", "account.event.Deposit"), "event")

	// A recursive definition stays a reference, which now points into the
	// document.
	state := at(t, doc, "components", "schemas", "account.state")
	if strings.Contains(string(a.State), `"$ref"`) {
		data, _ := json.Marshal(state)
		assert.Contains(t, string(data), `"#/components/schemas/account.state/$defs/`)
	}
	assertRefsResolve(t, doc, doc)
}

func TestOpenAPIDeterministic(t *testing.T) {
	p := openapiCompile(t, "../contexts/example.cue")
	first := OpenAPI(p)
	for range 5 {
		require.True(t, bytes.Equal(first, OpenAPI(p)), "the same bytes every time")
	}
	// And from a fresh compilation of the same file.
	assert.True(t, bytes.Equal(first, OpenAPI(openapiCompile(t, "../contexts/example.cue"))))

	// The service serves these bytes.
	s := New(p, openapiBackend{}, Options{Diagram: diagram.SVG})
	resp := s.Serve(context.Background(), &Request{Method: http.MethodGet, Path: "/openapi.json", Header: Header{}})
	assert.Equal(t, http.StatusOK, resp.Status)
	assert.Equal(t, first, resp.Body)
}

// openapiBackend answers every call with an empty success: an instance at
// version 1, no events.
type openapiBackend struct{}

func (openapiBackend) Execute(context.Context, *cuesource.CommandRequest) (cuesource.Answer, error) {
	return cuesource.Answer{Version: 1, Body: []byte(`{}`)}, nil
}

func (openapiBackend) Load(_ context.Context, agg, id string) (store.Instance, error) {
	return store.Instance{Aggregate: agg, ID: id, Version: 1, State: []byte(`{}`)}, nil
}

func (openapiBackend) Events(context.Context, string, string, int64, int) ([]store.Event, error) {
	return nil, nil
}

func (openapiBackend) ReadAll(context.Context, int64, int) ([]store.Event, error) { return nil, nil }

func (openapiBackend) Rehydrate(_ context.Context, agg, id string, _ bool) (*cuesource.Drift, error) {
	return &cuesource.Drift{Aggregate: agg, ID: id, Version: 1}, nil
}

func (openapiBackend) Seed(context.Context, *cuesource.SeedRequest) (cuesource.Answer, error) {
	return cuesource.Answer{Version: 1, Created: true, Body: []byte(`{}`)}, nil
}

// TestOpenAPIRoutesServed sends a request to every operation of the
// document and checks that Serve has the route and answers with a status
// the document lists for it.
func TestOpenAPIRoutesServed(t *testing.T) {
	for _, file := range []string{"../contexts/example.cue", ""} {
		path := file
		if path == "" {
			path = filepath.Join(t.TempDir(), "bank.cue")
			require.NoError(t, os.WriteFile(path, []byte(ifMatchContext), 0o644))
		}
		p := openapiCompile(t, path)
		doc := openapiDoc(t, p)
		s := New(p, openapiBackend{}, Options{Diagram: diagram.SVG, Token: "user", AdminToken: "admin", ReadModels: openapiReadSide{}, DeadLetters: openapiReadSide{}})
		aggregate := slices.Sorted(maps.Keys(p.Manifest.Aggregates))[0]
		ops := 0
		for route, item := range doc["paths"].(map[string]any) {
			for method, op := range item.(map[string]any) {
				ops++
				target := strings.NewReplacer("{id}", "x-1", "{aggregate}", aggregate).Replace(route)
				h := Header{"Authorization": {"Bearer user"}}
				if strings.HasPrefix(route, "/admin/") {
					h.Set("Authorization", "Bearer admin")
				}
				var body []byte
				if method == "post" {
					h.Set("Content-Type", "application/json")
					body = []byte(`{"events": [{"event": "x"}]}`)
					if !strings.HasPrefix(route, "/admin/") {
						body = []byte(`{}`)
					}
				}
				// Without a token: 401, unless the document says the
				// route needs none.
				anon := h.Clone()
				anon.Del("Authorization")
				resp := s.Serve(context.Background(), &Request{Method: strings.ToUpper(method), Path: target, Header: anon, Body: body})
				// No security of its own: the document's, the token.
				sec, own := op.(map[string]any)["security"].([]any)
				needsNone := own && len(sec) == 0
				assert.Equal(t, !needsNone, resp.Status == http.StatusUnauthorized, "%s %s without a token: %d", method, target, resp.Status)
				assert.Contains(t, at(t, op, "responses"), strconv.Itoa(resp.Status), "%s %s without a token", method, target)

				resp = s.Serve(context.Background(), &Request{Method: strings.ToUpper(method), Path: target, Header: h, Body: body})
				if resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed {
					var pr map[string]any
					_ = json.Unmarshal(resp.Body, &pr)
					assert.NotContains(t, []any{"not_found", "method_not_allowed", "unknown_aggregate", "unknown_command"}, pr["kind"],
						"%s %s: %s", method, target, resp.Body)
				}
				assert.Contains(t, at(t, op, "responses"), strconv.Itoa(resp.Status), "%s %s answers a status the document lists: %s", method, target, resp.Body)
			}
		}
		assert.Greater(t, ops, 5)
	}
}

// openapiReadSide answers the read-side routes with empty results.
type openapiReadSide struct{}

func (openapiReadSide) Query(context.Context, string, map[string]any) ([]map[string]any, error) {
	return nil, nil
}
func (openapiReadSide) Status(context.Context) ([]cuesource.ProjectionStatus, error) { return nil, nil }
func (openapiReadSide) Rebuild(context.Context, string) error                        { return nil }
func (openapiReadSide) Skip(context.Context, string) error                           { return nil }
func (openapiReadSide) Resume(context.Context, string) error                         { return nil }
func (openapiReadSide) List(context.Context) ([]cuesource.DeadLetter, error)         { return nil, nil }
func (openapiReadSide) Retry(context.Context, int64) error                           { return nil }
func (openapiReadSide) Discard(context.Context, int64) error                         { return nil }

// A context with a retention documents GET /admin/storage, the
// archive's routes and the instance events' hotFrom; one without
// documents none of them.
func TestOpenAPIRetention(t *testing.T) {
	p := openapiCompile(t, "../contexts/example.cue")
	doc := openapiDoc(t, p)
	assert.NotContains(t, doc["paths"], "/admin/storage")
	assert.NotContains(t, doc["paths"], "/admin/archive/segments")

	m, err := compiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	m.Retention = &manifest.Retention{KeepLast: 10}
	p, err = interpreter.Compile(m)
	require.NoError(t, err)
	doc = openapiDoc(t, p)
	require.Contains(t, doc["paths"], "/admin/storage")
	assert.NotContains(t, at(t, doc, "paths", "/admin/storage", "get", "description"), "404 for now", "the Workers runtime answers it")
	for _, path := range []string{"/admin/archive/segments", "/admin/archive/segments/{name}", "/admin/archive/objects"} {
		at(t, doc, "paths", path, "get", "security")
	}
	assert.Contains(t, at(t, doc, "paths", "/admin/archive/segments/{name}", "get", "responses", "422", "description"), "object_too_large")
	ev := doc["paths"].(map[string]any)["/cart/{id}/events"].(map[string]any)["get"].(map[string]any)
	schema := ev["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	assert.Contains(t, schema["properties"], "hotFrom")
	assert.NotContains(t, schema["required"], "hotFrom")
}

// Unique keys, look-ups and server-chosen ids are documented: the by-key
// routes, 409 unique_violation on a command whose events claim a key,
// 503 lookup_failed on one with look-ups, 201 with Location on a create.
func TestOpenAPIRulesAcrossInstances(t *testing.T) {
	p := openapiCompile(t, "../contexts/carts")
	doc := openapiDoc(t, p)
	get := at(t, doc, "paths", "/cart/by/openCartPerClient/{key}", "get").(map[string]any)
	assert.Equal(t, "cart.by.openCartPerClient", get["operationId"])
	assert.Contains(t, at(t, get, "responses", "404", "description"), "key_not_held")
	at(t, get, "responses", "200", "headers", "ETag")

	open := at(t, doc, "paths", "/cart/Open", "post").(map[string]any)
	assert.Equal(t, "cart.Open.create", open["operationId"])
	at(t, open, "responses", "201", "headers", "Location")
	assert.Contains(t, at(t, open, "responses", "409", "description"), "unique_violation")
	assert.Contains(t, at(t, open, "responses", "409", "description"), "openCartPerClient")
	assert.Contains(t, at(t, doc, "paths", "/cart/{id}/Open", "post", "responses", "409", "description"), "unique_violation")
	assert.NotContains(t, at(t, doc, "paths", "/cart/{id}/AddItem", "post", "responses", "409", "description"), "unique_violation")

	add := at(t, doc, "paths", "/cart/by/openCartPerClient/{key}/AddItem", "post").(map[string]any)
	assert.Equal(t, "cart.AddItem.by.openCartPerClient", add["operationId"])
	assert.Contains(t, at(t, add, "responses", "503", "description"), "lookup_failed")
	assert.Contains(t, at(t, add, "responses", "404", "description"), "key_not_held")
	assert.NotContains(t, doc["paths"], "/cart/by/openCartPerClient/{key}/Open", "Open makes a new cart: never one by key")
	assert.NotContains(t, doc["paths"], "/cart/CheckOut", "CheckOut makes no cart")
	for _, ext := range []string{"constraint", "key", "holder", "lookup"} {
		at(t, doc, "components", "schemas", "Problem", "properties", ext)
	}
}
