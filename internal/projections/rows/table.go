package rows

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cuesource/cuesource/interpreter"
)

// JSONType is the declared SQL type of a JSON column: TEXT affinity (the
// type name contains TEXT), and a name queries' result columns can be
// recognised by (decltype), so queries decode them.
const JSONType = "JSON_TEXT"

// ManyKeys is how many keys [Table.SelectMany] binds; fewer keys are
// padded by repeating the last.
const ManyKeys = 64

// maxParams is what SQLite binds at most (32766), with a margin.
const maxParams = 32000

// quote returns an SQL identifier in double quotes.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// sqlType is the declared SQL type of a column.
func sqlType(t string) string {
	if t == "JSON" {
		return JSONType
	}
	return t
}

// Table is a projection with the SQL that reads and writes its rows. A
// row's SQL form is its key then its columns, in Cols order: what the
// selects return and the upserts bind ([Table.Args]).
type Table struct {
	Def  *interpreter.Projection
	Name string // the table's name, quoted
	Cols []interpreter.Column

	// SelectOne reads the row of one key, SelectMany those of ManyKeys
	// keys.
	SelectOne, SelectMany string
	// Upsert writes one row, UpsertMany ManyRows rows.
	Upsert, UpsertMany string
	ManyRows           int
	// Delete deletes the row of one key; Drop the table and its indexes.
	Delete, Drop string

	colList    string // "key", "c1", ... quoted, comma separated
	tuple      string // one row's placeholders
	onConflict string
}

// NewTable returns p's table.
func NewTable(p *interpreter.Projection) *Table {
	t := &Table{Def: p, Name: quote(p.Name), Cols: p.Columns}
	names := []string{"key"}
	for _, c := range p.Columns {
		names = append(names, quote(c.Name))
	}
	t.colList = strings.Join(names, ", ")
	var sets []string
	for _, c := range p.Columns {
		sets = append(sets, fmt.Sprintf("%s = excluded.%s", quote(c.Name), quote(c.Name)))
	}
	t.onConflict = "DO NOTHING"
	if len(sets) > 0 {
		t.onConflict = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	t.tuple = "(?" + strings.Repeat(", ?", len(p.Columns)) + ")"
	t.SelectOne = fmt.Sprintf("SELECT %s FROM %s WHERE key = ?", t.colList, t.Name)
	t.SelectMany = t.SelectKeys(ManyKeys)
	t.Upsert = t.UpsertRows(1)
	t.ManyRows = min(32, maxParams/(len(p.Columns)+1))
	t.UpsertMany = t.UpsertRows(t.ManyRows)
	t.Delete = fmt.Sprintf("DELETE FROM %s WHERE key = ?", t.Name)
	t.Drop = "DROP TABLE IF EXISTS " + t.Name
	return t
}

// SelectKeys reads the rows of n keys (n ≥ 1). A runtime with a lower
// bound on parameters than SQLite's (D1) picks its own n.
func (t *Table) SelectKeys(n int) string {
	return fmt.Sprintf("SELECT %s FROM %s WHERE key IN (?%s)", t.colList, t.Name, strings.Repeat(", ?", n-1))
}

// UpsertRows writes n rows (n ≥ 1), binding n times [Table.Args].
func (t *Table) UpsertRows(n int) string {
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES %s%s ON CONFLICT (key) %s",
		t.Name, t.colList, t.tuple, strings.Repeat(", "+t.tuple, n-1), t.onConflict)
}

// DDL creates the table and its indexes (<projection>_<index>) if
// missing.
func (t *Table) DDL() []string {
	cols := []string{"key TEXT NOT NULL PRIMARY KEY"}
	for _, c := range t.Cols {
		cols = append(cols, quote(c.Name)+" "+sqlType(c.Type))
	}
	out := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", t.Name, strings.Join(cols, ", "))}
	idx := make([]string, 0, len(t.Def.Indexes))
	for name := range t.Def.Indexes {
		idx = append(idx, name)
	}
	sort.Strings(idx)
	for _, name := range idx {
		var cs []string
		for _, c := range t.Def.Indexes[name] {
			cs = append(cs, quote(c))
		}
		out = append(out, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
			quote(t.Def.Name+"_"+name), t.Name, strings.Join(cs, ", ")))
	}
	return out
}

// Column returns the column called name.
func (t *Table) Column(name string) (interpreter.Column, bool) {
	for _, c := range t.Cols {
		if c.Name == name {
			return c, true
		}
	}
	return interpreter.Column{}, false
}

// Args appends what an upsert of r binds to args: key, then each column's
// [Value].
func (t *Table) Args(args []any, key string, r *Row) []any {
	args = append(args, key)
	for _, c := range t.Cols {
		args = append(args, Value(c, r))
	}
	return args
}

// Load returns the row a select gave: vals are its columns after the key,
// in Cols order, as the driver gives them (see [FromSQL]).
func (t *Table) Load(vals []any) (*Row, error) {
	if len(vals) != len(t.Cols) {
		return nil, fmt.Errorf("projection %s: a row has %d columns, not %d", t.Def.Name, len(vals), len(t.Cols))
	}
	r := &Row{Vals: make(map[string]any, len(t.Cols))}
	for i, c := range t.Cols {
		v, enc, err := FromSQL(c, vals[i])
		if err != nil {
			return nil, err
		}
		r.Vals[c.Name] = v
		if enc != "" {
			if r.Enc == nil {
				r.Enc = map[string]string{}
			}
			r.Enc[c.Name] = enc
		}
	}
	return r, nil
}

// Answer is how a projection row is answered: its key and each column by
// name, as a query gives them (NULL as nil).
func (t *Table) Answer(key string, r *Row) map[string]any {
	out := make(map[string]any, len(t.Cols)+1)
	out["key"] = key
	for _, c := range t.Cols {
		out[c.Name] = r.Vals[c.Name]
	}
	return out
}
