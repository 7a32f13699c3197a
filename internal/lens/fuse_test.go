package lens

import (
	"testing"

	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/require"
)

func run(t *testing.T, steps []Step, in map[string]any) (string, any) {
	t.Helper()
	tree, err := Fuse(steps)
	require.NoError(t, err)
	src := tree.Node.String()
	prog, err := Compile(tree)
	require.NoError(t, err)
	out, err := vm.Run(prog, map[string]any{"event": in})
	require.NoError(t, err)
	return src, out
}

func TestFuseSubstitutesFieldsAndCarries(t *testing.T) {
	steps := []Step{
		{Fields: []Field{{"qty", "event.quantity"}}, Carry: []string{"sku", "qty"}},
		{Fields: []Field{{"price", "0"}}, Carry: []string{"sku", "qty", "price"}},
	}
	src, out := run(t, steps, map[string]any{"sku": "A", "quantity": 2})
	require.Equal(t, `let __lens0 = event; __lens_carry(2, "price", 0, "qty", __lens0.quantity, __lens0, ["sku"])`, src)
	require.Equal(t, map[string]any{"sku": "A", "qty": 2, "price": 0}, out)
	_, out = run(t, steps, map[string]any{"quantity": 2})
	require.Equal(t, map[string]any{"qty": 2, "price": 0}, out)
}

func TestFuseBindsRepeatedExpressionsOnce(t *testing.T) {
	steps := []Step{
		{Fields: []Field{{"n", "event.a * 10 + 1"}}},
		{Fields: []Field{{"x", "event.n + event.n"}, {"y", "len(event)"}}},
		{Whole: "{z: event.x, k: len(keys(event))}"},
	}
	src, out := run(t, steps, map[string]any{"a": 2})
	require.Equal(t, "let __lens0 = event; let __lens1 = __lens0.a * 10 + 1; let __lens2 = __lens1 + __lens1; {z: __lens2, k: len(keys({x: __lens2, y: len({n: __lens1})}))}", src)
	require.Equal(t, map[string]any{"z": 42, "k": 2}, out)
}
