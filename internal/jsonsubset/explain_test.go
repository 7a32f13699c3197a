package jsonsubset

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/value"
)

// Violations words every keyword of the subset, at the place of the
// document that fails it, sorted by pointer and then message.
func TestViolations(t *testing.T) {
	for _, tc := range []struct{ schema, doc, want string }{
		{`{"type":"integer"}`, `2.5`, `: got number, want integer`},
		{`{"type":["string","null"]}`, `1`, `: got number, want null or string`},
		{`{"type":["number","integer"]}`, `"x"`, `: got string, want number`},
		{`{"enum":["a","b"]}`, `"c"`, `: value must be one of 'a', 'b'`},
		{`{"const":3}`, `4`, `: value must be 3`},
		{`{"const":{"a":1}}`, `4`, `: value must be one of the values the schema lists`},
		{`{"minimum":1}`, `0`, `: must be at least 1, got 0`},
		{`{"maximum":1.5}`, `2`, `: must be at most 1.5, got 2`},
		{`{"exclusiveMinimum":0}`, `0`, `: must be greater than 0, got 0`},
		{`{"exclusiveMaximum":10}`, `10`, `: must be less than 10, got 10`},
		{`{"maximum":1000000}`, `2000000`, `: must be at most 1000000, got 2000000`},
		{`{"multipleOf":0.1}`, `0.35`, `: must be a multiple of 0.1, got 0.35`},
		{`{"minLength":1}`, `""`, `: minLength: got 0, want 1`},
		{`{"maxLength":2}`, `"äöü"`, `: maxLength: got 3, want 2`},
		{`{"pattern":"^[A-Z]+$"}`, `"it's"`, `: 'it\'s' does not match pattern '^[A-Z]+$'`},
		{`{"minItems":1}`, `[]`, `: minItems: got 0, want 1`},
		{`{"maxItems":1}`, `[1,2]`, `: maxItems: got 2, want 1`},
		{`{"uniqueItems":true}`, `[1,2,1,2]`, `: items at 0 and 2 are equal`},
		{`{"items":{"type":"string"},"prefixItems":[{"type":"integer"}]}`, `["a",2,"c"]`, "/0: got string, want integer\n/1: got number, want string"},
		{`{"minProperties":1}`, `{}`, `: minProperties: got 0, want 1`},
		{`{"maxProperties":0}`, `{"a":1}`, `: maxProperties: got 1, want 0`},
		{`{"required":["b","a"]}`, `{}`, `: missing properties 'b', 'a'`},
		{`{"required":["a"]}`, `{}`, `: missing property 'a'`},
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"a":1,"z":1,"y":1}`, ": additional properties 'y', 'z' not allowed\n/a: got number, want string"},
		{`{"additionalProperties":{"type":"integer"}}`, `{"a/b":"x"}`, `/a~1b: got string, want integer`},
		{`{"patternProperties":{"^n":{"type":"integer"}}}`, `{"n1":"x","m":"x"}`, `/n1: got string, want integer`},
		{`{"propertyNames":{"maxLength":2}}`, `{"abc":1}`, `: invalid property name 'abc': maxLength: got 3, want 2`},
		{`{"not":{"type":"string"}}`, `"x"`, `: 'not' failed`},
		{`{"allOf":[{"minimum":1},{"maximum":0}]}`, `0.5`, "\n: must be at least 1, got 0.5\n: must be at most 0, got 0.5"[1:]},
		{`{"anyOf":[{"type":"null"},{"type":"string","minLength":1}]}`, `""`, `: got string, want null` + "\n" + `: minLength: got 0, want 1`},
		{`{"anyOf":[{"type":"null"},{"type":"string"}]}`, `"x"`, ``},
		{`{"oneOf":[{"minimum":0},{"maximum":5}]}`, `3`, `: 'oneOf' failed, subschemas 0, 1 matched`},
		{`{"oneOf":[{"minimum":10},{"maximum":5}]}`, `7`, ": must be at least 10, got 7\n: must be at most 5, got 7"},
		{`{"$defs":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/n"}}}`, `{"a":"x"}`, `/a: got string, want integer`},
		{`{"$defs":{"t":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/t"}}}}},"$ref":"#/$defs/t"}`, `{"kids":[{"kids":[1]}]}`, `/kids/0/kids/0: got number, want object`},
		{`{"properties":{"a":false}}`, `{"a":1}`, `/a: false schema`},
		{`{"type":"object","format":"email"}`, `{}`, ``},
		{`{"contains":{"type":"integer"}}`, `[]`, `: no items match contains schema`},
		{`{"contains":{"type":"integer"}}`, `["a",2]`, ``},
		{`{"contains":{"type":"integer"}}`, `["a",true]`, "/0: got string, want integer\n/1: got boolean, want integer"},
		{`{"contains":{"type":"integer"},"minContains":2}`, `[]`, `: min 2 items required to match contains schema, but none matched`},
		{`{"contains":{"type":"integer"},"maxContains":1}`, `[1,2]`, `: max 1 items required to match contains schema, but matched 2 items`},
		{`{"if":{"minimum":10},"then":{"multipleOf":5},"else":{"maximum":3}}`, `12`, `: must be a multiple of 5, got 12`},
		{`{"if":{"minimum":10},"then":{"multipleOf":5},"else":{"maximum":3}}`, `4`, `: must be at most 3, got 4`},
		{`{"then":{"multipleOf":5}}`, `4`, ``},
	} {
		s, err := Compile(decode(t, tc.schema))
		require.NoError(t, err, tc.schema)
		doc, err := value.Decode(json.RawMessage(tc.doc), value.Limits{MaxBytes: 1 << 20})
		require.NoError(t, err)
		var got []string
		for _, v := range s.Violations(doc) {
			got = append(got, v.Pointer+": "+v.Message)
		}
		require.Equal(t, tc.want, strings.Join(got, "\n"), "%s against %s", tc.doc, tc.schema)
		require.Equal(t, tc.want == "", s.Valid(doc), "%s against %s", tc.doc, tc.schema)
	}
}

// The boolean schemas: true accepts every document, false none.
func TestBool(t *testing.T) {
	require.Empty(t, Bool(true).Violations(map[string]any{}))
	require.Equal(t, []Violation{{Message: "false schema"}}, Bool(false).Violations(nil))
}
