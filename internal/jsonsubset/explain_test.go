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
		{`{"type":"integer"}`, `2.5`, `: must be an integer, got a number`},
		{`{"type":["string","null"]}`, `1`, `: must be null or a string, got a number`},
		{`{"type":["number","integer"]}`, `"x"`, `: must be a number, got a string`},
		{`{"enum":["a","b"]}`, `"c"`, `: must be one of 'a', 'b', got 'c'`},
		{`{"const":3}`, `4`, `: must be 3, got 4`},
		{`{"const":{"a":1}}`, `4`, `: must be one of the values the schema lists, got 4`},
		{`{"minimum":1}`, `0`, `: must be at least 1, got 0`},
		{`{"maximum":1.5}`, `2`, `: must be at most 1.5, got 2`},
		{`{"exclusiveMinimum":0}`, `0`, `: must be greater than 0, got 0`},
		{`{"exclusiveMaximum":10}`, `10`, `: must be less than 10, got 10`},
		{`{"maximum":1000000}`, `2000000`, `: must be at most 1000000, got 2000000`},
		{`{"multipleOf":0.1}`, `0.35`, `: must be a multiple of 0.1, got 0.35`},
		{`{"minLength":1}`, `""`, `: must have at least 1 character, got 0`},
		{`{"maxLength":2}`, `"äöü"`, `: must have at most 2 characters, got 3`},
		{`{"pattern":"^[A-Z]+$"}`, `"it's"`, `: must match '^[A-Z]+$', got 'it\'s'`},
		{`{"minItems":1}`, `[]`, `: must have at least 1 item, got 0`},
		{`{"maxItems":1}`, `[1,2]`, `: must have at most 1 item, got 2`},
		{`{"uniqueItems":true}`, `[1,2,1,2]`, `: must have unique items, got items 0 and 2 equal`},
		{`{"items":{"type":"string"},"prefixItems":[{"type":"integer"}]}`, `["a",2,"c"]`, "/0: must be an integer, got a string\n/1: must be a string, got a number"},
		{`{"minProperties":1}`, `{}`, `: must have at least 1 property, got 0`},
		{`{"maxProperties":0}`, `{"a":1}`, `: must have at most 0 properties, got 1`},
		{`{"required":["b","a"]}`, `{}`, `: must have the properties 'b', 'a'`},
		{`{"required":["a"]}`, `{}`, `: must have the property 'a'`},
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"a":1,"z":1,"y":1}`, ": must not have the properties 'y', 'z' (not declared)\n/a: must be a string, got a number"},
		{`{"additionalProperties":{"type":"integer"}}`, `{"a/b":"x"}`, `/a~1b: must be an integer, got a string`},
		{`{"patternProperties":{"^n":{"type":"integer"}}}`, `{"n1":"x","m":"x"}`, `/n1: must be an integer, got a string`},
		{`{"propertyNames":{"maxLength":2}}`, `{"abc":1}`, `: property name 'abc': must have at most 2 characters, got 3`},
		{`{"not":{"type":"string"}}`, `"x"`, `: must not match the schema under 'not'`},
		{`{"allOf":[{"minimum":1},{"maximum":0}]}`, `0.5`, "\n: must be at least 1, got 0.5\n: must be at most 0, got 0.5"[1:]},
		{`{"anyOf":[{"type":"null"},{"type":"string","minLength":1}]}`, `""`, `: must be null, got a string` + "\n" + `: must have at least 1 character, got 0`},
		{`{"anyOf":[{"type":"null"},{"type":"string"}]}`, `"x"`, ``},
		{`{"oneOf":[{"minimum":0},{"maximum":5}]}`, `3`, `: must match exactly one schema under 'oneOf', got 0 and 1`},
		{`{"oneOf":[{"minimum":10},{"maximum":5}]}`, `7`, ": must be at least 10, got 7\n: must be at most 5, got 7"},
		{`{"$defs":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/n"}}}`, `{"a":"x"}`, `/a: must be an integer, got a string`},
		{`{"$defs":{"t":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/t"}}}}},"$ref":"#/$defs/t"}`, `{"kids":[{"kids":[1]}]}`, `/kids/0/kids/0: must be an object, got a number`},
		{`{"properties":{"a":false}}`, `{"a":1}`, `/a: no value is allowed here`},
		{`{"type":"object","format":"email"}`, `{}`, ``},
		{`{"contains":{"type":"integer"}}`, `[]`, `: must have at least 1 item matching the schema under 'contains', got none`},
		{`{"contains":{"type":"integer"}}`, `["a",2]`, ``},
		{`{"contains":{"type":"integer"}}`, `["a",true]`, "/0: must be an integer, got a string\n/1: must be an integer, got a boolean"},
		{`{"contains":{"type":"integer"},"minContains":2}`, `[]`, `: must have at least 2 items matching the schema under 'contains', got none`},
		{`{"contains":{"type":"integer"},"maxContains":1}`, `[1,2]`, `: must have at most 1 item matching the schema under 'contains', got 2`},
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
	require.Equal(t, []Violation{{Message: "no value is allowed here"}}, Bool(false).Violations(nil))
}
