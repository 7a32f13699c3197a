package interpreter

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rewritten member access behaves exactly as expr's own: same values,
// and an error where expr fails.
func TestFetchPatchKeepsSemantics(t *testing.T) {
	state := map[string]any{
		"items": map[string]any{"a": map[string]any{"qty": 2}},
		"list":  []any{10, 20, map[string]any{"x": "y"}},
		"s":     "text",
		"n":     nil,
		"deep":  map[string]any{"m": map[string]any{"k": []any{1, map[string]any{"z": true}}}},
	}
	for _, src := range []string{
		"state.items.a.qty",
		"state.items['a'].qty",
		"state.items.b",
		"state.items.b?.qty",
		"state.items.b?.qty.more",
		"state.items.b?.qty ?? 0",
		"(state.items.b?.qty)",
		"state.items.b.qty",
		"(state.items.b?.qty).more",
		"state.n.x",
		"state.n?.x",
		"state.n?.x.y.z",
		"state.list[0]",
		"state.list[-1].x",
		"state.list[5]",
		"state.list[1.0]",
		"state.s[1]",
		"state.deep.m.k[1].z",
		"state.deep?.m?.k[1]?.z",
		"state.missing",
		"state.missing.x",
		"meta.timestamp",
		"len(state.items)",
		"'a' in state.items",
		"map(state.list[0:2], # + 1)",
		"filter(values(state.items), .qty > 1)",
		"now().Year()",
		"{a: state.items.a}.a.qty",
		"[state.items][0].a.qty",
	} {
		t.Run(src, func(t *testing.T) {
			env := &Env{State: state, Meta: Meta{Timestamp: "2026-01-01T00:00:00Z"}}
			plain, err := expr.Compile(src, append(stdlib(), expr.Env(Env{}))...)
			require.NoError(t, err)
			patched, err := expr.Compile(src, append(append(stdlib(), fetchOptions()...), expr.Env(Env{}))...)
			require.NoError(t, err)
			want, wantErr := expr.Run(plain, env)
			got, gotErr := expr.Run(patched, env)
			assert.Equal(t, wantErr != nil, gotErr != nil, "errors: expr %v, patched %v", wantErr, gotErr)
			assert.Equal(t, want, got)
		})
	}
}

func TestFetchPatchApplies(t *testing.T) {
	p, err := expr.Compile("state.items.b?.qty.more", append(append(stdlib(), fetchOptions()...), expr.Env(Env{}))...)
	require.NoError(t, err)
	code := p.Disassemble()
	assert.Contains(t, code, fetchStrict)
	assert.Contains(t, code, fetchNil)
	assert.NotContains(t, code, "OpFetch\t")
}
