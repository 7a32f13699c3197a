package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
)

// storeOld writes cart c1's history as older definitions wrote it:
// ItemAdded at versions 0 and 1 and a CartDropped (now CartAbandoned), and
// a current ItemAdded from a command.
func storeOld(t *testing.T, s *server) {
	t.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(n int, typ string, v int, payload string) store.Event {
		return store.Event{ID: "old-" + typ + string(rune('0'+n)), Type: typ, SchemaVersion: v, Time: at, CommandID: "old", Payload: json.RawMessage(payload)}
	}
	_, err := s.store.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: "c1", State: json.RawMessage(
		`{"customer":"ada","discount":0,"items":{"A-1":{"price":0,"qty":2},"B-2":{"price":0,"qty":1}},"status":"abandoned","total":0}`),
		Events: []store.Event{
			ev(1, "CartOpened", 0, `{"customer":"ada"}`),
			ev(2, "ItemAdded", 0, `{"sku":"A-1","quantity":2}`),
			ev(3, "ItemAdded", 1, `{"sku":"B-2","qty":1}`),
			ev(4, "CartDropped", 0, `{}`),
		}})
	require.NoError(t, err)
}

type shown struct {
	Type          string
	SchemaVersion int
	Payload       map[string]any
}

func events(t *testing.T, s *server, path string) []shown {
	t.Helper()
	r := s.do("GET", path, "")
	require.Equal(t, 200, r.Status, "%s", r)
	var page struct{ Events []shown }
	require.NoError(t, json.Unmarshal(r.Body, &page))
	return page.Events
}

func TestEventReadsShowTheCurrentVersion(t *testing.T) {
	s := newServer(t, api.Options{})
	storeOld(t, s)
	current := []shown{
		{"CartOpened", 0, map[string]any{"customer": "ada"}},
		{"ItemAdded", 2, map[string]any{"sku": "A-1", "qty": 2.0, "price": 0.0}},
		{"ItemAdded", 2, map[string]any{"sku": "B-2", "qty": 1.0, "price": 0.0}},
		{"CartAbandoned", 0, map[string]any{}},
	}
	stored := []shown{
		{"CartOpened", 0, map[string]any{"customer": "ada"}},
		{"ItemAdded", 0, map[string]any{"sku": "A-1", "quantity": 2.0}},
		{"ItemAdded", 1, map[string]any{"sku": "B-2", "qty": 1.0}},
		{"CartDropped", 0, map[string]any{}},
	}
	for _, path := range []string{"/cart/c1/events", "/events"} {
		assert.Equal(t, current, events(t, s, path), path)
		assert.Equal(t, stored, events(t, s, path+"?raw=true"), path)
		assert.Equal(t, current, events(t, s, path+"?raw=false"), path)

		// Pinned to an older version: through the down lenses, or as
		// stored when stored at that version.
		atV0 := events(t, s, path+"?pin=cart.ItemAdded@0")
		assert.Equal(t, []shown{
			{"ItemAdded", 0, map[string]any{"sku": "A-1", "quantity": 2.0}},
			{"ItemAdded", 0, map[string]any{"sku": "B-2", "quantity": 1.0}},
		}, atV0[1:3], path)
		atV1 := events(t, s, path+"?pin=cart.ItemAdded@1,cart.CartAbandoned@0")
		assert.Equal(t, []shown{
			{"ItemAdded", 1, map[string]any{"sku": "A-1", "qty": 2.0}},
			{"ItemAdded", 1, map[string]any{"sku": "B-2", "qty": 1.0}},
			{"CartAbandoned", 0, map[string]any{}},
		}, atV1[1:4], path)
	}

	// A command appends at the current version beside the old events.
	s.post("/cart/c2/Open", `{"customer":"bob"}`, 201)
	s.post("/cart/c2/AddItem", `{"sku":"C-3","qty":1,"price":2}`, 200)
	raw := events(t, s, "/cart/c2/events?raw=true")
	assert.Equal(t, shown{"ItemAdded", 2, map[string]any{"sku": "C-3", "qty": 1.0, "price": 2.0}}, raw[1])

	// Replaying the old events through the lenses gives the stored state.
	inst, err := s.store.Load(t.Context(), "cart", "c1")
	require.NoError(t, err)
	evs, err := s.store.Events(t.Context(), "cart", "c1", 0, 0)
	require.NoError(t, err)
	d := cuesource.Compare(example(t), inst, evs)
	assert.Empty(t, d.Error)
	assert.False(t, d.Drifted, "stored %s, rebuilt %s", d.Stored, d.Rebuilt)
}

