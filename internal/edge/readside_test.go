package edge

import (
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/store/d1"
)

// sqliteShell performs a script's D1 and projector operations as the
// shell does, on SQLite with the build's D1 migration: the statements Go
// asks for run as they are.
type sqliteShell struct {
	t     *testing.T
	db    *sql.DB
	c     *Core
	kicks int // catch-ups asked for (the projector object's alarm)
}

func newSQLiteShell(t *testing.T, c *Core) *sqliteShell {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "d1.db"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(string(d1.Migration()) + string(d1.MetaMigration()))
	require.NoError(t, err)
	return &sqliteShell{t: t, db: db, c: c}
}

// drive runs a script to its end, performing its operations, and answers
// its answer.
func (s *sqliteShell) drive(name string, input map[string]any) json.RawMessage {
	s.t.Helper()
	in, err := json.Marshal(input)
	require.NoError(s.t, err)
	out := s.c.Run(name, in, s.perform)
	require.NotContains(s.t, string(out), `"fault"`, "%s", out)
	return out
}

// project runs the projector as its object does: an action, then the
// catch-up, in one run.
func (s *sqliteShell) project(action, name string) Projected {
	s.t.Helper()
	var p Projected
	out := s.drive("project", map[string]any{"now": time.Now(), "action": action, "name": name})
	require.NoError(s.t, json.Unmarshal(out, &p))
	if p.CatchUp {
		s.kicks++
	}
	return p
}

func (s *sqliteShell) serve(method, path string, headers ...[2]string) WireResponse {
	s.t.Helper()
	if headers == nil {
		headers = [][2]string{}
	}
	out := s.drive("serve", map[string]any{"request": WireRequest{Method: method, Path: path, Headers: headers}, "now": time.Now(), "id": "r1"})
	var w WireResponse
	require.NoError(s.t, json.Unmarshal(out, &w))
	return w
}

func (s *sqliteShell) perform(op Op) Result {
	var v any
	var err error
	switch op.Kind {
	case "d1":
		v, err = s.query(op.Statement)
	case "batch":
		v, err = s.batch(op.Statements)
	case "projector":
		a, _ := op.Arg.(map[string]string)
		v = s.project(a["action"], a["name"])
	default:
		s.t.Fatalf("operation %s is not performed here", op.Kind)
	}
	if err != nil {
		return Result{Error: err.Error()}
	}
	b, err := json.Marshal(v)
	require.NoError(s.t, err)
	return Result{OK: b}
}

// params binds as D1 binds JavaScript numbers: an integral one is an
// integer.
func params(ps []any) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		if f, ok := p.(float64); ok && f == math.Trunc(f) {
			p = int64(f)
		}
		out[i] = p
	}
	return out
}

func scan(rs *sql.Rows) ([]string, [][]any, error) {
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	out := [][]any{}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rs.Err()
}

func (s *sqliteShell) query(st *Statement) (rawRows, error) {
	rs, err := s.db.Query(st.SQL, params(st.Params)...)
	if err != nil {
		return rawRows{}, err
	}
	cols, rows, err := scan(rs)
	return rawRows{Columns: cols, Rows: rows}, err
}

// batch runs statements in one transaction and answers each one's rows
// as objects, as D1's batch does.
func (s *sqliteShell) batch(sts []Statement) ([][]map[string]any, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out := [][]map[string]any{}
	for _, st := range sts {
		rs, err := tx.Query(st.SQL, params(st.Params)...)
		if err != nil {
			return nil, err
		}
		cols, rows, err := scan(rs)
		if err != nil {
			return nil, err
		}
		objs := []map[string]any{}
		for _, r := range rows {
			o := map[string]any{}
			for i, c := range cols {
				o[c] = r[i]
			}
			objs = append(objs, o)
		}
		out = append(out, objs)
	}
	return out, tx.Commit()
}

// forward writes events to the log as the forward script does.
func (s *sqliteShell) forward(evs ...wireEvent) {
	s.t.Helper()
	out := s.drive("forward", map[string]any{"events": evs})
	var f Forwarded
	require.NoError(s.t, json.Unmarshal(out, &f))
	require.Len(s.t, f.Positions, len(evs))
}

func ratiosCore(t *testing.T, edit func(string) string) *Core {
	t.Helper()
	return ratiosCoreWith(t, edit, Config{})
}

