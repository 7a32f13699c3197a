package edge

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

var _ api.Keys = (*backend)(nil)

const cartsContext = "../../contexts/carts/carts.cue"

// holdsNow asks the core, as a key's object asks an instance, whether k1
// holds or is reserving the key c-1; the instance's storage holds none.
func holdsNow(t *testing.T, c *Core) bool {
	t.Helper()
	out := c.Call("holds", []byte(`{"aggregate":"cart","id":"k1","constraint":"openCartPerClient","key":"c-1","rows":[[]]}`))
	var a struct {
		Answer bool `json:"answer"`
	}
	require.NoError(t, json.Unmarshal(out, &a), "%s", out)
	return a.Answer
}

// An instance is reserving a key from before it asks the key's object
// until its commit has run: a claimant asked about it meanwhile is
// refused. After the commit (or a refusal) only its storage answers.
func TestClaimReservesUntilCommitted(t *testing.T) {
	for _, refused := range []bool{false, true} {
		c := coreOf(t, cartsContext, Config{})
		in := `{"request": {"aggregate": "cart", "id": "k1", "command": "Open", "commandId": "cmd-1", "expectedVersion": -1, "time": "2026-12-07T12:00:00Z", "payload": "{\"client\":\"c-1\"}"}, "claims": [{"constraint": "openCartPerClient", "key": "c-1"}]}`
		var ops []string
		out := c.Run("claim", []byte(in), func(op Op) Result {
			ops = append(ops, op.Kind)
			assert.True(t, holdsNow(t, c), "during %s, k1 is reserving c-1", op.Kind)
			if op.Kind == "object" {
				if refused {
					return Result{OK: json.RawMessage(`{"holder":"k0"}`)}
				}
				return Result{OK: json.RawMessage(`{}`)}
			}
			return Result{OK: json.RawMessage(`{"answer":{"version":1,"created":true}}`)}
		})
		if refused {
			assert.Equal(t, []string{"object"}, ops)
			assert.Contains(t, string(out), `"kind":"unique_violation"`)
		} else {
			assert.Equal(t, []string{"object", "transact"}, ops)
			assert.JSONEq(t, `{"answer":{"version":1,"created":true}}`, string(out))
		}
		assert.False(t, holdsNow(t, c), "after the claim, only the storage says what k1 holds")
	}
}

// Holder asks the key's object which instance it reserved the key for,
// and that instance's storage whether it holds it: a stale record (the
// instance released the key, or never committed it) answers none.
func TestHolder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		record     string // the key object's rows
		held       string // k1's rows
		id         string
		ok         bool
		wantObject int
	}{
		{"held", `[[{"instance":"k1","command_id":"cmd-1"}]]`, `[[{"constraint_name":"openCartPerClient","key":"c-1"}]]`, "k1", true, 2},
		{"released", `[[{"instance":"k1","command_id":"cmd-1"}]]`, `[[]]`, "", false, 2},
		{"another key", `[[{"instance":"k1","command_id":"cmd-1"}]]`, `[[{"constraint_name":"openCartPerClient","key":"c-2"}]]`, "", false, 2},
		{"never reserved", `[[]]`, ``, "", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ops []Op
			b := &backend{h: &host{perform: func(op Op) Result {
				ops = append(ops, op)
				if len(ops) == 1 {
					return Result{OK: json.RawMessage(tc.record)}
				}
				return Result{OK: json.RawMessage(tc.held)}
			}}}
			id, ok, err := b.Holder(context.Background(), "cart", "openCartPerClient", "c-1")
			require.NoError(t, err)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.ok, ok)
			require.Len(t, ops, tc.wantObject)
			assert.Equal(t, "key:cart", ops[0].Aggregate)
			assert.Equal(t, "openCartPerClient/c-1", ops[0].ID)
			assert.Equal(t, d1.KeyHolder, ops[0].Arg.(transact).Reads[0].SQL)
			if len(ops) > 1 {
				assert.Equal(t, "k1", ops[1].ID)
				assert.Equal(t, d1.ObjectHeldKeys, ops[1].Arg.(transact).Reads[0].SQL)
			}
		})
	}
}

