package cuesource_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

func carts(t testing.TB) *interpreter.Program {
	t.Helper()
	m, err := compiler.Compile("contexts/carts")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

// decideOn decides cmd on cur and returns the decision, failing on a
// rejection unless want names its kind.
func decideOn(t *testing.T, p *interpreter.Program, cur store.Instance, req *cuesource.CommandRequest) cuesource.Decision {
	t.Helper()
	req.CommandID, req.Time, req.ExpectedVersion = cuesource.NewID(), at, engine.AnyVersion
	return cuesource.Decide(p, cur, nil, req, engine.Options{Strict: true})
}

// A commit carries what its events do to the instance's unique keys: the
// claim of Opened, the release of CheckedOut; a command that touches no
// key carries none.
func TestDecideClaimsAndReleasesKeys(t *testing.T) {
	p := carts(t)
	d := decideOn(t, p, store.Instance{Aggregate: "cart", ID: "k1"}, &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "Open", Payload: json.RawMessage(`{"client":"c-1"}`)})
	require.Nil(t, d.Answer.Rejection)
	assert.Equal(t, []store.KeyClaim{{Constraint: "openCartPerClient", Key: "c-1"}}, d.Commit.Unique)

	open := store.Instance{Aggregate: "cart", ID: "k1", Version: 1, State: json.RawMessage(`{"status":"open","client":"c-1","items":{"a":{"name":"A","qty":1,"unitPrice":2}},"total":2}`)}
	d = decideOn(t, p, open, &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "CheckOut"})
	require.Nil(t, d.Answer.Rejection)
	assert.Equal(t, []store.KeyClaim{{Constraint: "openCartPerClient", Release: true}}, d.Commit.Unique)

	d = decideOn(t, p, store.Instance{Aggregate: "product", ID: "p1"}, &cuesource.CommandRequest{Aggregate: "product", ID: "p1", Command: "List", Payload: json.RawMessage(`{"name":"P","price":3}`)})
	require.Nil(t, d.Answer.Rejection)
	assert.Nil(t, d.Commit.Unique)
}

// A key no URL could address is refused before anything is written.
func TestDecideRefusesAnUnaddressableKey(t *testing.T) {
	p := carts(t)
	d := decideOn(t, p, store.Instance{Aggregate: "cart", ID: "k1"}, &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "Open", Payload: json.RawMessage(`{"client":".."}`)})
	require.NotNil(t, d.Answer.Rejection)
	assert.Equal(t, cuesource.KindInvalidKey, d.Answer.Rejection.Kind)
	assert.Equal(t, "openCartPerClient", d.Answer.Rejection.Constraint)
	assert.Nil(t, d.Commit)
}

// The decision reads its look-ups from the request: the price is the
// catalogue's, whatever the client sends; without them the guard that
// needs them refuses.
func TestDecideReadsLookups(t *testing.T) {
	p := carts(t)
	open := store.Instance{Aggregate: "cart", ID: "k1", Version: 1, State: json.RawMessage(`{"status":"open","client":"c-1","items":{},"total":0}`)}
	req := &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "AddItem", Payload: json.RawMessage(`{"sku":"s1","qty":2}`),
		Lookups: map[string]any{"price": []any{map[string]any{"sku": "s1", "name": "Soap", "price": 7}}, "product": map[string]any{"name": "Soap", "price": 7}}}
	d := decideOn(t, p, open, req)
	require.Nil(t, d.Answer.Rejection)
	var body struct {
		State struct{ Total int } `json:"state"`
	}
	require.NoError(t, json.Unmarshal(d.Answer.Body, &body))
	assert.Equal(t, 14, body.State.Total)

	d = decideOn(t, p, open, &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "AddItem", Payload: json.RawMessage(`{"sku":"s1","qty":2}`)})
	require.NotNil(t, d.Answer.Rejection)
	assert.Equal(t, "product not listed", d.Answer.Rejection.Name)
}

// A seed claims the keys its events claim, as the commands that made
// them would have.
func TestSeedClaimsKeys(t *testing.T) {
	p := carts(t)
	d := cuesource.DecideSeed(p, store.Instance{Aggregate: "cart", ID: "k1"}, &cuesource.SeedRequest{Aggregate: "cart", ID: "k1", CommandID: "s1", Time: at,
		Events: []cuesource.SeedEvent{{Event: "Opened", Payload: json.RawMessage(`{"client":"c-9"}`)}}})
	require.Nil(t, d.Answer.Rejection)
	assert.Equal(t, []store.KeyClaim{{Constraint: "openCartPerClient", Key: "c-9"}}, d.Commit.Unique)
}
