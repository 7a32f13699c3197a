package projection

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/cuesource/cuesource/interpreter"
)

// Projection states as stored in the checkpoint table.
const (
	StateRunning    = "running"
	StateRebuilding = "rebuilding"
	StateFailed     = "failed"
	// StateNew and StateStale are only reported by a runner that was not
	// started (the offline `cuesource projections status`): a projection
	// never built, and one whose stored definition hash differs from the
	// context's (the next start rebuilds it).
	StateNew   = "new"
	StateStale = "stale"
)

// checkpointDDL creates the checkpoint table.
const checkpointDDL = `CREATE TABLE IF NOT EXISTS projections (
	name           TEXT    NOT NULL PRIMARY KEY,
	position       INTEGER NOT NULL DEFAULT 0,
	hash           TEXT    NOT NULL,
	state          TEXT    NOT NULL,
	error          TEXT,
	error_position INTEGER,
	updated        TEXT    NOT NULL
) STRICT`

// jsonType is the declared SQL type of a JSON column: TEXT affinity (the
// type name contains TEXT), and a name queries' result columns can be
// recognised by (decltype), so Query decodes them.
const jsonType = "JSON_TEXT"

// quote returns an SQL identifier in double quotes.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// sqlType is the declared SQL type of a column.
func sqlType(t string) string {
	if t == "JSON" {
		return jsonType
	}
	return t
}

// table is a projection with the SQL that reads and writes its rows.
type table struct {
	def     *interpreter.Projection
	name    string // quoted
	cols    []interpreter.Column
	colList string // "key", "c1", ... quoted, comma separated

	selectOne, selectMany, upsert, upsertMany, remove string
	// manyRows is how many rows upsertMany writes.
	manyRows int
}

// manyKeys is how many keys one batched row read binds; fewer keys are
// padded by repeating the last.
const manyKeys = 64

func newTable(p *interpreter.Projection) *table {
	t := &table{def: p, name: quote(p.Name), cols: p.Columns}
	names := []string{"key"}
	for _, c := range p.Columns {
		names = append(names, quote(c.Name))
	}
	t.colList = strings.Join(names, ", ")
	t.selectOne = fmt.Sprintf("SELECT %s FROM %s WHERE key = ?", t.colList, t.name)
	t.selectMany = fmt.Sprintf("SELECT %s FROM %s WHERE key IN (?%s)", t.colList, t.name, strings.Repeat(", ?", manyKeys-1))
	var sets []string
	for _, c := range p.Columns {
		sets = append(sets, fmt.Sprintf("%s = excluded.%s", quote(c.Name), quote(c.Name)))
	}
	conflict := "DO NOTHING"
	if len(sets) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	tuple := "(?" + strings.Repeat(", ?", len(p.Columns)) + ")"
	t.upsert = fmt.Sprintf("INSERT INTO %s (%s) VALUES %s ON CONFLICT (key) %s", t.name, t.colList, tuple, conflict)
	// SQLite binds at most 32766 parameters.
	t.manyRows = min(32, 32000/(len(p.Columns)+1))
	t.upsertMany = fmt.Sprintf("INSERT INTO %s (%s) VALUES %s%s ON CONFLICT (key) %s",
		t.name, t.colList, tuple, strings.Repeat(", "+tuple, t.manyRows-1), conflict)
	t.remove = fmt.Sprintf("DELETE FROM %s WHERE key = ?", t.name)
	return t
}

// ddl creates the table and its indexes.
func (t *table) ddl() []string {
	cols := []string{"key TEXT NOT NULL PRIMARY KEY"}
	for _, c := range t.cols {
		cols = append(cols, quote(c.Name)+" "+sqlType(c.Type))
	}
	out := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", t.name, strings.Join(cols, ", "))}
	idx := make([]string, 0, len(t.def.Indexes))
	for name := range t.def.Indexes {
		idx = append(idx, name)
	}
	sort.Strings(idx)
	for _, name := range idx {
		var cs []string
		for _, c := range t.def.Indexes[name] {
			cs = append(cs, quote(c))
		}
		out = append(out, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
			quote(t.def.Name+"_"+name), t.name, strings.Join(cs, ", ")))
	}
	return out
}

// execer is what DDL runs on: a transaction or a connection.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// create creates the table and its indexes if missing.
func (t *table) create(ctx context.Context, db execer) error {
	for _, stmt := range t.ddl() {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("projection %s: %s: %w", t.def.Name, stmt, err)
		}
	}
	return nil
}

// drop drops the table (its indexes go with it).
func (t *table) drop(ctx context.Context, db execer) error {
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t.name); err != nil {
		return fmt.Errorf("projection %s: drop: %w", t.def.Name, err)
	}
	return nil
}