// keyChanges: claims of keys not held and not reserved are reserved
// first, in (constraint, key) order whatever the constraints' order; a
// key held needs nothing; a reserved one and a release are writes.
func TestKeyChanges(t *testing.T) {
	claims := []store.KeyClaim{{Constraint: "z", Key: "1"}, {Constraint: "a", Key: "9"}, {Constraint: "m", Key: "2"}, {Constraint: "b", Release: true}}
	need, writes := keyChanges(claims, map[string]string{"b": "x"}, nil)
	assert.Equal(t, []store.KeyClaim{{Constraint: "a", Key: "9"}, {Constraint: "m", Key: "2"}, {Constraint: "z", Key: "1"}}, need)
	assert.Equal(t, []Statement{stmt(d1.ObjectReleaseKey, "b")}, writes)

	need, writes = keyChanges(claims, map[string]string{"m": "2"}, []store.KeyClaim{{Constraint: "a", Key: "9"}, {Constraint: "z", Key: "1"}})
	assert.Empty(t, need)
	assert.Equal(t, []Statement{stmt(d1.ObjectHoldKey, "z", "1"), stmt(d1.ObjectHoldKey, "a", "9")}, writes, "m holds 2 already; b is not held")
}

// A seed's events claim keys as a command's: the seed of a cart that
// opened for c-1 writes nothing until the claim script reserved c-1,
// which then seeds again with the reservation and holds the key.
func TestSeedReservesItsKeys(t *testing.T) {
	c := coreOf(t, cartsContext, Config{})
	seed := `{"aggregate": "cart", "id": "k1", "commandId": "seed-1", "time": "2026-12-07T12:00:00Z", "events": [{"event": "Opened", "payload": {"client": "c-1"}}]}`
	out := c.Call("seed", []byte(`{"request": `+seed+`, "rows": [[], []]}`))
	var t1 Transacted
	require.NoError(t, json.Unmarshal(out, &t1), "%s", out)
	require.NotNil(t, t1.Reserve, "%s", out)
	assert.Empty(t, t1.Writes)
	assert.Equal(t, []store.KeyClaim{{Constraint: "openCartPerClient", Key: "c-1"}}, t1.Reserve.Claims)
	require.NotNil(t, t1.Reserve.Seed)

	in, err := json.Marshal(t1.Reserve)
	require.NoError(t, err)
	var ops []Op
	out = c.Run("claim", in, func(op Op) Result {
		ops = append(ops, op)
		if op.Kind == "object" {
			return Result{OK: json.RawMessage(`{}`)} // reserved
		}
		// The transact op: the seed decided again, with the reservation.
		tr := op.Arg.(transact)
		assert.Equal(t, "seed", tr.Fn)
		assert.Equal(t, []Statement{stmt(d1.ObjectInstance), stmt(d1.ObjectHeldKeys)}, tr.Reads)
		si := tr.Input.(seedInput)
		si.Rows = []json.RawMessage{json.RawMessage(`[]`), json.RawMessage(`[]`)}
		b, err := json.Marshal(si)
		require.NoError(t, err)
		res := c.Call("seed", b)
		var d Transacted
		require.NoError(t, json.Unmarshal(res, &d), "%s", res)
		assert.Contains(t, d.Writes, stmt(d1.ObjectHoldKey, "openCartPerClient", "c-1"), "the seed holds the key it reserved")
		return Result{OK: res}
	})
	require.Len(t, ops, 2, "%s", out)
	assert.Equal(t, keyObject("cart"), ops[0].Aggregate)
	assert.Equal(t, "openCartPerClient/c-1", ops[0].ID)
	var t2 Transacted
	require.NoError(t, json.Unmarshal(out, &t2), "%s", out)
	assert.Nil(t, t2.Reserve)
	assert.True(t, t2.Answer.(map[string]any)["created"].(bool), "%s", out)
}
