package cuesource_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/store"
)

func logOf(evs ...store.Event) func(after int64) ([]store.Event, error) {
	for i := range evs {
		evs[i].Position = int64(i + 1)
		evs[i].ID = evs[i].Instance + "-" + string(rune('a'+i))
	}
	return func(after int64) ([]store.Event, error) {
		if after >= int64(len(evs)) {
			return nil, nil
		}
		return evs[after : after+1], nil // one a page: paging is exercised
	}
}

func ev(agg, id, typ, payload string) store.Event {
	return store.Event{Aggregate: agg, Instance: id, Type: typ, Payload: json.RawMessage(payload)}
}

// The keys after a log: claims, releases and replacements as commits
// make them; a later claim of a held key (a log from before the
// constraint) is a conflict and claims nothing, the earliest holds.
func TestRebuildKeys(t *testing.T) {
	p := carts(t)
	rb, err := cuesource.RebuildKeys(p, "cart", logOf(
		ev("cart", "a", "Opened", `{"client":"c-1"}`),
		ev("product", "p", "Listed", `{"name":"P","price":1}`),
		ev("cart", "b", "Opened", `{"client":"c-1"}`), // a holds c-1
		ev("cart", "c", "Opened", `{"client":"c-2"}`),
		ev("cart", "c", "Abandoned", `{}`),
		ev("cart", "b", "Abandoned", `{}`), // b holds nothing: releases nothing
		ev("cart", "d", "Opened", `{"client":"c-3"}`),
		ev("cart", "e", "Opened", `{"client":".."}`), // no URL could address it
		ev("cart", "d", "ItemAdded", `not JSON`),     // no constraint reads it: not even decoded
	))
	require.NoError(t, err)
	assert.Equal(t, int64(9), rb.Through)
	assert.Equal(t, []store.KeyHold{
		{Constraint: "openCartPerClient", Key: "c-1", Instance: "a"},
		{Constraint: "openCartPerClient", Key: "c-3", Instance: "d"},
	}, rb.Holds)
	assert.Equal(t, []store.KeyConflict{
		{Constraint: "openCartPerClient", Key: "c-1", Holder: "a", Instance: "b", Position: 3},
		{Constraint: "openCartPerClient", Key: "..", Instance: "e", Position: 8},
	}, rb.Conflicts)
	assert.NotEmpty(t, rb.Hash)

	rb, err = cuesource.RebuildKeys(p, "product", logOf(ev("product", "p", "Listed", `{"name":"P","price":1}`)))
	require.NoError(t, err)
	assert.Empty(t, rb.Holds)
	assert.Empty(t, rb.Hash, "no constraints")
}

type reader struct {
	queries   map[string][]map[string]any
	params    map[string]any
	instances map[string]store.Instance
	fail      error
}

func (r *reader) Query(_ context.Context, name string, params map[string]any) ([]map[string]any, error) {
	r.params = params
	return r.queries[name], r.fail
}

func (r *reader) Load(_ context.Context, aggregate, id string) (store.Instance, error) {
	return r.instances[aggregate+"/"+id], nil
}

// Look-ups read a query with parameters from the payload and another
// instance's state (null when missing); a failed read is a LookupError
// naming the look-up; a payload that does not fit reads nothing.
func TestReadLookups(t *testing.T) {
	p := carts(t)
	r := &reader{
		queries:   map[string][]map[string]any{"price": {{"sku": "s1", "name": "Soap", "price": int64(7)}}},
		instances: map[string]store.Instance{"product/s1": {Aggregate: "product", ID: "s1", Version: 1, State: json.RawMessage(`{"name":"Soap","price":7}`)}},
	}
	req := &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "AddItem", Payload: json.RawMessage(`{"sku":"s1","qty":2}`)}
	require.NoError(t, cuesource.ReadLookups(t.Context(), p, req, r))
	assert.Equal(t, map[string]any{"sku": "s1"}, r.params)
	assert.Equal(t, map[string]any{
		"price":   []any{map[string]any{"sku": "s1", "name": "Soap", "price": 7}},
		"product": map[string]any{"name": "Soap", "price": 7},
	}, req.Lookups)

	req = &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "AddItem", Payload: json.RawMessage(`{"sku":"s2","qty":2}`)}
	require.NoError(t, cuesource.ReadLookups(t.Context(), p, req, r))
	assert.Nil(t, req.Lookups["product"], "no such product")

	req = &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "AddItem", Payload: json.RawMessage(`{"sku":"s1","qty":0}`)}
	require.NoError(t, cuesource.ReadLookups(t.Context(), p, req, r))
	assert.Nil(t, req.Lookups, "a payload Decide refuses reads nothing")

	r.fail = errors.New("disk on fire")
	req = &cuesource.CommandRequest{Aggregate: "cart", ID: "k1", Command: "AddItem", Payload: json.RawMessage(`{"sku":"s1","qty":2}`)}
	err := cuesource.ReadLookups(t.Context(), p, req, r)
	var le *cuesource.LookupError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "price", le.Lookup)
}
