package projection

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// failure is a projection that could not apply the event at Position.
type failure struct {
	Position int64
	Msg      string
}

// outcome is what applying a run of events did.
type outcome struct {
	last int64    // the position of the last event applied (or passed over without a handler)
	fail *failure // the event after last, which could not be applied
}

// row is one projection row as an event batch sees it: loaded once, changed
// in memory by the batch's events, written back once at the end.
type row struct {
	vals    map[string]any    // every declared column; nil for NULL; nil map: no row
	enc     map[string]string // the stored text of the JSON columns in vals
	dirty   bool
	deleted bool
}

// work is one event of a batch, prepared for its handler.
type work struct {
	e   *store.Event
	h   *interpreter.Handler // nil: the projection does not handle the event
	env *interpreter.Env
	key string
}

// apply applies evs (consecutive positions, in order) to t within the
// transaction behind ts: the rows the events touch are read once, changed
// in memory, and written back. It stops at the first event the projection
// fails on; the rows are left as the events before it made them. The
// returned error is a database error: the transaction must not commit.
//
// payloads, when not nil, holds the events' payloads decoded beforehand
// (by the reader of the batch), index for index.
func apply(ctx context.Context, ts *txStmts, t *table, evs []store.Event, payloads []decoded) (outcome, error) {
	out := outcome{last: evs[0].Position - 1}
	ws := make([]work, 0, len(evs))
	var keyFail *failure
	var keys []string
	rows := map[string]*row{}
	for i := range evs {
		e := &evs[i]
		h := t.def.Handlers[e.Aggregate+"."+e.Type]
		if h == nil {
			ws = append(ws, work{e: e})
			continue
		}
		var payload any
		var err error
		if payloads != nil {
			payload, err = payloads[i].v, payloads[i].err
		} else {
			payload, err = decodePayload(e.Payload)
		}
		if err != nil {
			keyFail = fail(e, "payload: %v", err)
			break
		}
		env := &interpreter.Env{Event: payload, Meta: meta(e)}
		key, err := h.Key(env)
		if err != nil {
			keyFail = fail(e, "key: %v", err)
			break
		}
		if _, ok := rows[key]; !ok {
			rows[key] = &row{}
			keys = append(keys, key)
		}
		ws = append(ws, work{e: e, h: h, env: env, key: key})
	}
	if err := load(ctx, ts, t, keys, rows); err != nil {
		return out, err
	}
	for _, w := range ws {
		if w.h == nil {
			out.last = w.e.Position
			continue
		}
		r := rows[w.key]
		if w.h.Delete {
			r.vals, r.enc, r.deleted, r.dirty = nil, nil, true, true
			out.last = w.e.Position
			continue
		}
		// A row that exists has every column (nil for NULL), as a reload
		// gives it; a new one is {}.
		if r.vals == nil {
			w.env.Row = map[string]any{}
		} else {
			w.env.Row = r.vals
		}
		vals, err := w.h.Values(w.env)
		if err != nil {
			out.fail = fail(w.e, "%v", err)
			break
		}
		changes := make([]change, 0, len(vals))
		for _, col := range t.cols { // in column order: the first bad one is reported
			v, ok := vals[col.Name]
			if !ok {
				continue
			}
			c, err := coerce(col, v)
			if err != nil {
				out.fail = fail(w.e, "column %s: %v", col.Name, err)
				break
			}
			changes = append(changes, c)
		}
		if out.fail == nil && len(changes) != len(vals) {
			for name := range vals {
				if _, ok := t.column(name); !ok {
					out.fail = fail(w.e, "projection %s has no column %s", t.def.Name, name)
				}
			}
		}
		if out.fail != nil {
			break
		}
		if r.vals == nil {
			r.vals = make(map[string]any, len(t.cols))
			for _, c := range t.cols {
				r.vals[c.Name] = nil
			}
		}
		for _, c := range changes {
			r.vals[c.col.Name] = c.val
			if c.col.Type == "JSON" {
				if r.enc == nil {
					r.enc = map[string]string{}
				}
				r.enc[c.col.Name] = c.enc
			}
		}
		r.deleted, r.dirty = false, true
		out.last = w.e.Position
	}
	if out.fail == nil {
		out.fail = keyFail
	}
	return out, flush(ctx, ts, t, keys, rows)
}

