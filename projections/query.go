package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	sqlite "modernc.org/sqlite"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
)

// Query implements cuesource.ReadModels: it runs the named query on the query
// pool (Options.Queries), within the query time limit. Every named
// parameter the SQL uses is bound, from params or as NULL. Rows map result
// column names to values: integers, floats, strings, null, and for JSON
// projection columns the decoded JSON (a result column is JSON when it is
// a JSON column of a projection table selected directly, with or without
// an alias: SQLite reports its declared type).
//
// The result is bounded by the context's limits queryRows and queryBytes
// (the values' bytes, column names included): reading stops at the first
// row past either and the query fails with an *cuesource.LimitError, so neither
// a large result nor its JSON is ever held.
func (r *Runner) Query(ctx context.Context, name string, params map[string]any) ([]map[string]any, error) {
	q := r.prog.Queries[name]
	if q == nil {
		return nil, fmt.Errorf("%w query %q", cuesource.ErrUnknown, name)
	}
	lim := r.prog.Limits
	ps := rows.Params(q.SQL)
	args := make([]any, 0, len(ps))
	for _, p := range ps {
		args = append(args, sql.Named(p, rows.Bindable(params[p])))
	}
	qctx, cancel := context.WithTimeout(ctx, r.queryTimeout)
	defer cancel()
	fail := func(err error) error {
		switch {
		case ctx.Err() == nil && qctx.Err() != nil:
			return fmt.Errorf("query %s: %w", name, cuesource.ErrQueryTimeout)
		case sqliteCode(err) == sqliteTooBig:
			return &cuesource.LimitError{Query: name, Limit: "queryBytes", Max: lim.QueryBytes}
		}
		return fmt.Errorf("query %s: %w", name, cleanErr(err))
	}
	pool := r.queries
	if pool == nil {
		pool = r.st.Read()
	}
	conn, err := pool.Conn(qctx)
	if err != nil {
		return nil, fail(err)
	}
	defer conn.Close()
	if r.queries != nil {
		// SQLite itself refuses to build a string or blob over the limit
		// (printf('%.*c', ...), hex(...), || in a recursive CTE).
		if _, err := sqlite.Limit(conn, sqliteLimitLength, lim.QueryBytes); err != nil {
			return nil, fail(err)
		}
	}
	if h := testHookQuery.Load(); h != nil {
		(*h)(name)
	}
	rs, err := conn.QueryContext(qctx, q.SQL, args...)
	if err != nil {
		return nil, fail(err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, fail(err)
	}
	types, err := rs.ColumnTypes()
	if err != nil {
		return nil, fail(err)
	}
	isJSON := make([]bool, len(cols))
	for i, t := range types {
		isJSON[i] = strings.EqualFold(t.DatabaseTypeName(), rows.JSONType)
	}
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	out := []map[string]any{}
	size := 0
	for rs.Next() {
		if len(out) == lim.QueryRows {
			return nil, &cuesource.LimitError{Query: name, Limit: "queryRows", Max: lim.QueryRows}
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, fail(err)
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			size += len(c) + rows.Size(dest[i])
			m[c] = rows.ResultValue(dest[i], isJSON[i])
		}
		if size > lim.QueryBytes {
			return nil, &cuesource.LimitError{Query: name, Limit: "queryBytes", Max: lim.QueryBytes}
		}
		out = append(out, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// SQLite's limit category and result code (sqlite3.h).
const (
	sqliteLimitLength = 0  // SQLITE_LIMIT_LENGTH
	sqliteTooBig      = 18 // SQLITE_TOOBIG
)

// sqliteCode is the primary result code of an SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// testHookQuery, when set by a test, runs once a query holds its
// connection, before the statement runs.
var testHookQuery atomic.Pointer[func(name string)]

// cleanErr drops the driver's decoration ("SQL logic error: ... (1)") from
// an SQLite error.
func cleanErr(err error) error {
	if _, ok := err.(*sqlite.Error); !ok {
		return err
	}
	return fmt.Errorf("%s", cleanMsg(err.Error()))
}

func cleanMsg(msg string) string {
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	for _, p := range []string{"SQL logic error: ", "SQL logic error or missing database: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// CheckQueries checks every query of p as `cuesource vet` does: in a
// private in-memory SQLite database holding only the projection tables,
// each query must be one statement starting with SELECT or WITH, use
// named parameters only, prepare (so it names only existing tables and
// columns), read only projection tables, and run read-only with every
// parameter NULL. Errors are positioned at the query. Projections whose
// tables cannot be created (a clash of index names) are reported too.
func CheckQueries(p *interpreter.Program) diag.List {
	errs, _, _ := checkQueries(p)
	return errs
}

// QueryColumns are the result columns of every query that runs over
// empty projection tables, with the types SQL declares for them: what
// interpreter.CheckLookups types a command's query look-ups by.
func QueryColumns(p *interpreter.Program) (map[string][]interpreter.QueryColumn, diag.List) {
	errs, _, cols := checkQueries(p)
	return cols, errs
}

// QueryJSON names, per query, the result columns that are JSON projection
// columns selected directly: what Query decodes. A runtime whose database
// does not report declared types (D1) learns them from here at build time.
func QueryJSON(p *interpreter.Program) (map[string][]string, error) {
	errs, cols, _ := checkQueries(p)
	if len(errs) > 0 {
		return nil, errs
	}
	return cols, nil
}

func checkQueries(p *interpreter.Program) (diag.List, map[string][]string, map[string][]interpreter.QueryColumn) {
	var errs diag.List
	jsonCols := map[string][]string{}
	typed := map[string][]interpreter.QueryColumn{}
	if len(p.Queries) == 0 && len(p.Projections) == 0 {
		return nil, jsonCols, typed
	}
	ctx := context.Background()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		errs.Add(manifest.Pos{}, "checking queries: %v", err)
		return errs, nil, nil
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		errs.Add(manifest.Pos{}, "checking queries: %v", err)
		return errs, nil, nil
	}
	defer conn.Close()
	// What a query could build from literals alone is bounded here too.
	if _, err := sqlite.Limit(conn, sqliteLimitLength, 1<<20); err != nil {
		errs.Add(manifest.Pos{}, "checking queries: %v", err)
		return errs, nil, nil
	}
	tables := map[string]bool{}
	for _, name := range sortedKeys(p.Projections) {
		if err := create(ctx, conn, rows.NewTable(p.Projections[name])); err != nil {
			var pos manifest.Pos
			if mp, ok := p.Manifest.Projections[name]; ok {
				pos = mp.Pos
			}
			errs.Add(pos, "%s", cleanMsg(err.Error()))
			continue
		}
		tables[strings.ToLower(name)] = true
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		errs.Add(manifest.Pos{}, "checking queries: %v", err)
		return errs, nil, nil
	}
	// The authorizer sees what each statement does while it is prepared:
	// only reading projection tables is let through.
	var denied string
	auth := func(action sqlite.AuthorizerActionCode, arg1, arg2, dbName, _ string) sqlite.AuthorizerReturnCode {
		switch action {
		case sqlite.AuthSelect, sqlite.AuthRecursive:
			return sqlite.AuthorizerOK
		case sqlite.AuthFunction:
			if strings.EqualFold(arg2, "load_extension") {
				denied = "it calls load_extension"
				return sqlite.AuthorizerDeny
			}
			// Their argument alone chooses the size of the value they
			// make: one parameter could ask for gigabytes.
			if strings.EqualFold(arg2, "zeroblob") || strings.EqualFold(arg2, "randomblob") {
				denied = fmt.Sprintf("it calls %s, which builds a value of any size its argument asks for", strings.ToLower(arg2))
				return sqlite.AuthorizerDeny
			}
			return sqlite.AuthorizerOK
		case sqlite.AuthRead:
			if (dbName == "main" || dbName == "") && tables[strings.ToLower(arg1)] {
				return sqlite.AuthorizerOK
			}
			if denied == "" {
				denied = fmt.Sprintf("it reads %s, which is not a projection table", arg1)
			}
			return sqlite.AuthorizerDeny
		}
		if denied == "" {
			denied = "only SELECT over projection tables is allowed"
		}
		return sqlite.AuthorizerDeny
	}
	if err := setAuthorizer(conn, auth); err != nil {
		errs.Add(manifest.Pos{}, "checking queries: %v", err)
		return errs, nil, nil
	}
	defer setAuthorizer(conn, nil) //nolint:errcheck
	columns := map[string][]string{}
	for _, name := range sortedKeys(p.Queries) {
		q := p.Queries[name]
		msg, cols, all := checkQuery(ctx, conn, q, &denied)
		if msg != "" {
			errs.Add(q.Pos, "query %s: %s", name, msg)
		}
		if len(cols) > 0 {
			jsonCols[name] = cols
		}
		if msg == "" && all != nil { // nil: it did not run over empty tables
			typed[name] = all
			for _, c := range all {
				columns[name] = append(columns[name], c.Name)
			}
		}
	}
	checkScenarioRows(p, columns, &errs)
	errs.Sort()
	return errs, jsonCols, typed
}

func setAuthorizer(conn *sql.Conn, fn sqlite.AuthorizerFn) error {
	return conn.Raw(func(dc any) error {
		reg, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("the SQLite driver has no authorizer")
		}
		return reg.RegisterAuthorizer(fn)
	})
}

// checkScenarioRows checks that the rows a scenario expects of a query
// (then.query) list only columns its result has: only SQL knows them.
func checkScenarioRows(p *interpreter.Program, columns map[string][]string, errs *diag.List) {
	for _, s := range p.Manifest.Scenarios {
		for _, qt := range s.Then.Queries {
			cols, ok := columns[qt.Name]
			if !ok {
				continue // unknown, or failed: reported at itself
			}
			for i, raw := range qt.Rows {
				var row map[string]any
				_ = json.Unmarshal(raw, &row)
				pos := qt.Pos
				if i < len(qt.RowPos) {
					pos = qt.RowPos[i]
				}
				for _, k := range sortedKeys(row) {
					if !slices.Contains(cols, k) {
						errs.Add(pos, "the result of query %s has no column %s (it has %s)", qt.Name, k, strings.Join(cols, ", "))
					}
				}
			}
		}
	}
}

func checkQuery(ctx context.Context, conn *sql.Conn, q *interpreter.Query, denied *string) (msg string, jsonCols []string, columns []interpreter.QueryColumn) {
	sc := rows.Scan(q.SQL)
	switch {
	case sc.First != "SELECT" && sc.First != "WITH":
		return "only SELECT over projection tables is allowed (the query must start with SELECT or WITH)", nil, nil
	case sc.More:
		return "only one statement is allowed (remove what follows the ';')", nil, nil
	case sc.Positional:
		return "use named parameters (:name), not ? placeholders", nil, nil
	}
	for _, p := range sc.Params {
		if r, _ := utf8.DecodeRuneInString(p); !unicode.IsLetter(r) {
			return fmt.Sprintf("parameter :%s must start with a letter", p), nil, nil
		}
	}
	if msgs := rows.Amplifiers(q.SQL); len(msgs) > 0 {
		return msgs[0], nil, nil
	}
	*denied = ""
	st, err := conn.PrepareContext(ctx, q.SQL)
	if err != nil {
		if *denied != "" {
			return *denied, nil, nil
		}
		return cleanMsg(err.Error()), nil, nil
	}
	defer st.Close()
	// Run it with the parameters' defaults, NULL for the others: only a
	// write (which query_only refuses) is an error here; a value a
	// parameter cannot take (LIMIT NULL) is not.
	defaults, _ := q.Params(url.Values{})
	args := make([]any, 0, len(sc.Params))
	for _, p := range sc.Params {
		args = append(args, sql.Named(p, rows.Bindable(defaults[p])))
	}
	// Over empty tables a query ends at once, unless it makes its own rows
	// (a recursive CTE): a write shows at the first step, so a query
	// still running after a moment is stopped, not waited for.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rs, err := st.QueryContext(rctx, args...)
	if err == nil {
		if types, terr := rs.ColumnTypes(); terr == nil {
			for _, t := range types {
				columns = append(columns, interpreter.QueryColumn{Name: t.Name(), Decl: strings.ToUpper(t.DatabaseTypeName())})
				if strings.EqualFold(t.DatabaseTypeName(), rows.JSONType) {
					jsonCols = append(jsonCols, t.Name())
				}
			}
		}
		for rs.Next() {
		}
		err = rs.Err()
		rs.Close()
	}
	if err != nil && rctx.Err() == nil {
		if *denied != "" {
			return *denied, nil, nil
		}
		if msg := cleanMsg(err.Error()); strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only") {
			return "only SELECT over projection tables is allowed: " + msg, nil, nil
		}
	}
	return "", jsonCols, columns
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Row implements cuesource.RowReader: the row of projection name under
// key, nil when there is none.
func (r *Runner) Row(ctx context.Context, name, key string) (map[string]any, error) {
	p, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(p.t.Cols)+1)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = r.st.Read().QueryRowContext(ctx, p.t.SelectOne, key).Scan(ptrs...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("projection %s: %w", name, cleanErr(err))
	}
	row, err := p.t.Load(vals[1:])
	if err != nil {
		return nil, err
	}
	return p.t.Answer(key, row), nil
}

var _ cuesource.RowReader = (*Runner)(nil)
