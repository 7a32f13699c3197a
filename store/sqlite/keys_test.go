package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// Keys and the rebuild status are on disk: a restart keeps them, and the
// conflicts keep being enforced.
func TestKeysSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	ctx := t.Context()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "a", Events: []store.Event{event("e1")},
		Unique: []store.KeyClaim{{Constraint: "perClient", Key: "c-1"}}})
	require.NoError(t, err)
	status := store.KeyStatus{Hash: "h", Conflicts: []store.KeyConflict{{Constraint: "perClient", Key: "c-1", Holder: "a", Instance: "z", Position: 1}}}
	require.NoError(t, s.ReplaceKeys(ctx, "order", []store.KeyHold{{Constraint: "n", Key: "1", Instance: "o"}}, status, 1))
	require.NoError(t, s.Close())

	s, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	id, ok, err := s.Holder(ctx, "cart", "perClient", "c-1")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "a", id)
	id, _, err = s.Holder(ctx, "order", "n", "1")
	require.NoError(t, err)
	assert.Equal(t, "o", id)
	got, err := s.KeyStatus(ctx, "order")
	require.NoError(t, err)
	assert.Equal(t, status, got)
	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "b", Events: []store.Event{event("e2")},
		Unique: []store.KeyClaim{{Constraint: "perClient", Key: "c-1"}}})
	assert.ErrorIs(t, err, store.ErrUniqueViolation)
}

// A database made before unique keys existed is migrated: its log stays,
// and the keys tables are there, empty (the runtime rebuilds them).
func TestMigrationAddsUniqueKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	dbBefore(t, path, "CREATE TABLE unique_keys", `INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id)
		VALUES (1, 'e1', 'cart', 'a', 1, 'Opened', 1, '2026-01-01T00:00:00.000000000Z', 'c1')`)

	s, err := Open(t.Context(), path, Options{})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, len(migrations), userVersion(t, path))
	assert.Len(t, mustReadAllT(t, s), 1)
	_, ok, err := s.Holder(t.Context(), "cart", "perClient", "c-1")
	require.NoError(t, err)
	assert.False(t, ok)
	st, err := s.KeyStatus(t.Context(), "cart")
	require.NoError(t, err)
	assert.Empty(t, st.Hash)
}

func mustReadAllT(t *testing.T, s *Store) []store.Event {
	t.Helper()
	evs, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	return evs
}
