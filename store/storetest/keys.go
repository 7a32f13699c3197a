package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// claiming is c with its unique key claims.
func claiming(c store.Commit, claims ...store.KeyClaim) store.Commit {
	c.Unique = claims
	return c
}

func claimOf(key string) store.KeyClaim { return store.KeyClaim{Constraint: "perClient", Key: key} }

var release = store.KeyClaim{Constraint: "perClient", Release: true}

func holderOf(t *testing.T, k store.Keys, aggregate, constraint, key string) string {
	t.Helper()
	id, ok, err := k.Holder(t.Context(), aggregate, constraint, key)
	require.NoError(t, err)
	if !ok {
		return ""
	}
	return id
}

// A claim makes its instance the key's holder; a later claim of the same
// constraint replaces the key; a release lets go; keys are per aggregate
// and per constraint.
func testKeysClaimReplaceRelease(t *testing.T, s store.Store, k store.Keys) {
	mustAppend(t, s, claiming(commit("cart", "a", 0, events("a1")...), claimOf("c-1"),
		store.KeyClaim{Constraint: "other", Key: "c-1"}))
	assert.Equal(t, "a", holderOf(t, k, "cart", "perClient", "c-1"))
	assert.Equal(t, "a", holderOf(t, k, "cart", "other", "c-1"))
	assert.Empty(t, holderOf(t, k, "order", "perClient", "c-1"), "keys are per aggregate")

	// The same key again keeps it; another key replaces it.
	mustAppend(t, s, claiming(commit("cart", "a", 1, events("a2")...), claimOf("c-1")))
	assert.Equal(t, "a", holderOf(t, k, "cart", "perClient", "c-1"))
	mustAppend(t, s, claiming(commit("cart", "a", 2, events("a3")...), claimOf("c-2")))
	assert.Empty(t, holderOf(t, k, "cart", "perClient", "c-1"))
	assert.Equal(t, "a", holderOf(t, k, "cart", "perClient", "c-2"))

	// Released, the key is free for another instance; the other
	// constraint's key stays.
	mustAppend(t, s, claiming(commit("cart", "a", 3, events("a4")...), release))
	assert.Empty(t, holderOf(t, k, "cart", "perClient", "c-2"))
	assert.Equal(t, "a", holderOf(t, k, "cart", "other", "c-1"))
	mustAppend(t, s, claiming(commit("cart", "b", 0, events("b1")...), claimOf("c-2")))
	assert.Equal(t, "b", holderOf(t, k, "cart", "perClient", "c-2"))
}

// A claim of a key another instance holds fails the commit with a
// *UniqueError naming the holder, and writes nothing of it.
func testKeysConflict(t *testing.T, s store.Store, k store.Keys) {
	mustAppend(t, s, claiming(commit("cart", "a", 0, events("a1")...), claimOf("c-1")))
	mustAppend(t, s, claiming(commit("cart", "b", 0, events("b1")...), claimOf("c-2")))
	_, err := s.Append(t.Context(), claiming(commit("cart", "b", 1, events("b2")...), claimOf("c-1")))
	require.ErrorIs(t, err, store.ErrUniqueViolation)
	var ue *store.UniqueError
	require.True(t, errors.As(err, &ue))
	assert.Equal(t, store.UniqueError{Aggregate: "cart", Constraint: "perClient", Key: "c-1", Holder: "a"}, *ue)
	assert.Equal(t, int64(1), mustLoad(t, s, "cart", "b").Version, "nothing of the commit is written")
	assert.Len(t, mustReadAll(t, s, 0, 0), 2)
	assert.Equal(t, "b", holderOf(t, k, "cart", "perClient", "c-2"), "the key b held stays")
	assert.Equal(t, "a", holderOf(t, k, "cart", "perClient", "c-1"))
}

// In a batch, a conflicting claim fails its commit alone, and sees the
// claims and releases of the commits before it.
func testKeysBatch(t *testing.T, s store.Store, k store.Keys) {
	b, ok := s.(store.Batcher)
	if !ok {
		t.Skipf("%T does not implement store.Batcher", s)
	}
	res, err := b.AppendBatch(t.Context(), []store.Commit{
		claiming(commit("cart", "a", 0, events("a1")...), claimOf("c-1")),
		claiming(commit("cart", "b", 0, events("b1")...), claimOf("c-1")), // a holds it
		claiming(commit("cart", "a", 1, events("a2")...), release),
		claiming(commit("cart", "c", 0, events("c1")...), claimOf("c-1")), // free again
	})
	require.NoError(t, err)
	var ue *store.UniqueError
	require.True(t, errors.As(res[1].Err, &ue), "commit 1: %v", res[1].Err)
	assert.Equal(t, "a", ue.Holder)
	for _, i := range []int{0, 2, 3} {
		require.NoError(t, res[i].Err, "commit %d", i)
	}
	assert.Equal(t, int64(0), mustLoad(t, s, "cart", "b").Version)
	assert.Equal(t, "c", holderOf(t, k, "cart", "perClient", "c-1"))
}

// ReplaceKeys replaces an aggregate's keys and records its status, only
// while the log is where the keys were computed.
func testKeysReplace(t *testing.T, s store.Store, r store.KeyRebuilder) {
	k := s.(store.Keys)
	mustAppend(t, s, claiming(commit("cart", "a", 0, events("a1")...), claimOf("c-1")))
	mustAppend(t, s, claiming(commit("order", "o", 0, events("o1")...), claimOf("c-1")))
	st, err := r.KeyStatus(t.Context(), "cart")
	require.NoError(t, err)
	assert.Equal(t, store.KeyStatus{}, st)

	status := store.KeyStatus{Hash: "h1", Conflicts: []store.KeyConflict{{Constraint: "perClient", Key: "c-9", Holder: "b", Instance: "x", Position: 1}}}
	err = r.ReplaceKeys(t.Context(), "cart", []store.KeyHold{{Constraint: "perClient", Key: "c-9", Instance: "b"}}, status, 1)
	require.ErrorIs(t, err, store.ErrVersionConflict, "the log moved on")
	assert.Equal(t, "a", holderOf(t, k, "cart", "perClient", "c-1"))

	require.NoError(t, r.ReplaceKeys(t.Context(), "cart", []store.KeyHold{{Constraint: "perClient", Key: "c-9", Instance: "b"}}, status, 2))
	assert.Empty(t, holderOf(t, k, "cart", "perClient", "c-1"))
	assert.Equal(t, "b", holderOf(t, k, "cart", "perClient", "c-9"))
	assert.Equal(t, "o", holderOf(t, k, "order", "perClient", "c-1"), "other aggregates keep theirs")
	st, err = r.KeyStatus(t.Context(), "cart")
	require.NoError(t, err)
	assert.Equal(t, status, st)

	// The replaced keys hold as any other: b's is taken, b may replace it.
	_, err = s.Append(t.Context(), claiming(commit("cart", "a", 1, events("a2")...), claimOf("c-9")))
	require.ErrorIs(t, err, store.ErrUniqueViolation)
	mustAppend(t, s, claiming(commit("cart", "b", 0, events("b1")...), claimOf("c-3")))
	assert.Empty(t, holderOf(t, k, "cart", "perClient", "c-9"))
}
