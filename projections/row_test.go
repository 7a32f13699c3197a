package projections_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/projections"
)

// CatchUp applies, on the caller's goroutine, what an async projection has
// yet to apply (its background loop here looks once an hour, and has no
// waiter); Row then reads one row by its key as a query gives it, nil
// under a key without one.
func TestCatchUpAndRow(t *testing.T) {
	ctx := context.Background()
	p := compile(t, bank)
	st := openStore(t, filepath.Join(t.TempDir(), "bank.db"))
	t.Cleanup(func() { _ = st.Close() })
	r := newRunner(t, p, st, projections.Options{PollInterval: time.Hour})
	a := newAppender(st)
	a.commit(t, "a1", opened(), deposited(5, "food"), deposited(7, "rent"), deposited(2, "food"))
	require.NoError(t, r.CatchUp(ctx))
	s := status(t, r, "by_tag")
	assert.Equal(t, int64(4), s.Position)
	assert.Equal(t, "running", s.State)

	row, err := r.Row(ctx, "by_tag", "food")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"key": "food", "applied": 2, "total": 7, "first_position": 2}, row)
	row, err = r.Row(ctx, "accounts", "a1")
	require.NoError(t, err)
	assert.Equal(t, []any{"food", "rent"}, row["tags"], "a JSON column decoded")
	assert.Equal(t, 14, row["balance"])
	row, err = r.Row(ctx, "by_tag", "none")
	require.NoError(t, err)
	assert.Nil(t, row)
	_, err = r.Row(ctx, "nope", "food")
	assert.True(t, errors.Is(err, cuesource.ErrUnknown), "%v", err)
}
