package interpreter

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnbounded(t *testing.T) {
	for _, tc := range []struct {
		src  string
		warn string // "" for none
	}{
		{"len(state.items) > 0 && all(state.lines, {.qty > 0})", ""},
		{"all(1..300, {all(1..300, {# > 0})})", ""},
		{"repeat('-', 3) + cmd.s", ""},
		{"cmd.s matches '^[a-z]+$'", ""},
		{"repeat(cmd.s, cmd.n)", "repeat(cmd.s, cmd.n) makes a string as long as its input says"},
		{"all(cmd.xs, {all(cmd.ys, {# > 0})})", "all over cmd.ys runs inside all over cmd.xs"},
		{"all(cmd.xs, {# in cmd.xs})", "searches cmd.xs inside all over cmd.xs"},
		{"len(1..cmd.n) > 0", "the range 1..cmd.n is as long as its input says"},
		{"cmd.s matches cmd.p", "the pattern cmd.p is compiled at every run"},
	} {
		tree, err := expr.Compile(tc.src, expr.Env(map[string]any{"cmd": map[string]any{}, "state": map[string]any{}}))
		require.NoError(t, err, tc.src)
		warns := unbounded(tree.Node())
		if tc.warn == "" {
			assert.Empty(t, warns, tc.src)
			continue
		}
		if assert.Len(t, warns, 1, tc.src) {
			assert.Contains(t, warns[0].msg, tc.warn, tc.src)
		}
	}
}
