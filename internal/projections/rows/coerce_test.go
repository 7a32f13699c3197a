package rows_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
)

// Values are checked against the column type when written, and kept as a
// reload from the table gives them back.
func TestCoerce(t *testing.T) {
	col := func(typ string) interpreter.Column { return interpreter.Column{Name: "c", Type: typ} }
	for _, c := range []struct {
		typ  string
		in   any
		want any
		enc  string
		err  string
	}{
		{typ: "INTEGER", in: 3, want: 3},
		{typ: "INTEGER", in: 3.0, want: 3},
		{typ: "INTEGER", in: 3.5, err: "INTEGER does not take the number 3.5"},
		{typ: "INTEGER", in: "3", err: `INTEGER does not take the string "3"`},
		{typ: "INTEGER", in: true, err: "INTEGER does not take the boolean true"},
		{typ: "INTEGER", in: math.Inf(1), err: "INTEGER does not take the number +Inf"},
		{typ: "REAL", in: 2, want: 2.0},
		{typ: "REAL", in: 2.5, want: 2.5},
		{typ: "REAL", in: math.Inf(-1), err: "REAL takes finite numbers, not -Inf"},
		{typ: "REAL", in: []any{}, err: "REAL does not take a list"},
		{typ: "TEXT", in: "x", want: "x"},
		{typ: "TEXT", in: 1, err: "TEXT does not take the number 1"},
		{typ: "TEXT", in: map[string]any{}, err: "TEXT does not take an object"},
		{typ: "JSON", in: map[string]any{"a": 2.0, "b": []any{"x", 1.5}}, want: map[string]any{"a": 2, "b": []any{"x", 1.5}}, enc: `{"a":2,"b":["x",1.5]}`},
		{typ: "JSON", in: "s", want: "s", enc: `"s"`},
		{typ: "JSON", in: nil},
		{typ: "INTEGER", in: nil},
		{typ: "TEXT", in: nil},
	} {
		got, err := rows.Coerce(col(c.typ), c.in)
		if c.err != "" {
			require.Error(t, err, "%s %v", c.typ, c.in)
			assert.Equal(t, c.err, err.Error())
			continue
		}
		require.NoError(t, err, "%s %v", c.typ, c.in)
		assert.Equal(t, c.want, got.Val, "%s %v", c.typ, c.in)
		assert.Equal(t, c.enc, got.Enc, "%s %v", c.typ, c.in)
	}
}
