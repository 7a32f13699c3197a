package jsonsubset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/value"
)

// schemas covers every supported keyword, alone and combined the way the
// compiler combines them.
var schemas = map[string]string{
	"true":           `true`,
	"empty":          `{}`,
	"string":         `{"type":"string"}`,
	"string lengths": `{"type":"string","minLength":3,"maxLength":5}`,
	"not empty":      `{"type":"string","not":{"const":""}}`,
	"boolean":        `{"type":"boolean"}`,
	"null":           `{"type":"null"}`,
	"nullable":       `{"type":["string","null"]}`,
	"integer":        `{"type":"integer"}`,
	"int bounds":     `{"type":"integer","minimum":-3,"maximum":7}`,
	"int exclusive":  `{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":3}`,
	"int negative":   `{"type":"integer","maximum":-10}`,
	"int huge":       `{"type":"integer","minimum":9007199254740980}`,
	"number":         `{"type":"number"}`,
	"number excl":    `{"type":"number","exclusiveMinimum":0,"maximum":10000}`,
	"number tiny":    `{"type":"number","exclusiveMinimum":0.1,"exclusiveMaximum":0.2}`,
	"number point":   `{"type":"number","minimum":2.5,"maximum":2.5}`,
	"multipleOf":     `{"type":"integer","multipleOf":7,"minimum":10,"maximum":100}`,
	"multipleOf dec": `{"type":"number","multipleOf":0.01,"minimum":0.5,"maximum":3}`,
	"multipleOf two": `{"allOf":[{"type":"integer","multipleOf":4},{"multipleOf":6}]}`,
	"enum":           `{"enum":["a",1,2.5,null,true,{"k":[1]}]}`,
	"enum typed":     `{"type":"string","enum":["a",1,"b"]}`,
	"const":          `{"const":{"a":[1,"x"]}}`,
	"pattern":        `{"type":"string","pattern":"^[A-Z]{2}-\\d{3}(-[a-z]+)?$"}`,
	"pattern alt":    `{"type":"string","pattern":"^(red|green|blue)(/(light|dark))?$"}`,
	"pattern open":   `{"type":"string","pattern":"ab+c"}`,
	"pattern class":  `{"type":"string","pattern":"^[^a-z\\s]{1,4}\\.[\\w]*$"}`,
	"pattern dot":    `{"type":"string","pattern":"^x.y?$"}`,
	"pattern fold":   `{"type":"string","pattern":"(?i)^hello$"}`,
	"pattern long":   `{"type":"string","pattern":"^[A-Z0-9-]{3,20}$","minLength":15}`,
	"pattern short":  `{"type":"string","pattern":"^a+$","maxLength":2}`,
	"pattern pad":    `{"type":"string","pattern":"^ab","minLength":6}`,
	"two patterns":   `{"allOf":[{"type":"string","pattern":"^[a-z]+$"},{"pattern":"q"}]}`,
	"not pattern":    `{"type":"string","pattern":"^a","not":{"pattern":"z"},"minLength":2}`,
	"formats": `{"type":"object","additionalProperties":false,
		"required":["dt","d","t","e","u","uri","h","v4","v6"],
		"properties":{"dt":{"type":"string","format":"date-time"},"d":{"type":"string","format":"date"},
		"t":{"type":"string","format":"time"},"e":{"type":"string","format":"email"},
		"u":{"type":"string","format":"uuid"},"uri":{"type":"string","format":"uri"},
		"h":{"type":"string","format":"hostname"},"v4":{"type":"string","format":"ipv4"},
		"v6":{"type":"string","format":"ipv6"}}}`,
	"unknown format": `{"type":"string","format":"color"}`,
	"array":          `{"type":"array","items":{"type":"integer"}}`,
	"array bounds":   `{"type":"array","items":{"type":"string"},"minItems":2,"maxItems":4}`,
	"array unique":   `{"type":"array","items":{"enum":["a","b","c"]},"minItems":3,"uniqueItems":true}`,
	"array any":      `{"type":"array"}`,
	"tuple":          `{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"minItems":2,"maxItems":2}`,
	"tuple closed":   `{"type":"array","prefixItems":[{"type":"boolean"}],"items":false}`,
	"nested arrays":  `{"type":"array","items":{"type":"array","items":{"type":"number"},"minItems":1}}`,
	"cue list":       `{"allOf":[{"prefixItems":[true]},{"items":{"type":"integer"},"minItems":1,"type":"array"}]}`,
	"closed object": `{"type":"object","additionalProperties":false,
		"properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"boolean"}},"required":["a"]}`,
	"open object":  `{"type":"object","properties":{"a":{"type":"string"}}}`,
	"untyped obj":  `{"properties":{"a":{"type":"string"}},"required":["a"]}`,
	"map":          `{"type":"object","additionalProperties":{"type":"integer","minimum":0}}`,
	"map of maps":  `{"type":"object","additionalProperties":{"type":"object","additionalProperties":{"type":"string"}}}`,
	"pattern keys": `{"type":"object","patternProperties":{"^x-[a-z]+$":{"type":"string"}},"additionalProperties":false}`,
	"names":        `{"type":"object","propertyNames":{"pattern":"^[a-z]{3}$"},"additionalProperties":{"type":"boolean"}}`,
	"names enum":   `{"type":"object","propertyNames":{"enum":["red","green"]},"additionalProperties":{"type":"null"}}`,
	"min props":    `{"type":"object","properties":{"a":{},"b":{}},"minProperties":3}`,
	"max props":    `{"type":"object","additionalProperties":false,"properties":{"a":{},"b":{},"c":{}},"maxProperties":1}`,
	"allOf cue":    `{"allOf":[{"type":"number"},{"exclusiveMinimum":0,"maximum":100,"type":"integer"}]}`,
	"allOf objects": `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},
		{"properties":{"b":{"type":"integer"}},"required":["b"]}]}`,
	"anyOf":       `{"anyOf":[{"const":"a"},{"const":"b"},{"type":"integer"}]}`,
	"anyOf types": `{"anyOf":[{"type":"null"},{"type":"string","minLength":2}]}`,
	"anyOf objects": `{"anyOf":[{"type":"object","additionalProperties":false,"properties":{"x":{"type":"integer"}},"required":["x"]},
		{"type":"object","additionalProperties":false,"properties":{"y":{"type":"string"}},"required":["y"]}]}`,
	"anyOf dead": `{"anyOf":[{"type":"integer","minimum":5,"maximum":3},{"type":"string"}]}`,
	"oneOf":      `{"oneOf":[{"type":"integer"},{"type":"number","minimum":0}]}`,
	"oneOf objects": `{"type":"object","properties":{"kind":{"type":"string"}},"required":["kind"],
		"oneOf":[{"properties":{"kind":{"const":"a"},"n":{"type":"integer"}},"required":["n"]},
		{"properties":{"kind":{"const":"b"},"s":{"type":"string"}},"required":["s"]}]}`,
	"not":        `{"type":"integer","minimum":0,"maximum":3,"not":{"enum":[0,1]}}`,
	"not object": `{"type":"object","properties":{"a":{"type":"boolean"}},"not":{"required":["a"]}}`,
	"ref": `{"$defs":{"Line":{"type":"object","properties":{"sku":{"type":"string"}},"required":["sku"]}},
		"type":"object","properties":{"line":{"$ref":"#/$defs/Line"}},"required":["line"]}`,
	"ref siblings": `{"$defs":{"N":{"type":"integer","minimum":0}},"$ref":"#/$defs/N","maximum":5}`,
	"tree": `{"$defs":{"Node":{"type":"object","additionalProperties":false,
		"properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/Node"}}},"required":["name"]}},
		"$ref":"#/$defs/Node"}`,
	"list": `{"$defs":{"L":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/L"},{"type":"null"}]}},
		"required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/L"}`,
	"root ref":    `{"type":"object","properties":{"self":{"$ref":"#"}}}`,
	"escaped ref": `{"$defs":{"a/b~c":{"type":"boolean"}},"$ref":"#/$defs/a~1b~0c"}`,
	"annotations": `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"t","description":"d",
		"type":"object","properties":{"limit":{"type":"integer","default":20,"examples":[1],"minimum":1}}}`,
}

