package interpreter

import (
	"testing"

	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
)

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
