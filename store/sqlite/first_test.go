package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// First is the position of an instance's first event: recorded from the
// log by the migration where its version 1 is still hot (unknown, 0,
// where it left), and by the append that creates an instance or the
// import that holds its version 1.
func TestFirstPosition(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	// a: versions 1 and 2 hot; b: its version 1 (position 2) pruned.
	dbBefore(t, path, "ADD COLUMN first", `INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id) VALUES
		(1, 'e1', 'cart', 'a', 1, 'Opened', 1, '2026-01-01T00:00:00.000000000Z', 'c1'),
		(3, 'e3', 'cart', 'b', 2, 'Closed', 1, '2026-01-01T00:00:00.000000000Z', 'c3'),
		(4, 'e4', 'cart', 'a', 2, 'Closed', 1, '2026-01-01T00:00:00.000000000Z', 'c4');
		INSERT INTO instances (aggregate, instance, version) VALUES ('cart', 'a', 2), ('cart', 'b', 2)`)

	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	first := func(id string) int64 {
		t.Helper()
		p, err := s.First(ctx, "cart", id)
		require.NoError(t, err)
		return p
	}
	assert.Equal(t, int64(1), first("a"))
	assert.Equal(t, int64(0), first("b"), "its first event left before the store recorded it")
	assert.Equal(t, int64(0), first("nobody"))

	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "c", Events: []store.Event{event("e5"), event("e6")}})
	require.NoError(t, err)
	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "a", ExpectedVersion: 2, Events: []store.Event{event("e7")}})
	require.NoError(t, err)
	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "c", ExpectedVersion: 2, Events: []store.Event{event("e8")}})
	require.NoError(t, err)
	assert.Equal(t, int64(5), first("c"), "written by the append that created it")
	assert.Equal(t, int64(1), first("a"), "kept by later appends")

	// An import records it for the instances whose version 1 it holds.
	var evs []store.Event
	for _, id := range []string{"a", "b", "c"} {
		some, err := s.Events(ctx, "cart", id, 0, 0)
		require.NoError(t, err)
		evs = append(evs, some...)
	}
	s2, err := Open(ctx, filepath.Join(t.TempDir(), "restored.db"), Options{})
	require.NoError(t, err)
	defer s2.Close()
	require.NoError(t, s2.Import(ctx, evs, nil))
	for id, want := range map[string]int64{"a": 1, "b": 0, "c": 5} {
		p, err := s2.First(ctx, "cart", id)
		require.NoError(t, err)
		assert.Equal(t, want, p, "imported %s", id)
	}
}
