package native_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/memory"
)

// The native backend finds instances by key for the API.
var _ api.Keys = (*native.Backend)(nil)

func carts(t *testing.T) *interpreter.Program {
	t.Helper()
	m, err := compiler.Compile("../contexts/carts")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

func run(t *testing.T, b *native.Backend, id, cmd, payload string, holds *cuesource.KeyRef) cuesource.Answer {
	t.Helper()
	a, err := b.Execute(t.Context(), &cuesource.CommandRequest{Aggregate: "cart", ID: id, Command: cmd, Payload: json.RawMessage(payload),
		CommandID: cuesource.NewID(), Time: time.Now().UTC(), ExpectedVersion: engine.AnyVersion, Holds: holds})
	require.NoError(t, err)
	return a
}

// bare hides every optional ability of a store: a store that cannot keep
// unique keys.
type bare struct{ store.Store }

// A context with unique constraints does not start on a store that
// cannot keep keys, and a backend over one refuses a claiming commit
// rather than writing it unchecked.
func TestKeysNeedTheAbility(t *testing.T) {
	p := carts(t)
	st := bare{memory.New()}
	_, err := native.PrepareKeys(t.Context(), p, st)
	require.ErrorIs(t, err, native.ErrNoKeys)
	assert.Contains(t, err.Error(), "cart")

	b := native.New(p, st, engine.Options{})
	defer b.Close()
	_, err = b.Execute(t.Context(), &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "Open", Payload: json.RawMessage(`{"client":"c-1"}`),
		CommandID: cuesource.NewID(), Time: time.Now().UTC(), ExpectedVersion: engine.AnyVersion})
	require.ErrorIs(t, err, native.ErrNoKeys)
	in, err := st.Load(t.Context(), "cart", "k1")
	require.NoError(t, err)
	assert.Zero(t, in.Version)

	// Without constraints, such a store is fine.
	_, err = native.PrepareKeys(t.Context(), example(t), st)
	require.NoError(t, err)
}

// A command addressed by key runs only while its instance holds the key,
// checked under the instance's writer; a violation names the holder.
func TestHoldsCheckedUnderTheWriter(t *testing.T) {
	p := carts(t)
	st := memory.New()
	_, err := native.PrepareKeys(t.Context(), p, st)
	require.NoError(t, err)
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	require.Nil(t, run(t, b, "k1", "Open", `{"client":"c-1"}`, nil).Rejection)
	a := run(t, b, "k2", "Open", `{"client":"c-1"}`, nil)
	require.NotNil(t, a.Rejection)
	assert.Equal(t, cuesource.KindUniqueViolation, a.Rejection.Kind)
	assert.Equal(t, "k1", a.Rejection.Holder)

	key := &cuesource.KeyRef{Constraint: "openCartPerClient", Key: "c-1"}
	a = run(t, b, "k2", "Abandon", `{}`, key) // k2 does not hold it
	require.NotNil(t, a.Rejection)
	assert.Equal(t, cuesource.KindKeyNotHeld, a.Rejection.Kind)
	require.Nil(t, run(t, b, "k1", "Abandon", `{}`, key).Rejection)
	a = run(t, b, "k1", "Abandon", `{}`, key) // let go of it
	require.NotNil(t, a.Rejection)
	assert.Equal(t, cuesource.KindKeyNotHeld, a.Rejection.Kind)
	id, ok, err := b.Holder(context.Background(), "cart", "openCartPerClient", "c-1")
	require.NoError(t, err)
	assert.False(t, ok, "held by %q", id)
}

// Keys are rebuilt when the constraints change, and only then; the
// rebuild replaces what the store held.
func TestPrepareKeysRebuildsOnChange(t *testing.T) {
	p := carts(t)
	st := memory.New()
	rebuilt, err := native.PrepareKeys(t.Context(), p, st)
	require.NoError(t, err)
	require.Len(t, rebuilt, 1, "new to this store")
	assert.Equal(t, "cart", rebuilt[0].Aggregate)
	b := native.New(p, st, engine.Options{})
	require.Nil(t, run(t, b, "k1", "Open", `{"client":"c-1"}`, nil).Rejection)
	b.Close()

	rebuilt, err = native.PrepareKeys(t.Context(), p, st)
	require.NoError(t, err)
	assert.Empty(t, rebuilt, "the same constraints: nothing to do")

	// The key expression changes: keys are computed again.
	m, err := compiler.Compile("../contexts/carts")
	require.NoError(t, err)
	m.Aggregates["cart"].Unique[0].Key.Src = "'x-' + event.client"
	p2, err := interpreter.Compile(m)
	require.NoError(t, err)
	rebuilt, err = native.PrepareKeys(t.Context(), p2, st)
	require.NoError(t, err)
	require.Len(t, rebuilt, 1)
	assert.Equal(t, []store.KeyHold{{Constraint: "openCartPerClient", Key: "x-c-1", Instance: "k1"}}, rebuilt[0].Holds)
	_, ok, err := st.Holder(t.Context(), "cart", "openCartPerClient", "c-1")
	require.NoError(t, err)
	assert.False(t, ok)
}

// Seeded events claim keys as a command's do, so a seeded world (a
// scenario's given events) holds its keys; a seed whose claim another
// instance holds is refused.
func TestSeedClaimsKeys(t *testing.T) {
	p := carts(t)
	st := memory.New()
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	seed := func(id string) cuesource.Answer {
		a, err := b.Seed(t.Context(), &cuesource.SeedRequest{Aggregate: "cart", ID: id, CommandID: cuesource.NewID(), Time: time.Now().UTC(),
			Events: []cuesource.SeedEvent{{Event: "Opened", Payload: json.RawMessage(`{"client":"c-1"}`)}}})
		require.NoError(t, err)
		return a
	}
	require.Nil(t, seed("k1").Rejection)
	a := seed("k2")
	require.NotNil(t, a.Rejection)
	assert.Equal(t, cuesource.KindUniqueViolation, a.Rejection.Kind)
	a = run(t, b, "k3", "Open", `{"client":"c-1"}`, nil)
	require.NotNil(t, a.Rejection)
	assert.Equal(t, "k1", a.Rejection.Holder)
}
