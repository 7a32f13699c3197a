package projections_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store/sqlite"
)

// withQueries adds queries to the bank context.
func withQueries(queries string) string {
	return strings.Replace(bank, "\tqueries: {\n", "\tqueries: {\n"+queries, 1)
}

// vet refuses the calls that let a request choose the size of a value.
func TestCheckQueriesRefusesAmplifiers(t *testing.T) {
	p := compile(t, withQueries(`
		zb: sql: "SELECT hex(zeroblob(:n)) AS x FROM accounts"
		rb: sql: "SELECT randomblob(:n) AS x"
		star: sql: "SELECT printf('%.*c', :n, 'x') AS x FROM accounts"
		fmt_param: sql: "SELECT format(:f, key) AS x FROM accounts"
		repl: sql: "SELECT replace(key, 'a', :r) AS x FROM accounts"
		fine: sql: "SELECT printf('%5.2f', balance) AS b, replace(key, 'a', 'b') AS k, substr(key, 1, :n) AS s FROM accounts"
`))
	got := map[string]string{}
	for _, e := range projections.CheckQueries(p) {
		name := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(e.Msg, "query "))[0], ":")
		got[name] = e.Msg
		assert.Equal(t, p.Queries[name].Pos, e.Pos, name)
	}
	assert.Equal(t, map[string]string{
		"zb":        "query zb: it calls zeroblob, which builds a value of any size its argument asks for",
		"rb":        "query rb: it calls randomblob, which builds a value of any size its argument asks for",
		"star":      "query star: printf's format has a '*' width or precision, which lets an argument choose the size of the value",
		"fmt_param": "query fmt_param: format needs a string literal as its format: a format from elsewhere can ask for a value of any size",
		"repl":      "query repl: replace's replacement is a parameter, which lets a request multiply the size of the value",
	}, got)
}

// limitsServer is the bank context behind the HTTP API, its queries on a
// pool of their own.
type limitsServer struct {
	svc *api.Service
	b   *native.Backend
	r   *projections.Runner
}

func newLimitsServer(t *testing.T, src string, readConns, queryConns int, timeout time.Duration) *limitsServer {
	t.Helper()
	p := compile(t, src)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bank.db"), sqlite.Options{Sync: sqlite.SyncNormal, ReadConns: readConns})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	qs, err := st.OpenQueries(context.Background(), queryConns)
	require.NoError(t, err)
	t.Cleanup(func() { qs.Close() })
	b := native.New(p, st, engine.Options{})
	t.Cleanup(b.Close)
	r := newRunner(t, p, st, projections.Options{Waiter: b, Queries: qs, QueryTimeout: timeout})
	return &limitsServer{svc: api.New(p, b, api.Options{ReadModels: r}), b: b, r: r}
}

func (s *limitsServer) do(method, path string, q url.Values, body string) api.Response {
	return s.svc.Serve(context.Background(), &api.Request{Method: method, Path: path, Query: q, Header: api.Header{"Content-Type": {"application/json"}}, Body: []byte(body)})
}

func problemKind(t *testing.T, resp api.Response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(resp.Body, &m), "%s", resp.Body)
	return m
}

// A query over the row or byte limit fails with a typed 422 naming the
// limit; SQLite refuses to build a value over the byte limit.
func TestQueryLimits(t *testing.T) {
	src := withQueries(`
		all: sql: "SELECT key, balance FROM accounts ORDER BY key"
		doubling: {
			sql: "WITH RECURSIVE r(s, i) AS (SELECT 'xxxxxxxx', 0 UNION ALL SELECT s || s, i + 1 FROM r WHERE i < :n) SELECT length(s) AS len, s FROM r ORDER BY i DESC LIMIT 1"
			#params: n: int & >=0 & <=40
		}
		padded: sql: "SELECT key, printf('%2000s', key) AS pad FROM accounts ORDER BY key"
	`)
	src = strings.Replace(src, `name: "bank"`, `name: "bank"
	limits: {queryRows: 3, queryBytes: 5000}`, 1)
	s := newLimitsServer(t, src, 0, 2, time.Minute)
	for _, id := range []string{"a1", "a2", "a3"} {
		require.Less(t, execute(t, s.b, id, "Open", `{}`).Status, 300)
	}
	resp := s.do(http.MethodGet, "/queries/all", nil, "")
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)

	require.Less(t, execute(t, s.b, "a4", "Open", `{}`).Status, 300)
	resp = s.do(http.MethodGet, "/queries/all", nil, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "%s", resp.Body)
	m := problemKind(t, resp)
	assert.Equal(t, "query_too_large", m["kind"])
	assert.Equal(t, "queryRows", m["limit"])
	assert.Equal(t, 3.0, m["max"])

	// Two rows of 2000 bytes fit, the third does not: the bytes are
	// counted while rows are read.
	resp = s.do(http.MethodGet, "/queries/padded", nil, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "%s", resp.Body)
	m = problemKind(t, resp)
	assert.Equal(t, "queryBytes", m["limit"])
	assert.Equal(t, 5000.0, m["max"])

	resp = s.do(http.MethodGet, "/queries/doubling", url.Values{"n": {"4"}}, "")
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	// 8 bytes doubled 40 times would be 8 TiB: SQLite stops building it
	// at the limit (SQLITE_TOOBIG), long before memory runs out.
	resp = s.do(http.MethodGet, "/queries/doubling", url.Values{"n": {"40"}}, "")
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "%s", resp.Body)
	assert.Equal(t, "queryBytes", problemKind(t, resp)["limit"])
}

// Slow queries that fill the query pool do not delay a command (which
// reads through the store's own pool), and end with a typed 503 once their
// time is up.
func TestSlowQueriesDoNotStarveCommands(t *testing.T) {
	src := withQueries(`
		forever: sql: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT MAX(i) AS c FROM n"
	`)
	const conns = 2
	s := newLimitsServer(t, src, conns, conns, 5*time.Second)
	holding := make(chan string, conns)
	projections.SetTestHookQuery(func(name string) { holding <- name })
	t.Cleanup(func() { projections.SetTestHookQuery(nil) })
	done := make(chan api.Response, conns)
	for range conns {
		go func() { done <- s.do(http.MethodGet, "/queries/forever", nil, "") }()
	}
	for range conns {
		<-holding // every connection of the query pool is held by a slow query
	}
	// As many commands on new instances as the store has read connections,
	// and then some: each loads its instance through the read pool.
	for _, id := range []string{"n1", "n2", "n3"} {
		resp := s.do(http.MethodPost, "/acct/"+id+"/Open", nil, `{}`)
		require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	}
	select {
	case r := <-done:
		t.Fatalf("a slow query ended before the commands were answered: %d %s", r.Status, r.Body)
	default:
	}
	for range conns {
		r := <-done
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
		assert.Equal(t, "query_timeout", problemKind(t, r)["kind"])
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
	}
}