// validator compiles doc with santhosh-tekuri/jsonschema, formats asserted.
func validator(t *testing.T, doc any) *jsonschema.Schema {
	t.Helper()
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	res, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	require.NoError(t, c.AddResource("sample.json", res))
	s, err := c.Compile("sample.json")
	require.NoError(t, err)
	return s
}

// checkValid asserts v is valid and in value.Decode's representation.
func checkValid(t *testing.T, s *jsonschema.Schema, v any) {
	t.Helper()
	data, err := value.Encode(v)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	if err := s.Validate(inst); err != nil {
		t.Errorf("invalid document %s: %v", data, err)
	}
	back, err := value.Decode(data, value.Limits{})
	require.NoError(t, err)
	if !reflect.DeepEqual(back, v) {
		t.Errorf("document %s is not in value.Decode's representation: %#v", data, v)
	}
}

// checkSchema samples doc and draws from it, checking every document.
func checkSchema(t *testing.T, doc map[string]any) {
	t.Helper()
	s := validator(t, doc)
	got, err := Samples(doc, 8)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	seen := map[string]bool{}
	for _, v := range got {
		checkValid(t, s, v)
		key := encode(v)
		assert.False(t, seen[key], "duplicate sample %s", key)
		seen[key] = true
	}
	again, err := Samples(doc, 8)
	require.NoError(t, err)
	assert.Equal(t, got, again, "Samples is not deterministic")

	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		v, err := Random(doc, r)
		require.NoError(t, err)
		checkValid(t, s, v)
	}
}

