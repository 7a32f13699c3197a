package rows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cuesource/cuesource/internal/projections/rows"
)

func TestBounded(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT a FROM t ORDER BY a":      "SELECT * FROM (SELECT a FROM t ORDER BY a\n) LIMIT 11",
		"SELECT a FROM t; -- fine":        "SELECT * FROM (SELECT a FROM t\n) LIMIT 11",
		"SELECT a FROM t -- no semicolon": "SELECT * FROM (SELECT a FROM t -- no semicolon\n) LIMIT 11",
		"SELECT ';' AS a FROM t":          "SELECT * FROM (SELECT ';' AS a FROM t\n) LIMIT 11",
	} {
		assert.Equal(t, want, rows.Bounded(in, 11), in)
	}
}

func TestAmplifiers(t *testing.T) {
	assert.Empty(t, rows.Amplifiers("SELECT printf('%d items', n), format('%s', 'printf(:x)'), replace(a, 'x', 'y') FROM t"))
	assert.Len(t, rows.Amplifiers("SELECT PRINTF('%*d', :w, 1), replace(a, 'x', upper(:r))"), 2)
}
