package compiler_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
)

const example = "../contexts/example.cue"

func TestManifestIsDeterministic(t *testing.T) {
	var outs []string
	for i := 0; i < 3; i++ {
		m, err := compiler.Compile(example)
		require.NoError(t, err)
		data, err := compiler.Marshal(m)
		require.NoError(t, err)
		outs = append(outs, string(data))
	}
	assert.Equal(t, outs[0], outs[1])
	assert.Equal(t, outs[0], outs[2])
	m, err := manifest.Parse([]byte(outs[0]))
	require.NoError(t, err)
	assert.Equal(t, "shop", m.Name)
}

// Every expression's position points at its own text in the file, so
// errors can show a caret under the right character.
func TestExpressionPositionsPointAtTheirText(t *testing.T) {
	m, err := compiler.Compile(example)
	require.NoError(t, err)
	src, err := os.ReadFile(example)
	require.NoError(t, err)
	lines := strings.Split(string(src), "\n")
	var exprs []manifest.Expr
	for _, a := range m.Aggregates {
		for _, c := range a.Commands {
			for _, g := range c.Require {
				exprs = append(exprs, g.Expr)
			}
			for _, e := range c.Emit {
				if e.If != nil {
					exprs = append(exprs, *e.If)
				}
				exprs = append(exprs, shapeExprs(e.Payload)...)
			}
		}
		for _, e := range a.Events {
			exprs = append(exprs, shapeExprs(e.Apply)...)
		}
		for _, inv := range a.Invariants {
			exprs = append(exprs, inv.Expr)
		}
	}
	require.Greater(t, len(exprs), 40)
	for _, x := range exprs {
		require.True(t, strings.HasSuffix(x.Pos.File, "example.cue"), x.Pos.String())
		line := lines[x.Pos.Line-1]
		require.GreaterOrEqual(t, len(line), x.Pos.Col-1+len(x.Src), "%s: %q", x.Pos, x.Src)
		assert.Equal(t, x.Src, line[x.Pos.Col-1:x.Pos.Col-1+len(x.Src)], "%s (%s)", x.Pos, x.Pos.Path)
		assert.NotContains(t, x.Pos.Path, "#Context")
	}
}

func shapeExprs(s manifest.Shape) []manifest.Expr {
	if s.Whole != nil {
		return []manifest.Expr{*s.Whole}
	}
	var out []manifest.Expr
	for _, f := range s.Fields {
		out = append(out, f.Expr)
	}
	return out
}

func TestJSONSchemas(t *testing.T) {
	m, err := compiler.Compile(example)
	require.NoError(t, err)
	cart := m.Aggregates["cart"]
	var add map[string]any
	require.NoError(t, json.Unmarshal(cart.Commands["AddItem"].Payload, &add))
	assert.Equal(t, false, add["additionalProperties"])
	assert.ElementsMatch(t, []any{"sku", "qty", "price"}, add["required"])
	sku := add["properties"].(map[string]any)["sku"].(map[string]any)
	assert.Equal(t, "^[A-Z0-9-]{3,20}$", sku["pattern"])

	// An absent #payload is a closed empty object.
	assert.JSONEq(t, `{"type":"object","additionalProperties":false}`, string(cart.Commands["CheckOut"].Payload))

	// An embedded definition ({#Line, sku: string}) is inlined into one
	// closed object holding all fields, not a $ref beside closed properties.
	var added map[string]any
	require.NoError(t, json.Unmarshal(cart.Events["ItemAdded"].Payload, &added))
	assert.NotContains(t, string(cart.Events["ItemAdded"].Payload), "$ref")
	assert.ElementsMatch(t, []any{"sku", "qty", "price"}, added["required"])
	assert.Len(t, added["properties"], 3)
	assert.NotContains(t, string(cart.State), "$ref")
}

func TestScenariosAreCollected(t *testing.T) {
	m, err := compiler.Compile(example)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(m.Scenarios), 10)
	byName := map[string]*manifest.Scenario{}
	for _, s := range m.Scenarios {
		byName[s.Name] = s
	}
	s := byName["an order is paid in two parts"]
	require.NotNil(t, s)
	assert.Len(t, s.When, 2, "a list of commands")
	assert.Equal(t, "test-1", s.ID)
	assert.Len(t, s.Then.Events, 3)
	assert.Nil(t, s.Then.Events[2].Payload, "an event without payload matches any")
	s = byName["an empty cart cannot check out"]
	assert.JSONEq(t, `{}`, string(s.When[0].Payload), "a command without payload sends {}")
	assert.Nil(t, s.Then.Events, "then.events absent is not then.events: []")
}