func fail(e *store.Event, format string, args ...any) *failure {
	return &failure{Position: e.Position, Msg: fmt.Sprintf("%s.%s at position %d: ", e.Aggregate, e.Type, e.Position) + fmt.Sprintf(format, args...)}
}

// decoded is a payload decoded ahead of apply.
type decoded struct {
	v   any
	err error
}

// decodeAll decodes the payloads of the events t handles.
func decodeAll(t *table, evs []store.Event) []decoded {
	out := make([]decoded, len(evs))
	for i := range evs {
		if t.def.Handlers[evs[i].Aggregate+"."+evs[i].Type] != nil {
			out[i].v, out[i].err = decodePayload(evs[i].Payload)
		}
	}
	return out
}

// decodePayload decodes an event's payload as it was written: the limits
// only guard against a corrupt log.
func decodePayload(b []byte) (any, error) {
	return value.Decode(b, value.Limits{MaxBytes: max(len(b), value.DefaultMaxBytes), MaxDepth: 512})
}

// meta is what expressions see as `meta` for a recorded event.
func meta(e *store.Event) interpreter.Meta {
	return interpreter.Meta{
		Aggregate: e.Aggregate, AggregateID: e.Instance, Version: int(e.Version),
		CommandID: e.CommandID, EventID: e.ID, EventType: e.Type, Position: int(e.Position),
		Timestamp: e.Time.UTC().Format(time.RFC3339Nano),
	}
}

func (t *table) column(name string) (interpreter.Column, bool) {
	for _, c := range t.cols {
		if c.Name == name {
			return c, true
		}
	}
	return interpreter.Column{}, false
}

// change is one column value, checked and in the form a reload from the
// table would give.
type change struct {
	col interpreter.Column
	val any    // int, float64, string, decoded JSON or nil
	enc string // JSON columns: the stored text
}

// coerce checks v against the column's type and returns it as the table
// will give it back: INTEGER takes integral numbers, REAL numbers, TEXT
// strings, JSON anything (normalised by an encode/decode round trip); null
// fits every column.
func coerce(col interpreter.Column, v any) (change, error) {
	c := change{col: col}
	if v == nil {
		return c, nil
	}
	switch col.Type {
	case "INTEGER":
		switch x := v.(type) {
		case int:
			c.val = x
			return c, nil
		case float64:
			if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
				c.val = int(x)
				return c, nil
			}
		}
	case "REAL":
		switch x := v.(type) {
		case int:
			c.val = float64(x)
			return c, nil
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				c.val = x
				return c, nil
			}
			return c, fmt.Errorf("REAL takes finite numbers, not %v", x)
		}
	case "TEXT":
		if s, ok := v.(string); ok {
			c.val = s
			return c, nil
		}
	case "JSON":
		b, err := value.Encode(v)
		if err != nil {
			return c, fmt.Errorf("cannot be stored as JSON: %v", err)
		}
		c.enc = string(b)
		if c.val, err = decodePayload(b); err != nil {
			return c, fmt.Errorf("cannot be stored as JSON: %v", err)
		}
		return c, nil
	default:
		return c, fmt.Errorf("unknown column type %s", col.Type)
	}
	return c, fmt.Errorf("%s does not take %s", col.Type, describe(v))
}

