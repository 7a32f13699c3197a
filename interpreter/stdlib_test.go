package interpreter

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func eval(t *testing.T, src string, state any) (any, error) {
	t.Helper()
	prog, err := expr.Compile(src, append(stdlib(), expr.Env(Env{}))...)
	require.NoError(t, err)
	x := &expression{prog: prog}
	return x.run(&Env{State: state, Meta: Meta{Timestamp: "2026-02-03T04:05:06Z"}})
}

func TestStdlib(t *testing.T) {
	state := map[string]any{"m": map[string]any{"a": 1}, "l": []any{1, 2}}
	for _, tt := range []struct {
		src  string
		want any
	}{
		{"set(state.m, 'b', 2)", map[string]any{"a": 1, "b": 2}},
		{"set(state.none, 'b', 2)", map[string]any{"b": 2}},
		{"set(state.l, 1, 9)", []any{1, 9}},
		{"unset(state.m, 'a')", map[string]any{}},
		{"merge(state.m, {b: 2}, {a: 3})", map[string]any{"a": 3, "b": 2}},
		{"append(state.l, 3, 4)", []any{1, 2, 3, 4}},
		{"append(state.none, 1)", []any{1}},
		{"now().Year()", 2026},
		{"string(now())", "2026-02-03 04:05:06 +0000 UTC"},
		{"date('2026-02-03 10:00:00').Hour()", 10},
	} {
		t.Run(tt.src, func(t *testing.T) {
			got, err := eval(t, tt.src, state)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	// Nothing above may have changed the state.
	assert.Equal(t, map[string]any{"m": map[string]any{"a": 1}, "l": []any{1, 2}}, state)
}

func TestStdlibErrors(t *testing.T) {
	for src, msg := range map[string]string{
		"set(1, 'a', 2)":          "set: expects an object or a list, not a number",
		"set(state.m, 1, 2)":      "set: an object key must be a string",
		"set(state.l, 5, 0)":      "set: index 5 out of range for a list of 2",
		"merge(state.m, 'x')":     "merge: argument 2 is a string, not an object",
		"unset('x', 'a')":         "unset: expects an object, not a string",
		"append('x', 1)":          "append: expects a list, not a string",
		"len(map(1..1000000, #))": "memory budget exceeded",
	} {
		t.Run(src, func(t *testing.T) {
			_, err := eval(t, src, map[string]any{"m": map[string]any{}, "l": []any{1, 2}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), msg)
		})
	}
}