func decode(t *testing.T, src string) map[string]any {
	t.Helper()
	var doc any
	require.NoError(t, json.Unmarshal([]byte(src), &doc))
	if b, ok := doc.(bool); ok { // a boolean schema at the top
		if b {
			return map[string]any{}
		}
		return map[string]any{"not": map[string]any{}}
	}
	return doc.(map[string]any)
}

func TestSchemas(t *testing.T) {
	for name, src := range schemas {
		t.Run(name, func(t *testing.T) { checkSchema(t, decode(t, src)) })
	}
}

// Every schema the compiler gives the example contexts, and the shapes in
// testdata that they do not use.
func TestManifestSchemas(t *testing.T) {
	for _, path := range []string{"../../contexts/example.cue", "../../contexts/tickets", "testdata/shapes.cue"} {
		m, err := compiler.Compile(path)
		require.NoError(t, err, path)
		for an, a := range m.Aggregates {
			raw := map[string]json.RawMessage{an + ".state": a.State}
			for cn, c := range a.Commands {
				raw[an+".commands."+cn] = c.Payload
			}
			for en, e := range a.Events {
				raw[an+".events."+en] = e.Payload
			}
			for name, data := range raw {
				t.Run(path+"/"+name, func(t *testing.T) {
					var doc map[string]any
					require.NoError(t, json.Unmarshal(data, &doc))
					checkSchema(t, doc)
				})
			}
		}
	}
}