// describe names a value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", trim(x))
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int, float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// load reads the rows of keys into rows (a missing row stays empty).
func load(ctx context.Context, ts *txStmts, t *table, keys []string, rows map[string]*row) error {
	if len(keys) == 0 {
		return nil
	}
	st, err := ts.table(ctx, t)
	if err != nil {
		return err
	}
	if len(keys) < 4 {
		one, err := ts.prepare(ctx, &st.selectOne, t.selectOne)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := scanRows(ctx, one, t, rows, k); err != nil {
				return err
			}
		}
		return nil
	}
	many, err := ts.prepare(ctx, &st.selectMany, t.selectMany)
	if err != nil {
		return err
	}
	args := make([]any, manyKeys)
	for i := 0; i < len(keys); i += manyKeys {
		chunk := keys[i:min(i+manyKeys, len(keys))]
		for j := range args {
			args[j] = chunk[min(j, len(chunk)-1)]
		}
		if err := scanRows(ctx, many, t, rows, args...); err != nil {
			return err
		}
	}
	return nil
}

func scanRows(ctx context.Context, st *sql.Stmt, t *table, rows map[string]*row, args ...any) error {
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("projection %s: read rows: %w", t.def.Name, err)
	}
	defer rs.Close()
	dest := make([]any, len(t.cols)+1)
	ptrs := make([]any, len(dest))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return fmt.Errorf("projection %s: read rows: %w", t.def.Name, err)
		}
		key, _ := dest[0].(string)
		r := rows[key]
		if r == nil {
			continue
		}
		r.vals = make(map[string]any, len(t.cols))
		for i, c := range t.cols {
			v, enc, err := fromSQL(c, dest[i+1])
			if err != nil {
				return fmt.Errorf("projection %s: row %q: %w", t.def.Name, key, err)
			}
			r.vals[c.Name] = v
			if enc != "" {
				if r.enc == nil {
					r.enc = map[string]string{}
				}
				r.enc[c.Name] = enc
			}
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("projection %s: read rows: %w", t.def.Name, err)
	}
	return nil
}

// fromSQL converts a stored column value to what expressions see.
func fromSQL(c interpreter.Column, v any) (any, string, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, "", nil
	}
	switch c.Type {
	case "INTEGER":
		switch x := v.(type) {
		case int64:
			return int(x), "", nil
		case float64:
			return x, "", nil
		}
	case "REAL":
		switch x := v.(type) {
		case int64:
			return float64(x), "", nil
		case float64:
			return x, "", nil
		}
	case "JSON":
		if s, ok := v.(string); ok {
			d, err := decodePayload([]byte(s))
			if err != nil {
				return nil, "", fmt.Errorf("column %s: stored JSON: %w", c.Name, err)
			}
			return d, s, nil
		}
	}
	return v, "", nil
}

// flush writes the changed rows back: deletes one by one, upserts
// several rows per statement. A row is written whole, as the batch holds
// it (loaded, then changed by its events): the same as setting only the
// columns each handler named.
func flush(ctx context.Context, ts *txStmts, t *table, keys []string, rows map[string]*row) error {
	st, err := ts.table(ctx, t)
	if err != nil {
		return err
	}
	width := 1 + len(t.cols)
	args := make([]any, 0, width*t.manyRows)
	write := func(many bool, args []any) error {
		query, p := t.upsert, &st.upsert
		if many {
			query, p = t.upsertMany, &st.upsertMany
		}
		up, err := ts.prepare(ctx, p, query)
		if err != nil {
			return err
		}
		if _, err := up.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("projection %s: write rows: %w", t.def.Name, err)
		}
		return nil
	}
	for _, k := range keys {
		r := rows[k]
		if !r.dirty {
			continue
		}
		if r.deleted {
			del, err := ts.prepare(ctx, &st.remove, t.remove)
			if err != nil {
				return err
			}
			if _, err := del.ExecContext(ctx, k); err != nil {
				return fmt.Errorf("projection %s: delete row %q: %w", t.def.Name, k, err)
			}
			continue
		}
		args = append(args, k)
		for _, c := range t.cols {
			args = append(args, toSQL(c, r, r.vals[c.Name]))
		}
		if len(args) == width*t.manyRows && t.manyRows > 1 {
			if err := write(true, args); err != nil {
				return err
			}
			args = args[:0]
		}
	}
	for i := 0; i < len(args); i += width {
		if err := write(false, args[i:i+width]); err != nil {
			return err
		}
	}
	return nil
}

