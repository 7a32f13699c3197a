package rows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cuesource/cuesource/internal/projections/rows"
)

func TestScan(t *testing.T) {
	sc := rows.Scan(`
		-- a comment; with :notparam
		/* another ; :no */ with x AS (SELECT ':no' AS "a;b", [c:d], :one, @two, $three, :one) SELECT * FROM x WHERE y = :four;  -- end`)
	assert.Equal(t, "WITH", sc.First)
	assert.Equal(t, []string{"one", "two", "three", "four"}, sc.Params)
	assert.False(t, sc.Positional)
	assert.False(t, sc.More)
	sc = rows.Scan(`SELECT ?1; SELECT 2`)
	assert.True(t, sc.Positional)
	assert.True(t, sc.More)
	assert.Equal(t, "(", rows.Scan(`(SELECT 1)`).First)
	assert.Equal(t, []string{"a", "b"}, rows.Params(`SELECT :a, @b, $a`))
}

// D1 binds no names: named parameters become numbered ones, the same
// number each time a name is used, and nothing else changes.
func TestPositional(t *testing.T) {
	for _, c := range []struct {
		in, want string
		params   []string
	}{
		{
			in:     `SELECT * FROM t WHERE a = :a AND b = @b OR a > $a`,
			want:   `SELECT * FROM t WHERE a = ?1 AND b = ?2 OR a > ?1`,
			params: []string{"a", "b"},
		},
		{
			in:     `SELECT ':a', "x:a", [y:a], ` + "`z:a`" + `, 'it''s :a', :a -- :b` + "\n" + `/* :c */ FROM t LIMIT COALESCE(:limit, 10)`,
			want:   `SELECT ':a', "x:a", [y:a], ` + "`z:a`" + `, 'it''s :a', ?1 -- :b` + "\n" + `/* :c */ FROM t LIMIT COALESCE(?2, 10)`,
			params: []string{"a", "limit"},
		},
		{in: `SELECT :été, :a_1,:été`, want: `SELECT ?1, ?2,?1`, params: []string{"été", "a_1"}},
		{in: `SELECT 1 WHERE x = ':'`, want: `SELECT 1 WHERE x = ':'`},
		{in: `SELECT a: FROM t`, want: `SELECT a: FROM t`},
		{in: `SELECT 'unterminated :a`, want: `SELECT 'unterminated :a`},
	} {
		got, params := rows.Positional(c.in)
		assert.Equal(t, c.want, got, c.in)
		assert.Equal(t, c.params, params, c.in)
		assert.Equal(t, rows.Params(c.in), params, c.in)
	}
}

func TestResultValue(t *testing.T) {
	assert.Equal(t, 3, rows.ResultValue(int64(3), false))
	assert.Equal(t, "x", rows.ResultValue([]byte("x"), false))
	assert.Equal(t, `{"a":1}`, rows.ResultValue(`{"a":1}`, false))
	assert.Equal(t, map[string]any{"a": 1}, rows.ResultValue(`{"a":1}`, true))
	assert.Equal(t, "not json", rows.ResultValue("not json", true))
	assert.Equal(t, 2.5, rows.ResultValue(2.5, false))
	assert.Nil(t, rows.ResultValue(nil, true))
}