func ratiosCoreWith(t *testing.T, edit func(string) string, cfg Config) *Core {
	t.Helper()
	src, err := os.ReadFile("../../e2e/workerd/testdata/ratios.cue")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ratios.cue")
	require.NoError(t, os.WriteFile(path, []byte(edit(string(src))), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	c, err := New(data, cfg)
	require.NoError(t, err)
	withTestScripts(c)
	return c
}

func read(id string, version int64, by int) wireEvent {
	return wireEvent{ID: id, Aggregate: "meter", Instance: id[:1], Version: version, Type: "Read",
		Time: "2026-01-02T03:04:05.006Z", CommandID: "c-" + id, Payload: `{"by":` + strconv.Itoa(by) + `}`}
}

type statusBody struct {
	Projections []struct {
		Name, State, Hash string
		Position          int64
	} `json:"projections"`
}

func status(t *testing.T, s *sqliteShell) statusBody {
	t.Helper()
	w := s.serve("GET", "/projections")
	require.Equal(t, 200, w.Status, w.Body)
	var b statusBody
	require.NoError(t, json.Unmarshal([]byte(w.Body), &b), w.Body)
	require.Len(t, b.Projections, 1)
	return b
}

// A query before the projector ever ran answers the projection's rows,
// none, as natively: not D1's "no such table".
func TestQueryBeforeTheProjectionIsBuilt(t *testing.T) {
	c := ratiosCore(t, func(s string) string { return s })
	s := newSQLiteShell(t, c)
	w := s.serve("GET", "/queries/all_ratios")
	assert.Equal(t, 200, w.Status, w.Body)
	assert.JSONEq(t, `{"query":"all_ratios","rows":[]}`, answerRows(t, w.Body))
	// Events already in the log are applied by the catch-up it asked for.
	s.forward(read("a-1", 1, 4))
	w = s.serve("GET", "/queries/all_ratios")
	assert.JSONEq(t, `{"query":"all_ratios","rows":[]}`, answerRows(t, w.Body), "nothing applied yet: the table is empty, not missing")
	require.Equal(t, 1, s.kicks, "the query asked for a catch-up")
	s.project("", "")
	w = s.serve("GET", "/queries/all_ratios")
	assert.JSONEq(t, `{"query":"all_ratios","rows":[{"meter":"a","ratio":25,"reads":1}]}`, answerRows(t, w.Body))
}

// After a deploy that changes a projection, the first query (or status)
// has the projector reset it before answering, and asks for its rebuild:
// rows of the old definition are never served, and the status shows the
// rebuild (as natively), never "stale".
func TestQueryAfterAChangedDefinition(t *testing.T) {
	v1 := ratiosCore(t, func(s string) string { return s })
	s := newSQLiteShell(t, v1)
	s.forward(read("a-1", 1, 4), read("b-1", 1, 5), read("a-2", 2, 10))
	s.project("", "")
	assert.JSONEq(t, `{"query":"all_ratios","rows":[{"meter":"a","ratio":10,"reads":2},{"meter":"b","ratio":20,"reads":1}]}`, answerRows(t, s.serve("GET", "/queries/all_ratios").Body))
	old := status(t, s).Projections[0]
	assert.Equal(t, "running", old.State)

	// The deploy: the same D1, a changed definition.
	s.c = ratiosCore(t, func(s string) string { return strings.Replace(s, `"100 / event.by"`, `"1000 / event.by"`, 1) })
	st := status(t, s).Projections[0]
	assert.NotEqual(t, old.Hash, st.Hash, "the deployed definition's hash")
	assert.Equal(t, "rebuilding", st.State)
	assert.Zero(t, st.Position)
	during := s.serve("GET", "/queries/all_ratios").Body
	assert.JSONEq(t, `{"query":"all_ratios","rows":[]}`, answerRows(t, during), "no row of the old definition")
	assert.Contains(t, during, `"stale":true`, "the answer says its projection is rebuilding")
	require.Equal(t, 1, s.kicks, "the rebuild was asked for without a command")

	s.project("", "")
	st = status(t, s).Projections[0]
	assert.Equal(t, "running", st.State)
	assert.Equal(t, int64(3), st.Position)
	after := s.serve("GET", "/queries/all_ratios").Body
	assert.JSONEq(t, `{"query":"all_ratios","rows":[{"meter":"a","ratio":100,"reads":2},{"meter":"b","ratio":200,"reads":1}]}`, answerRows(t, after))
	assert.Contains(t, after, `"stale":false`)
}

// answerRows is a query's answer without what it says of its projections.
func answerRows(t *testing.T, body string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	require.Contains(t, m, "projections", body)
	delete(m, "projections")
	delete(m, "stale")
	out, _ := json.Marshal(m)
	return string(out)
}

// The admin route that reads one projection row (how `test --url` checks
// a scenario's then.projection) answers on the Worker as natively: the
// row under its key, null under a key without one, and the projection's
// status, which says how far the row holds the log.
func TestProjectionRowOnTheWorker(t *testing.T) {
	c := ratiosCoreWith(t, func(s string) string { return s }, Config{AdminToken: "adm"})
	s := newSQLiteShell(t, c)
	admin := [2]string{"Authorization", "Bearer adm"}
	s.forward(read("a-1", 1, 4), read("a-2", 2, 5))
	s.project("", "")
	w := s.serve("GET", "/admin/projections/ratios/rows/a", admin)
	require.Equal(t, 200, w.Status, w.Body)
	var body struct {
		Projection, Key string
		Row             map[string]any
		Status          struct {
			Name, State string
			Position    int64
		}
	}
	require.NoError(t, json.Unmarshal([]byte(w.Body), &body), w.Body)
	assert.Equal(t, "ratios", body.Projection)
	assert.Equal(t, "a", body.Key)
	assert.Equal(t, map[string]any{"key": "a", "ratio": 20.0, "reads": 2.0}, body.Row)
	assert.Equal(t, "running", body.Status.State)
	assert.Equal(t, int64(2), body.Status.Position)

	w = s.serve("GET", "/admin/projections/ratios/rows/b", admin)
	require.Equal(t, 200, w.Status, w.Body)
	assert.Contains(t, w.Body, `"row":null`)
	w = s.serve("GET", "/admin/projections/nope/rows/a", admin)
	assert.Equal(t, 404, w.Status)
	assert.Contains(t, w.Body, `"kind":"unknown_projection"`)
	w = s.serve("GET", "/admin/projections/ratios/rows/a")
	assert.Equal(t, 401, w.Status, "the admin token only")
}
