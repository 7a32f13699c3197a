package jsonsubset

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/value"
)

// Valid and jsonschema agree on every document generated from the schemas
// of the example contexts, the shapes in testdata and the keyword table of
// the generator's tests: valid ones (samples), and ones broken in every
// way the test's generator knows (wrong types, bounds, patterns, missing
// and extra fields). Violations lists violations exactly when Valid is
// false, at the places jsonschema reports them: both runtimes word
// violations with it, and nothing else validates.
func TestValidAgreesWithJSONSchema(t *testing.T) {
	var raws []json.RawMessage
	for _, path := range []string{"../../contexts/example.cue", "../../contexts/tickets/tickets.cue", "testdata/shapes.cue"} {
		m, err := compiler.Compile(path)
		require.NoError(t, err)
		for _, a := range m.Aggregates {
			raws = append(raws, a.State)
			for _, c := range a.Commands {
				raws = append(raws, c.Payload)
			}
			for _, e := range a.Events {
				raws = append(raws, e.Payload)
			}
		}
	}
	// Every schema the compiler generates takes the fast path.
	for _, raw := range raws {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(raw, &doc))
		s, err := Compile(doc)
		require.NoError(t, err, "%s", raw)
		require.True(t, s.Decides(), "%s", raw)
	}
	// Keywords CUE generates that the generator's table leaves out.
	for _, src := range []string{
		`{"type":"array","items":{"type":"integer"},"contains":{"minimum":50}}`,
		`{"type":"array","contains":{"type":"string"},"minContains":2,"maxContains":3}`,
		`{"type":"array","contains":{"type":"integer"},"minContains":0,"maxContains":1}`,
		`{"type":"object","properties":{"kind":{"enum":["open","closed"]},"n":{"type":"integer"}},"if":{"properties":{"kind":{"const":"open"}}},"then":{"required":["n"]},"else":{"properties":{"n":{"maximum":0}}}}`,
		`{"type":"object","properties":{"a":{"type":"string","if":{"minLength":3},"then":{"pattern":"^[A-Z]"}},"b":{"type":"integer","if":{"minimum":10},"else":{"multipleOf":2}}}}`,
	} {
		raws = append(raws, json.RawMessage(src))
	}
	names := make([]string, 0, len(schemas))
	for name := range schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw, err := json.Marshal(decode(t, schemas[name]))
		require.NoError(t, err)
		raws = append(raws, raw)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	decided, valid, invalid := 0, 0, 0
	for i, raw := range raws {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(raw, &doc))
		s, err := Compile(doc)
		if err != nil || !s.Decides() {
			continue
		}
		decided++
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		d, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		url := "mem:///s" + strconv.Itoa(i) + ".json"
		require.NoError(t, c.AddResource(url, d))
		full, err := c.Compile(url)
		require.NoError(t, err)
		docs, _ := Samples(doc, 8)
		for range 400 {
			docs = append(docs, generate(rng, doc, 0))
		}
		for _, v := range docs {
			err := full.Validate(v)
			want := err == nil
			if got := s.Valid(v); got != want {
				b, _ := json.Marshal(v)
				t.Fatalf("schema %s\ndocument %s\nValid says %v, jsonschema says %v", raw, b, got, want)
			}
			vs := s.Violations(v)
			if got, want := pointers(vs), leafPointers(err); !slices.Equal(got, want) {
				b, _ := json.Marshal(v)
				t.Fatalf("schema %s\ndocument %s\nViolations at %q %v, jsonschema's at %q", raw, b, got, vs, want)
			}
			if want {
				valid++
			} else {
				invalid++
			}
		}
	}
	require.Greater(t, decided, 80, "the schemas must compile")
	require.Greater(t, valid, 3000, "too few valid documents generated")
	require.Greater(t, invalid, 3000, "too few invalid documents generated")
}

// pointers lists the distinct pointers of vs, sorted.
func pointers(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Pointer)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// leafPointers lists the distinct instance locations of the leaf errors
// of err, sorted, as the runtime listed them when jsonschema worded them.
func leafPointers(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if _, group := e.ErrorKind.(*jskind.Group); !group {
				out = append(out, value.Pointer(e.InstanceLocation))
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out)
}

// Decides is false where Valid may not answer as a 2020-12 validator.
func TestDecides(t *testing.T) {
	for src, want := range map[string]bool{
		`{"type":"string"}`: true,
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://example.com/s","type":"string"}`: true,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`:                                    false,
		`{"properties":{"a":{"$id":"https://example.com/a","type":"string"}}}`:                                     false,
	} {
		s, err := Compile(decode(t, src))
		require.NoError(t, err)
		require.Equal(t, want, s.Decides(), src)
	}
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
				ps, _ := ps.(map[string]any)
				out[k] = generate(rng, ps, depth+1)
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

// Valid is the runtime's fast path: it runs on every command payload, so
// it must not allocate.
func BenchmarkValid(b *testing.B) {
	m, err := compiler.Compile("../../contexts/example.cue")
	require.NoError(b, err)
	var schemas []*Schema
	var docs []any
	for _, a := range m.Aggregates {
		for _, c := range a.Commands {
			var doc map[string]any
			require.NoError(b, json.Unmarshal(c.Payload, &doc))
			s, err := Compile(doc)
			require.NoError(b, err)
			vs, err := Samples(doc, 1)
			require.NoError(b, err)
			schemas, docs = append(schemas, s), append(docs, vs[0])
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !schemas[i%len(schemas)].Valid(docs[i%len(docs)]) {
			b.Fatal("a sample is invalid")
		}
	}
}

// isMultiple agrees with big.Rat on the decimals the numbers are written
// as, signs, exponents far apart and divisors near 2^64 included.
func TestIsMultiple(t *testing.T) {
	nums := []float64{0, 0.3, 0.1, 1, 2, 2.5, 3, 10, 1e21, 1e-7, 0.0001, 100, 7.5, 1.1, 3.3, 9.99, 1e300, 1e-300,
		123456789012345678, 0.30000000000000004, 5e20, 1.5e19, 18446744073709551615, 4.35, 0.07}
	for _, f := range nums {
		for _, m := range nums {
			if m == 0 {
				continue
			}
			q, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
			d, _ := new(big.Rat).SetString(strconv.FormatFloat(m, 'g', -1, 64))
			want := q.Quo(q, d).IsInt()
			for _, sign := range []float64{1, -1} {
				require.Equal(t, want, isMultiple(sign*f, m), "%v multiple of %v", sign*f, m)
			}
		}
	}
}