func TestCUEErrorsArePositioned(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctx.cue")
	require.NoError(t, os.WriteFile(path, []byte(`package x

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "Bad Name"
	aggregates: box: {
		#state: {n: int}
		initial: {n: "zero"}
		commands: {}
		events: {}
	}
}
`), 0o644))
	_, err := compiler.Compile(path)
	var list diag.List
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 2, "%v", err)
	assert.Equal(t, 6, list[0].Pos.Line)
	assert.Contains(t, list[0].Msg, "out of bound")
	assert.Equal(t, 9, list[1].Pos.Line)
	assert.Equal(t, "aggregates.box.initial.n", list[1].Pos.Path)
}

// A field with a default keeps its bounds, and the default is recorded
// (CUE's generator drops both for `int & >0 & <=100 | *20`).
func TestDefaultsKeepBounds(t *testing.T) {
	m, err := compiler.Compile(example)
	require.NoError(t, err)
	assert.JSONEq(t, `{"additionalProperties":false,"type":"object","properties":{"limit":{"default":20,
		"allOf":[{"type":"number"},{"type":"integer","exclusiveMinimum":0,"maximum":100}]}}}`, string(m.Queries["open_carts"].Params))
}

// Limits a context declares reach the manifest; those it leaves out take
// the defaults when the program is compiled.
func TestLimitsAreCompiled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctx.cue")
	require.NoError(t, os.WriteFile(path, []byte(`package x

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "limited"
	limits: {stateBytes: 4096, queryRows: 10}
	aggregates: box: {
		#state: {n: int}
		initial: {n: 0}
		commands: {}
		events: {}
	}
}
`), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	assert.Equal(t, manifest.Limits{StateBytes: 4096, QueryRows: 10}, m.Limits)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	assert.Equal(t, manifest.Limits{StateBytes: 4096, EventBytes: manifest.DefaultLimits.EventBytes,
		QueryRows: 10, QueryBytes: manifest.DefaultLimits.QueryBytes}, p.Limits)

	require.NoError(t, os.WriteFile(path, []byte(`package x

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "limited"
	limits: {stateBytes: 0}
	aggregates: {}
}
`), 0o644))
	_, err = compiler.Compile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "limits.stateBytes")
}

// Every way CUE lets a user write a list or a map of a definition compiles
// to a schema that stands alone (no $ref left dangling) and accepts what
// CUE accepts: in a state, in a payload, with and without a default.
func TestListsAndMapsOfDefinitions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctx.cue")
	require.NoError(t, os.WriteFile(path, []byte(`package x

import "github.com/cuesource/cuesource/schema"

#Line: {sku: string, qty: int & >0}
#Tag: "a" | "b"

schema.#Context & {
	name: "defs"
	aggregates: box: {
		#state: {
			lines:   [...#Line]
			wrapped: [...{#Line}]
			byName:  [string]: #Line
			nested:  [...[...#Line]]
			first:   [#Line, ...#Line] | *[{sku: "x", qty: 1}]
			tags:    [...#Tag]
			maybe?:  [...#Line]
			inMap:   {[string]: [...#Line]}
		}
		initial: {lines: [], wrapped: [], byName: {}, nested: [], first: [{sku: "x", qty: 1}], tags: [], inMap: {}}
		commands: Put: {
			#payload: {lines: [...#Line], byName: [string]: #Line, tags: [...#Tag] | *[]}
			instance: "any"
			emit: [{event: "Put", payload: {lines: "cmd.lines", byName: "cmd.byName"}}]
		}
		events: Put: {
			#payload: {lines: [...#Line], byName: [string]: #Line}
			apply: {lines: "event.lines", byName: "event.byName", nested: "[event.lines]"}
		}
	}
}
`), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	box := m.Aggregates["box"]
	for what, raw := range map[string]json.RawMessage{"state": box.State, "payload": box.Commands["Put"].Payload, "event": box.Events["Put"].Payload} {
		assert.NotContains(t, string(raw), "$ref", "%s: %s", what, raw)
		assert.NotContains(t, string(raw), "$defs", "%s: %s", what, raw)
	}
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	cmd := p.Aggregates["box"].Commands["Put"]
	good := map[string]any{"lines": []any{map[string]any{"sku": "a", "qty": 1.0}}, "byName": map[string]any{"k": map[string]any{"sku": "b", "qty": 2.0}}, "tags": []any{"a"}}
	assert.Empty(t, cmd.Validate(good))
	bad := map[string]any{"lines": []any{map[string]any{"sku": "a", "qty": 0.0}}, "byName": map[string]any{"k": map[string]any{"sku": 1.0, "qty": 2.0}}, "tags": []any{"c"}}
	vs := cmd.Validate(bad)
	var at []string
	for _, v := range vs {
		at = append(at, v.Pointer)
	}
	assert.Contains(t, at, "/lines/0/qty")
	assert.Contains(t, at, "/byName/k/sku")
	assert.Contains(t, at, "/tags/0")
}

// A retention block reaches the manifest with its rules; vet refuses a
// malformed duration, an empty block and an aggregate's hotBytes, each at
// its position.
func TestRetentionIsCompiled(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "r.cue")
		require.NoError(t, os.WriteFile(path, []byte(`package r
import "github.com/cuesource/cuesource/schema"
schema.#Context & {
	name: "r"
	aggregates: cart: {
		#state: {n: int}
		initial: {n: 0}
		commands: Add: {instance: "any", emit: [{event: "Added"}]}
		events: Added: {apply: {n: "state.n + 1"}}
`+body+`
}
`), 0o644))
		return path
	}
	m, err := compiler.Compile(write(`	}
	retention: {keepFor: "36h", hotBytes: 4096}
	aggregates: cart: retention: {keepLast: 5, sinceSnapshot: true}`))
	require.NoError(t, err)
	require.NotNil(t, m.Retention)
	assert.Equal(t, "36h", m.Retention.KeepFor)
	assert.Equal(t, int64(4096), m.Retention.HotBytes)
	assert.Equal(t, int64(5), m.Aggregates["cart"].Retention.KeepLast)
	assert.True(t, m.Aggregates["cart"].Retention.SinceSnapshot)

	m, err = compiler.Compile(write(`	}`))
	require.NoError(t, err)
	assert.Nil(t, m.Retention, "absent stays absent")

	_, err = compiler.Compile(write(`	}
	retention: {keepFor: "9x"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retention.keepFor")
	_, err = compiler.Compile(write(`	}
	aggregates: cart: retention: {hotBytes: 5}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aggregates.cart.retention.hotBytes: field not allowed")
}