func TestMinimalAndMaximal(t *testing.T) {
	doc := decode(t, schemas["closed object"])
	got, err := Samples(doc, 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, map[string]any{"a": ""}, got[0])
	assert.ElementsMatch(t, []string{"a", "b", "c"}, keys(got[1].(map[string]any)))

	got, err = Samples(decode(t, `{"type":"integer","minimum":3,"maximum":9}`), 2)
	require.NoError(t, err)
	assert.Equal(t, []any{3, 9}, got)

	got, err = Samples(decode(t, `{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":3}`), 2)
	require.NoError(t, err)
	assert.Equal(t, []any{[]any{false}, []any{true, true, true}}, got)

	got, err = Samples(decode(t, schemas["map"]), 2)
	require.NoError(t, err)
	assert.Empty(t, got[0])
	assert.Len(t, got[1], 2)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// type number yields integers (int) and fractions (float64) across samples.
func TestNumbersMixIntegersAndFractions(t *testing.T) {
	got, err := Samples(decode(t, `{"type":"number"}`), 6)
	require.NoError(t, err)
	var ints, floats int
	for _, v := range got {
		switch v.(type) {
		case int:
			ints++
		case float64:
			floats++
		}
	}
	assert.Positive(t, ints)
	assert.Positive(t, floats)
}

// The walk reaches every enum value and every branch.
func TestVariantsWalk(t *testing.T) {
	got, err := Samples(decode(t, `{"enum":["a","b","c","d"]}`), 10)
	require.NoError(t, err)
	assert.ElementsMatch(t, []any{"a", "b", "c", "d"}, got)

	got, err = Samples(decode(t, schemas["anyOf objects"]), 10)
	require.NoError(t, err)
	var x, y bool
	for _, v := range got {
		_, hasX := v.(map[string]any)["x"]
		x, y = x || hasX, y || !hasX
	}
	assert.True(t, x && y, "both branches: %v", got)
}

func TestUnsatisfiable(t *testing.T) {
	for _, tc := range []struct{ schema, err string }{
		{`{"type":"object","properties":{"n":{"type":"integer","minimum":5,"maximum":3}},"required":["n"]}`,
			`sample: #/properties/n: no number satisfies minimum 5 and maximum 3`},
		{`{"type":"number","exclusiveMinimum":1,"maximum":1}`,
			`sample: #: no number satisfies exclusiveMinimum 1 and maximum 1`},
		{`{"type":"integer","minimum":1.2,"maximum":1.8}`,
			`sample: #: no multiple of 1 satisfies minimum 1.2 and maximum 1.8`},
		{`{"type":"object","properties":{"s":{"type":"string","enum":[1,2]}},"required":["s"]}`,
			`sample: #/properties/s/enum: no enum or const value satisfies the other constraints`},
		{`{"type":"string","minLength":4,"maxLength":2}`,
			`sample: #: minLength 4 exceeds maxLength 2`},
		{`{"type":"string","pattern":"^a+$","minLength":2,"maxLength":3,"not":{"pattern":"^a"}}`,
			`sample: #: no generated value satisfies the schema (tried 8)`},
		{`{"type":"array","items":{"enum":[1]},"minItems":2,"uniqueItems":true}`,
			`sample: #: uniqueItems: no 2 distinct items found`},
		{`{"type":"array","prefixItems":[{}],"items":false,"minItems":2}`,
			`sample: #: minItems 2 exceeds the 1 items allowed`},
		{`{"type":"object","properties":{"a":false},"required":["a"]}`,
			`sample: #/properties/a: the schema is false: nothing satisfies it`},
		{`{"allOf":[{"type":"string"},{"type":"integer"}]}`,
			`sample: #: the types allowed by the schemas exclude each other`},
		{`{"type":"object","additionalProperties":false,"minProperties":1}`,
			`sample: #: no further property name found that the schema allows`},
		{`{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}},"required":["next"]}},"$ref":"#/$defs/N"}`,
			`sample: #/$defs/N/properties/next: recursion never ends: every document nests deeper than 32`},
	} {
		t.Run(tc.err, func(t *testing.T) {
			_, err := Samples(decode(t, tc.schema), 3)
			require.EqualError(t, err, tc.err)
			_, err = Random(decode(t, tc.schema), rand.New(rand.NewPCG(1, 1)))
			require.Error(t, err)
		})
	}
}

func TestUnsupported(t *testing.T) {
	for _, tc := range []struct{ schema, err string }{
		{`{"type":"object","properties":{"a":{"if":{"type":"string"},"then":{"minLength":1}}}}`,
			`sample: #/properties/a/if: keyword "if" is not supported`},
		{`{"type":"array","contains":{"type":"integer"}}`,
			`sample: #/contains: keyword "contains" is not supported`},
		{`{"$ref":"https://example.com/s.json"}`,
			`sample: #/$ref: only local references (#...) are supported, not "https://example.com/s.json"`},
		{`{"$ref":"#/$defs/Missing"}`,
			`sample: #/$ref: reference "#/$defs/Missing" does not resolve`},
		{`{"type":"strin"}`,
			`sample: #/type: type must be a JSON type name or a list of them`},
		{`{"type":"string","pattern":"(?<!a)b"}`,
			"sample: #/pattern: invalid pattern: error parsing regexp: invalid named capture: `(?<!a)b`"},
		{`{"items":[{"type":"string"}]}`,
			`sample: #/items: items must be a schema (tuples are prefixItems in 2020-12)`},
	} {
		t.Run(tc.err, func(t *testing.T) {
			_, err := Samples(decode(t, tc.schema), 3)
			require.EqualError(t, err, tc.err)
		})
	}
}

// Samples never hands out the schema's own maps: changing a document
// leaves the schema as it was.
func TestSamplesCopyEnumValues(t *testing.T) {
	doc := decode(t, schemas["const"])
	got, err := Samples(doc, 1)
	require.NoError(t, err)
	got[0].(map[string]any)["a"] = "changed"
	assert.Equal(t, decode(t, schemas["const"]), doc)
}

// Schemas decoded with UseNumber or by package value work the same.
func TestNumberRepresentations(t *testing.T) {
	src := `{"type":"integer","minimum":2,"maximum":4,"not":{"const":3}}`
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var viaNumber map[string]any
	require.NoError(t, dec.Decode(&viaNumber))
	viaValue := value.MustDecode([]byte(src)).(map[string]any)
	want, err := Samples(decode(t, src), 5)
	require.NoError(t, err)
	assert.Equal(t, []any{2, 4}, want)
	for _, doc := range []map[string]any{viaNumber, viaValue} {
		got, err := Samples(doc, 5)
		require.NoError(t, err)
		assert.Equal(t, want, got, fmt.Sprint(doc))
	}
}
