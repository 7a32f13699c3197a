package projections

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/cuesource/cuesource/internal/projections/rows"
)

// Projection states as stored in the checkpoint table.
const (
	StateRunning    = rows.StateRunning
	StateRebuilding = rows.StateRebuilding
	StateFailed     = rows.StateFailed
	// StateNew and StateStale are only reported by a runner that was not
	// started (the offline `cuesource projections status`): a projection
	// never built, and one whose stored definition hash differs from the
	// context's (the next start rebuilds it).
	StateNew   = rows.StateNew
	StateStale = rows.StateStale
)

// execer is what DDL runs on: a transaction or a connection.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// create creates t's table and its indexes if missing.
func create(ctx context.Context, db execer, t *rows.Table) error {
	for _, stmt := range t.DDL() {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("projection %s: %s: %w", t.Def.Name, stmt, err)
		}
	}
	return nil
}

// drop drops t's table (its indexes go with it).
func drop(ctx context.Context, db execer, t *rows.Table) error {
	if _, err := db.ExecContext(ctx, t.Drop); err != nil {
		return fmt.Errorf("projection %s: drop: %w", t.Def.Name, err)
	}
	return nil
}
