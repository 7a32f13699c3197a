package d1_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store/d1"
)

// baselineSQL is the module the benchmark's hand-written baseline Worker
// imports its SQL from: this package's text, written by this test with
// CUESOURCE_UPDATE=1 and checked by it otherwise, so the baseline cannot
// drift from the statements the engine runs.
var baselineSQL = filepath.Join("..", "..", "bench", "workers", "baseline", "sql.mjs")

const baselineHeader = "// Written by store/d1's TestBaselineSQL (CUESOURCE_UPDATE=1 go test ./store/d1/):\n" +
	"// the SQL of the Workers runtime, package store/d1, for the baseline Worker.\n"

func TestBaselineSQL(t *testing.T) {
	want := d1.JSModule(baselineHeader)
	if os.Getenv("CUESOURCE_UPDATE") != "" {
		require.NoError(t, os.WriteFile(baselineSQL, want, 0o644))
	}
	got, err := os.ReadFile(baselineSQL)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "bench/workers/baseline/sql.mjs is not store/d1's SQL: run CUESOURCE_UPDATE=1 go test ./store/d1/")

	// Its D1 migrations, which let it run on its own (bench.mjs gives it
	// the build's), are the build's too.
	for name, want := range d1.Migrations() {
		migration := filepath.Join(filepath.Dir(baselineSQL), "migrations", name)
		if os.Getenv("CUESOURCE_UPDATE") != "" {
			require.NoError(t, os.WriteFile(migration, want, 0o644))
		}
		got, err = os.ReadFile(migration)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "bench/workers/baseline/migrations is not store/d1's Migrations: run CUESOURCE_UPDATE=1 go test ./store/d1/")
	}
}