func TestEventReadParametersAreChecked(t *testing.T) {
	s := newServer(t, api.Options{})
	storeOld(t, s)
	for query, detail := range map[string]string{
		"raw=yes":                          `query parameter raw must be true or false, got "yes"`,
		"pin=ItemAdded":                    `pin must be aggregate.Event@version, got "ItemAdded"`,
		"pin=cart.ItemAdded@x":             `pin must be aggregate.Event@version, got "cart.ItemAdded@x"`,
		"pin=cart.Nope@0":                  `pin "cart.Nope@0" names no event of the context`,
		"pin=cart.ItemAdded@3":             `pin "cart.ItemAdded@3": ItemAdded has versions 0 to 2`,
		"pin=cart.CartOpened@1":            `pin "cart.CartOpened@1": CartOpened has versions 0 to 0`,
		"raw=true&pin=cart.ItemAdded@1":    `raw=true shows events as stored; it cannot be pinned`,
		"pin=cart.CartDropped@0&pin=x.Y@0": `pin "x.Y@0" names no event of the context`,
	} {
		for _, path := range []string{"/cart/c1/events?", "/events?"} {
			p := assertProblem(t, s.do("GET", path+query, ""), 400, "invalid_parameter")
			assert.Equal(t, detail, p["detail"], path+query)
		}
	}
}

func TestSeedOldHistory(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm"})
	admin := []string{"Authorization", "Bearer adm"}
	r := s.post("/admin/seed/cart/h1", `{"events":[
		{"event":"CartOpened","payload":{"customer":"ada"}},
		{"event":"ItemAdded","version":0,"payload":{"sku":"TEA-01","quantity":2}},
		{"event":"CartDropped","version":0}
	]}`, 201, admin...)
	state := assertJSON(t, r, 201)["state"].(map[string]any)
	assert.Equal(t, "abandoned", state["status"])
	assert.Equal(t, map[string]any{"TEA-01": map[string]any{"qty": 2.0, "price": 0.0}}, state["items"])
	assert.Equal(t, []shown{
		{"CartOpened", 0, map[string]any{"customer": "ada"}},
		{"ItemAdded", 0, map[string]any{"sku": "TEA-01", "quantity": 2.0}},
		{"CartDropped", 0, map[string]any{}},
	}, events(t, s, "/cart/h1/events?raw=true"), "stored as given")

	for body, kind := range map[string]string{
		`{"events":[{"event":"ItemAdded","version":3,"payload":{}}]}`:                      "invalid_body",
		`{"events":[{"event":"ItemAdded","version":0,"payload":{"sku":"A","qty":1}}]}`:     "schema",
		`{"events":[{"event":"ItemAdded","version":1,"payload":{"sku":"A","qty":"one"}}]}`: "schema",
	} {
		assertProblem(t, s.do("POST", "/admin/seed/cart/h2", body, admin...), 400, kind)
	}
	assertProblem(t, s.do("GET", "/cart/h2", ""), 404, "instance_missing")
}

// An event the lenses cannot read fails the read by name, and the stored
// form stays readable.
func TestUnreadableEventFailsTheRead(t *testing.T) {
	s := newServer(t, api.Options{})
	_, err := s.store.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: "c9", State: json.RawMessage(`{"customer":"","discount":0,"items":{},"status":"new","total":0}`),
		Events: []store.Event{{ID: "future-1", Type: "ItemAdded", SchemaVersion: 7, Time: time.Now(), CommandID: "future", Payload: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	for _, path := range []string{"/cart/c9/events", "/events"} {
		p := assertProblem(t, s.do("GET", path, ""), 500, "lens_failed")
		assert.Contains(t, p["detail"], "future-1")
		assert.Contains(t, p["detail"], "ItemAdded is at version 2: no lens reads version 7")
		assert.Equal(t, []shown{{"ItemAdded", 7, map[string]any{}}}, events(t, s, path+"?raw=true"))
	}
}
