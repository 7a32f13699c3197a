package edge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store/d1"
)

// currentCheckpoints is the result of d1.CheckpointAll when every
// projection is built by its definition and at the head.
func currentCheckpoints(t *testing.T, c *Core) Result {
	t.Helper()
	rs := rawRows{Columns: []string{"name", "position", "hash", "state", "error", "error_position"}, Rows: [][]any{}}
	for _, name := range c.projectionNames() {
		rs.Rows = append(rs.Rows, []any{name, 0.0, c.prog.Projections[name].Hash, "running", "", 0.0})
	}
	b, err := json.Marshal(rs)
	require.NoError(t, err)
	return Result{OK: b}
}

// On Workers a query is bounded as natively: D1 is asked for one row more
// than queryRows, and a result over queryRows or queryBytes fails with the
// same 422 query_too_large.
func TestQueryLimitsOnD1(t *testing.T) {
	m, err := compiler.Compile("../../contexts/example.cue")
	require.NoError(t, err)
	m.Limits = manifest.Limits{QueryRows: 2, QueryBytes: 200}
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	c, err := New(data, Config{})
	require.NoError(t, err)
	withTestScripts(c)

	// head is the log's head, which an answer's projection state reads
	// before the rows.
	head := Result{OK: json.RawMessage(`{"columns":["head"],"rows":[[0]]}`)}
	query := func(rows [][]any) map[string]any {
		t.Helper()
		in := serveInput{Request: WireRequest{Method: "GET", Path: "/queries/open_carts"}}
		res, _ := json.Marshal(rawRows{Columns: []string{"cart", "customer", "due"}, Rows: rows})
		// The checkpoints first (every projection is built), the head,
		// then the rows.
		ops, out := runWith(t, c, "serve", in, currentCheckpoints(t, c), head, Result{OK: res})
		require.Equal(t, d1.CheckpointAll, ops[0].Statement.SQL)
		require.Equal(t, d1.Head, ops[1].Statement.SQL)
		require.Equal(t, "d1", ops[2].Kind)
		sql := ops[2].Statement.SQL
		assert.True(t, strings.HasPrefix(sql, "SELECT * FROM (SELECT key AS cart"), sql)
		assert.True(t, strings.HasSuffix(sql, "\n) LIMIT 3"), sql)
		var resp WireResponse
		require.NoError(t, json.Unmarshal(out, &resp))
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &body), resp.Body)
		body["status"] = float64(resp.Status)
		return body
	}
	body := query([][]any{{"c1", "ada", 1.0}, {"c2", "bob", 2.0}})
	assert.Equal(t, 200.0, body["status"], "%v", body)
	assert.Len(t, body["rows"], 2)
	assert.Equal(t, false, body["stale"])

	body = query([][]any{{"c1", "ada", 1.0}, {"c2", "bob", 2.0}, {"c3", "cy", 3.0}})
	assert.Equal(t, 422.0, body["status"])
	assert.Equal(t, "query_too_large", body["kind"])
	assert.Equal(t, "queryRows", body["limit"])

	body = query([][]any{{"c1", strings.Repeat("a", 300), 1.0}})
	assert.Equal(t, 422.0, body["status"])
	assert.Equal(t, "queryBytes", body["limit"])
}