// Snapshots reach the manifest where they are declared, with where; none
// are declared by default, and then the manifest says nothing of them.
func TestSnapshotsAreCompiled(t *testing.T) {
	m, err := compiler.Compile("../testdata/snapshots/counter.cue")
	require.NoError(t, err)
	require.NotNil(t, m.Snapshots)
	assert.Equal(t, 3, m.Snapshots.Every)
	assert.Equal(t, "snapshots.every", m.Snapshots.Pos.Path)
	assert.True(t, strings.HasSuffix(m.Snapshots.Pos.File, "counter.cue"), m.Snapshots.Pos.File)
	assert.Nil(t, m.Aggregates["counter"].Snapshots)
	require.NotNil(t, m.Aggregates["often"].Snapshots)
	assert.Equal(t, 2, m.Aggregates["often"].Snapshots.Every)
	assert.Equal(t, "aggregates.often.snapshots.every", m.Aggregates["often"].Snapshots.Pos.Path)

	m, err = compiler.Compile(example)
	require.NoError(t, err)
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"snapshots"`)

	for _, bad := range []string{`snapshots: every: 0`, `snapshots: every: 1.5`, `snapshots: {}`, `aggregates: box: snapshots: every: -1`} {
		dir := t.TempDir()
		path := filepath.Join(dir, "ctx.cue")
		require.NoError(t, os.WriteFile(path, []byte(`package x

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "snap"
	aggregates: box: {
		#state: {n: int}
		initial: {n: 0}
		commands: {}
		events: {}
	}
	`+bad+`
}
`), 0o644))
		_, err = compiler.Compile(path)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "snapshots.every", bad)
		if bad != `snapshots: {}` { // a missing value has no place in the file; its path says where
			assert.Contains(t, err.Error(), "ctx.cue:", bad)
		}
	}
}

// A manifest written by hand gets the interpreter's check, with where.
func TestSnapshotsEveryIsChecked(t *testing.T) {
	m, err := compiler.Compile("../testdata/snapshots/counter.cue")
	require.NoError(t, err)
	m.Snapshots.Every = 0
	m.Aggregates["often"].Snapshots.Every = -2
	_, err = interpreter.Compile(m)
	var list diag.List
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 2, "%v", err)
	for _, e := range list {
		assert.Contains(t, e.Pos.File, "counter.cue")
		assert.NotZero(t, e.Pos.Line)
	}
	assert.Contains(t, list[0].Error()+list[1].Error(), "snapshots.every must be above 0, not 0")
	assert.Contains(t, list[0].Error()+list[1].Error(), "aggregates.often.snapshots.every must be above 0, not -2")
}
