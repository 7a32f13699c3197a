package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/store"
)

// apply applies evs (consecutive positions, in order) to t within the
// transaction behind ts: the rows the events touch are read once, changed
// in memory (rows.Batch), and written back. It stops at the first event
// the projection fails on; the rows are left as the events before it made
// them. The returned error is a database error: the transaction must not
// commit.
//
// payloads, when not nil, holds the events' payloads decoded beforehand
// (by the reader of the batch), index for index.
func apply(ctx context.Context, ts *txStmts, t *rows.Table, evs []store.Event, payloads []rows.Decoded) (rows.Outcome, error) {
	b := rows.Prepare(t, evs, payloads)
	loaded := make(map[string]*rows.Row, len(b.Keys))
	if err := load(ctx, ts, t, b.Keys, loaded); err != nil {
		return rows.Outcome{Last: evs[0].Position - 1}, err
	}
	out := b.Apply(loaded)
	return out, flush(ctx, ts, t, b.Keys, loaded)
}

// load reads the rows of keys into loaded (a missing row is left out).
func load(ctx context.Context, ts *txStmts, t *rows.Table, keys []string, loaded map[string]*rows.Row) error {
	if len(keys) == 0 {
		return nil
	}
	st, err := ts.table(ctx, t)
	if err != nil {
		return err
	}
	if len(keys) < 4 {
		one, err := ts.prepare(ctx, &st.selectOne, t.SelectOne)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := scanRows(ctx, one, t, loaded, k); err != nil {
				return err
			}
		}
		return nil
	}
	many, err := ts.prepare(ctx, &st.selectMany, t.SelectMany)
	if err != nil {
		return err
	}
	args := make([]any, rows.ManyKeys)
	for i := 0; i < len(keys); i += rows.ManyKeys {
		chunk := keys[i:min(i+rows.ManyKeys, len(keys))]
		for j := range args {
			args[j] = chunk[min(j, len(chunk)-1)]
		}
		if err := scanRows(ctx, many, t, loaded, args...); err != nil {
			return err
		}
	}
	return nil
}

func scanRows(ctx context.Context, st *sql.Stmt, t *rows.Table, loaded map[string]*rows.Row, args ...any) error {
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("projection %s: read rows: %w", t.Def.Name, err)
	}
	defer rs.Close()
	dest := make([]any, len(t.Cols)+1)
	ptrs := make([]any, len(dest))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return fmt.Errorf("projection %s: read rows: %w", t.Def.Name, err)
		}
		key, _ := dest[0].(string)
		r, err := t.Load(dest[1:])
		if err != nil {
			return fmt.Errorf("projection %s: row %q: %w", t.Def.Name, key, err)
		}
		loaded[key] = r
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("projection %s: read rows: %w", t.Def.Name, err)
	}
	return nil
}

// flush writes the changed rows back: deletes one by one, upserts
// several rows per statement. A row is written whole, as the batch holds
// it (loaded, then changed by its events): the same as setting only the
// columns each handler named.
func flush(ctx context.Context, ts *txStmts, t *rows.Table, keys []string, loaded map[string]*rows.Row) error {
	st, err := ts.table(ctx, t)
	if err != nil {
		return err
	}
	width := 1 + len(t.Cols)
	args := make([]any, 0, width*t.ManyRows)
	write := func(many bool, args []any) error {
		query, p := t.Upsert, &st.upsert
		if many {
			query, p = t.UpsertMany, &st.upsertMany
		}
		up, err := ts.prepare(ctx, p, query)
		if err != nil {
			return err
		}
		if _, err := up.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("projection %s: write rows: %w", t.Def.Name, err)
		}
		return nil
	}
	for _, k := range keys {
		r := loaded[k]
		if !r.Dirty {
			continue
		}
		if r.Deleted {
			del, err := ts.prepare(ctx, &st.remove, t.Delete)
			if err != nil {
				return err
			}
			if _, err := del.ExecContext(ctx, k); err != nil {
				return fmt.Errorf("projection %s: delete row %q: %w", t.Def.Name, k, err)
			}
			continue
		}
		args = t.Args(args, k, r)
		if len(args) == width*t.ManyRows && t.ManyRows > 1 {
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

// txStmts are the statements of one write transaction. A batch of
// appends (group commit) runs every commit's hook in one transaction, so
// they share these. Statements the store prepared once on its write
// connection (shared) are only bound to the transaction; others are
// prepared in it.
type txStmts struct {
	tx     *sql.Tx
	shared map[string]*sql.Stmt
	tables map[*rows.Table]*tableStmts
	cp     struct{ get, advanceIf, set, fail *sql.Stmt }
}

type tableStmts struct {
	selectOne, selectMany, upsert, upsertMany, remove *sql.Stmt
}

func newTxStmts(tx *sql.Tx, shared map[string]*sql.Stmt) *txStmts {
	return &txStmts{tx: tx, shared: shared, tables: map[*rows.Table]*tableStmts{}}
}

func (ts *txStmts) table(_ context.Context, t *rows.Table) (*tableStmts, error) {
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
func statements(tables []*rows.Table) []string {
	out := []string{rows.CheckpointGet, rows.CheckpointAdvanceIf, rows.CheckpointSet, rows.CheckpointFail}
	for _, t := range tables {
		out = append(out, t.SelectOne, t.SelectMany, t.Upsert, t.UpsertMany, t.Delete)
	}
	return out
}

func (ts *txStmts) get(ctx context.Context, name string) (pos int64, state string, err error) {
	s, err := ts.prepare(ctx, &ts.cp.get, rows.CheckpointGet)
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
	s, err := ts.prepare(ctx, &ts.cp.advanceIf, rows.CheckpointAdvanceIf)
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
	s, err := ts.prepare(ctx, &ts.cp.set, rows.CheckpointSet)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, pos, state, now(), name); err != nil {
		return fmt.Errorf("projection %s: checkpoint: %w", name, err)
	}
	return nil
}

func (ts *txStmts) fail(ctx context.Context, name string, pos int64, f *rows.Failure) error {
	s, err := ts.prepare(ctx, &ts.cp.fail, rows.CheckpointFail)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, pos, f.Msg, f.Position, now(), name); err != nil {
		return fmt.Errorf("projection %s: record failure: %w", name, err)
	}
	return nil
}

func now() string { return rows.Stamp(time.Now()) }
