package rows_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

// A stored value reads back the same whether it comes from database/sql
// (native) or as JSON decoded by value.Decode (D1 in the Worker).
func TestFromSQL(t *testing.T) {
	col := func(typ string) interpreter.Column { return interpreter.Column{Name: "c", Type: typ} }
	for _, c := range []struct {
		typ    string
		native any    // as database/sql scans it
		json   string // as D1 gives it
		want   any
		enc    string
	}{
		{typ: "INTEGER", native: int64(3), json: `3`, want: 3},
		{typ: "INTEGER", native: int64(-7), json: `-7.0`, want: -7},
		{typ: "INTEGER", native: int64(1e15), json: `1e15`, want: 1000000000000000},
		{typ: "INTEGER", native: nil, json: `null`, want: nil},
		{typ: "REAL", native: 2.0, json: `2`, want: 2.0},
		{typ: "REAL", native: 2.5, json: `2.5`, want: 2.5},
		{typ: "REAL", native: int64(4), json: `4`, want: 4.0},
		{typ: "TEXT", native: []byte("x"), json: `"x"`, want: "x"},
		{typ: "TEXT", native: "", json: `""`, want: ""},
		{typ: "JSON", native: `{"a":2,"b":[1.5]}`, json: `"{\"a\":2,\"b\":[1.5]}"`, want: map[string]any{"a": 2, "b": []any{1.5}}, enc: `{"a":2,"b":[1.5]}`},
		{typ: "JSON", native: []byte(`"s"`), json: `"\"s\""`, want: "s", enc: `"s"`},
		{typ: "JSON", native: nil, json: `null`, want: nil},
	} {
		decoded, err := value.Decode([]byte(c.json), value.Limits{})
		require.NoError(t, err, c.json)
		for _, in := range []any{c.native, decoded} {
			got, enc, err := rows.FromSQL(col(c.typ), in)
			require.NoError(t, err, "%s %#v", c.typ, in)
			assert.Equal(t, c.want, got, "%s %#v", c.typ, in)
			assert.Equal(t, c.enc, enc, "%s %#v", c.typ, in)
		}
	}
	// A fraction in an INTEGER column (not written by a projection) stays
	// one, natively and from JSON alike.
	for _, in := range []any{2.5, value.MustDecode([]byte(`2.5`))} {
		got, _, err := rows.FromSQL(col("INTEGER"), in)
		require.NoError(t, err)
		assert.Equal(t, 2.5, got)
	}
	_, _, err := rows.FromSQL(col("JSON"), "{")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "column c: stored JSON")
}

// What an upsert binds, read back (natively or as JSON), is the row.
func TestValueRoundTrip(t *testing.T) {
	cols := []interpreter.Column{{Name: "i", Type: "INTEGER"}, {Name: "r", Type: "REAL"}, {Name: "t", Type: "TEXT"}, {Name: "j", Type: "JSON"}, {Name: "n", Type: "INTEGER"}}
	tbl := rows.NewTable(&interpreter.Projection{Name: "p", Columns: cols})
	r := &rows.Row{Vals: map[string]any{"i": 5, "r": 3.0, "t": "x", "j": []any{1, "a"}, "n": nil}, Enc: map[string]string{"j": `[1,"a"]`}}
	args := tbl.Args(nil, "k", r)
	assert.Equal(t, []any{"k", int64(5), 3.0, "x", `[1,"a"]`, nil}, args)
	native, err := tbl.Load(args[1:])
	require.NoError(t, err)
	assert.Equal(t, r, native)
	b, err := json.Marshal(args[1:])
	require.NoError(t, err)
	fromJSON, err := tbl.Load(value.MustDecode(b).([]any))
	require.NoError(t, err)
	assert.Equal(t, r, fromJSON)
}