func toSQL(c interpreter.Column, r *row, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		if c.Type == "INTEGER" {
			return int64(x)
		}
	}
	if c.Type == "JSON" {
		return r.enc[c.Name]
	}
	return v
}

// txStmts are the statements of one write transaction. A batch of
// appends (group commit) runs every commit's hook in one transaction, so
// they share these. Statements the store prepared once on its write
// connection (shared) are only bound to the transaction; others are
// prepared in it.
type txStmts struct {
	tx     *sql.Tx
	shared map[string]*sql.Stmt
	tables map[*table]*tableStmts
	cp     struct{ get, advanceIf, set, fail *sql.Stmt }
}

type tableStmts struct {
	selectOne, selectMany, upsert, upsertMany, remove *sql.Stmt
}

func newTxStmts(tx *sql.Tx, shared map[string]*sql.Stmt) *txStmts {
	return &txStmts{tx: tx, shared: shared, tables: map[*table]*tableStmts{}}
}

func (ts *txStmts) table(_ context.Context, t *table) (*tableStmts, error) {
	st := ts.tables[t]
	if st == nil {
		st = &tableStmts{}
		ts.tables[t] = st
	}
	return st, nil
}

// prepare returns query's statement in the transaction, keeping it in *p.
func (ts *txStmts) prepare(ctx context.Context, p **sql.Stmt, query string) (*sql.Stmt, error) {
	if *p != nil {
		return *p, nil
	}
	if s := ts.shared[query]; s != nil {
		*p = ts.tx.StmtContext(ctx, s)
		return *p, nil
	}
	s, err := ts.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("projection: prepare %q: %w", query, err)
	}
	*p = s
	return s, nil
}

// statements lists the SQL a runner runs in write transactions, for a
// store that prepares them once.
func statements(tables []*table) []string {
	out := []string{cpGet, cpAdvanceIf, cpSet, cpFail}
	for _, t := range tables {
		out = append(out, t.selectOne, t.selectMany, t.upsert, t.upsertMany, t.remove)
	}
	return out
}

// Checkpoint statements.
const (
	cpGet       = `SELECT position, state FROM projections WHERE name = ?`
	cpAdvanceIf = `UPDATE projections SET position = ?, state = 'running', updated = ? WHERE name = ? AND position = ? AND state <> 'failed'`
	cpSet       = `UPDATE projections SET position = ?, state = ?, updated = ? WHERE name = ?`
	cpFail      = `UPDATE projections SET position = ?, state = 'failed', error = ?, error_position = ?, updated = ? WHERE name = ?`
)

func (ts *txStmts) get(ctx context.Context, name string) (pos int64, state string, err error) {
	s, err := ts.prepare(ctx, &ts.cp.get, cpGet)
	if err != nil {
		return 0, "", err
	}
	err = s.QueryRowContext(ctx, name).Scan(&pos, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("projection %s: no checkpoint", name)
	}
	return pos, state, err
}

// advanceIf moves the checkpoint from `from` to `to` if it is at `from`
// and not failed, and reports whether it did.
func (ts *txStmts) advanceIf(ctx context.Context, name string, from, to int64) (bool, error) {
	s, err := ts.prepare(ctx, &ts.cp.advanceIf, cpAdvanceIf)
	if err != nil {
		return false, err
	}
	res, err := s.ExecContext(ctx, to, now(), name, from)
	if err != nil {
		return false, fmt.Errorf("projection %s: checkpoint: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (ts *txStmts) set(ctx context.Context, name string, pos int64, state string) error {
	s, err := ts.prepare(ctx, &ts.cp.set, cpSet)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, pos, state, now(), name); err != nil {
		return fmt.Errorf("projection %s: checkpoint: %w", name, err)
	}
	return nil
}

func (ts *txStmts) fail(ctx context.Context, name string, pos int64, f *failure) error {
	s, err := ts.prepare(ctx, &ts.cp.fail, cpFail)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, pos, f.Msg, f.Position, now(), name); err != nil {
		return fmt.Errorf("projection %s: record failure: %w", name, err)
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
