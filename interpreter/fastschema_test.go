package interpreter

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
)

// The fast path and jsonschema agree on every document generated from the
// schemas of the example contexts: valid ones, and ones broken in every way
// the generator knows (wrong types, bounds, patterns, missing and extra
// fields).
func TestFastSchemaAgreesWithJSONSchema(t *testing.T) {
	var schemas []json.RawMessage
	for _, path := range []string{"../contexts/example.cue", "../contexts/tickets/tickets.cue"} {
		m, err := cuecompiler.Compile(path)
		require.NoError(t, err)
		for _, a := range m.Aggregates {
			schemas = append(schemas, a.State)
			for _, c := range a.Commands {
				schemas = append(schemas, c.Payload)
			}
			for _, e := range a.Events {
				schemas = append(schemas, e.Payload)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	fastPaths, valid, invalid := 0, 0, 0
	for i, raw := range schemas {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(raw, &doc))
		fast := fastCheck(doc)
		if fast == nil {
			continue
		}
		fastPaths++
		c := jsonschema.NewCompiler()
		d, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		url := "mem:///s" + string(rune('a'+i%26)) + ".json"
		require.NoError(t, c.AddResource(url, d))
		full, err := c.Compile(url)
		require.NoError(t, err)
		for n := 0; n < 400; n++ {
			v := generate(rng, doc, 0)
			want := full.Validate(v) == nil
			if got := fast(v); got != want {
				b, _ := json.Marshal(v)
				t.Fatalf("schema %s\ndocument %s\nfast path says %v, jsonschema says %v", raw, b, got, want)
			}
			if want {
				valid++
			} else {
				invalid++
			}
		}
	}
	require.Greater(t, fastPaths, 20, "the example schemas must take the fast path")
	require.Greater(t, valid, 1000, "too few valid documents generated")
	require.Greater(t, invalid, 1000, "too few invalid documents generated")
}

var leaves = []any{nil, true, false, 0, 1, -1, 2.5, 3.0, 25, 100, 101, 10000, 10001, 1e21,
	"", "x", "ada", "TEA-01", "CHAIR-9", "VIP25", "open", "new", "closed", "TRACK12345", "Ünïcode-ÄÖ",
	map[string]any{}, []any{}, []any{1}}

// generate makes a document that often fits s and often does not.
func generate(rng *rand.Rand, s map[string]any, depth int) any {
	if rng.IntN(8) == 0 || depth > 6 {
		return leaves[rng.IntN(len(leaves))]
	}
	if enum, ok := s["enum"].([]any); ok && rng.IntN(4) > 0 {
		return enum[rng.IntN(len(enum))]
	}
	if all, ok := s["allOf"].([]any); ok && len(all) > 0 {
		return generate(rng, all[rng.IntN(len(all))].(map[string]any), depth+1)
	}
	switch s["type"] {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for k, ps := range props {
			if rng.IntN(6) > 0 {
				out[k] = generate(rng, ps.(map[string]any), depth+1)
			}
		}
		if extra, ok := s["additionalProperties"].(map[string]any); ok {
			for i := rng.IntN(3); i > 0; i-- {
				out[leaves[17+rng.IntN(5)].(string)] = generate(rng, extra, depth+1)
			}
		}
		if rng.IntN(10) == 0 {
			out["unexpected"] = 1
		}
		return out
	case "array":
		var out []any
		items, _ := s["items"].(map[string]any)
		for i := rng.IntN(3); i > 0; i-- {
			out = append(out, generate(rng, items, depth+1))
		}
		return out
	case "integer":
		return []any{0, 1, 2, 50, 100, 101, -3, 2.0, 2.5}[rng.IntN(9)]
	case "number":
		return []any{0, 0.5, 1, 4.5, 300, 9999.99, 10000, 10001, -1, 548.1}[rng.IntN(10)]
	case "string":
		return leaves[15+rng.IntN(11)]
	case "boolean":
		return rng.IntN(2) == 0
	}
	return leaves[rng.IntN(len(leaves))]
}

// Query parameters come from the query string by their declared types,
// take their defaults, and keep their bounds.
func TestQueryParams(t *testing.T) {
	m, err := cuecompiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	p, err := Compile(m)
	require.NoError(t, err)
	q := p.Queries["open_carts"]
	got, vs := q.Params(map[string][]string{})
	require.Empty(t, vs)
	require.Equal(t, map[string]any{"limit": 20}, got)
	got, vs = q.Params(map[string][]string{"limit": {"5"}})
	require.Empty(t, vs)
	require.Equal(t, map[string]any{"limit": 5}, got)
	for _, bad := range []string{"0", "101", "x", "2.5"} {
		_, vs = q.Params(map[string][]string{"limit": {bad}})
		require.NotEmpty(t, vs, "limit=%s", bad)
		require.Equal(t, "/limit", vs[0].Pointer)
	}
	_, vs = q.Params(map[string][]string{"nope": {"1"}})
	require.NotEmpty(t, vs)
}
