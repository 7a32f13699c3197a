package rows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
)

// The SQL text both runtimes run.
func TestTable(t *testing.T) {
	tbl := rows.NewTable(&interpreter.Projection{
		Name:    `we"ird`,
		Columns: []interpreter.Column{{Name: "n", Type: "INTEGER"}, {Name: "j", Type: "JSON"}},
		Indexes: map[string][]string{"z": {"j"}, "a": {"n", "j"}},
	})
	assert.Equal(t, []string{
		`CREATE TABLE IF NOT EXISTS "we""ird" (key TEXT NOT NULL PRIMARY KEY, "n" INTEGER, "j" JSON_TEXT)`,
		`CREATE INDEX IF NOT EXISTS "we""ird_a" ON "we""ird" ("n", "j")`,
		`CREATE INDEX IF NOT EXISTS "we""ird_z" ON "we""ird" ("j")`,
	}, tbl.DDL())
	assert.Equal(t, `SELECT key, "n", "j" FROM "we""ird" WHERE key = ?`, tbl.SelectOne)
	assert.Equal(t, `SELECT key, "n", "j" FROM "we""ird" WHERE key IN (?, ?, ?)`, tbl.SelectKeys(3))
	assert.Equal(t, tbl.SelectKeys(rows.ManyKeys), tbl.SelectMany)
	assert.Equal(t, `INSERT INTO "we""ird" (key, "n", "j") VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "n" = excluded."n", "j" = excluded."j"`, tbl.Upsert)
	assert.Equal(t, `INSERT INTO "we""ird" (key, "n", "j") VALUES (?, ?, ?), (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "n" = excluded."n", "j" = excluded."j"`, tbl.UpsertRows(2))
	assert.Equal(t, 32, tbl.ManyRows)
	assert.Equal(t, tbl.UpsertRows(32), tbl.UpsertMany)
	assert.Equal(t, `DELETE FROM "we""ird" WHERE key = ?`, tbl.Delete)
	assert.Equal(t, `DROP TABLE IF EXISTS "we""ird"`, tbl.Drop)

	bare := rows.NewTable(&interpreter.Projection{Name: "keys"})
	assert.Equal(t, `INSERT INTO "keys" (key) VALUES (?) ON CONFLICT (key) DO NOTHING`, bare.Upsert)
}
