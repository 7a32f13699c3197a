package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
)

func TestHistoryReplaysEventByEvent(t *testing.T) {
	s := newServer(t, api.Options{})
	storeOld(t, s)
	r := s.do("GET", "/cart/c1/history", "")
	require.Equal(t, 200, r.Status, "%s", r)
	var h struct {
		Version int
		Initial map[string]any
		Steps   []struct {
			Event  shown
			Stored shown
			Lenses []struct {
				Version int
				Payload map[string]any
			}
			State map[string]any
			Error string
		}
	}
	require.NoError(t, json.Unmarshal(r.Body, &h))
	assert.Equal(t, 4, h.Version)
	assert.Equal(t, "new", h.Initial["status"])
	require.Len(t, h.Steps, 4)

	// The version-0 ItemAdded: as stored, then after each lens.
	add := h.Steps[1]
	assert.Equal(t, shown{"ItemAdded", 0, map[string]any{"sku": "A-1", "quantity": 2.0}}, add.Stored)
	assert.Equal(t, shown{"ItemAdded", 2, map[string]any{"sku": "A-1", "qty": 2.0, "price": 0.0}}, add.Event)
	require.Len(t, add.Lenses, 3)
	for i, want := range []map[string]any{
		{"sku": "A-1", "quantity": 2.0},
		{"sku": "A-1", "qty": 2.0},
		{"sku": "A-1", "qty": 2.0, "price": 0.0},
	} {
		assert.Equal(t, i, add.Lenses[i].Version)
		assert.Equal(t, want, add.Lenses[i].Payload)
	}
	// The state after each event: time travel.
	assert.Equal(t, "open", h.Steps[0].State["status"])
	assert.Equal(t, map[string]any{"A-1": map[string]any{"qty": 2.0, "price": 0.0}}, h.Steps[1].State["items"])
	assert.Len(t, h.Steps[2].State["items"], 2)
	assert.Equal(t, "abandoned", h.Steps[3].State["status"])
	assert.Equal(t, shown{"CartDropped", 0, map[string]any{}}, h.Steps[3].Stored)
	assert.Equal(t, "CartAbandoned", h.Steps[3].Event.Type)
	for _, st := range h.Steps {
		assert.Empty(t, st.Error)
	}

	assertProblem(t, s.do("GET", "/cart/nope/history", ""), 404, "instance_missing")
	assertProblem(t, s.do("GET", "/nope/c1/history", ""), 404, "unknown_aggregate")
}

// TestHistoryIsBounded: a history over Options.MaxHistory steps is
// refused with its version and the limit, pointing to the event pages;
// one at the limit is answered.
func TestHistoryIsBounded(t *testing.T) {
	s := newServer(t, api.Options{MaxHistory: 3})
	storeOld(t, s) // c1 at version 4
	m := assertProblem(t, s.do("GET", "/cart/c1/history", ""), 422, "history_too_long")
	assert.Equal(t, 4.0, m["version"])
	assert.Equal(t, 3.0, m["limit"])
	assert.Contains(t, m["detail"], "GET /cart/c1/events?after=")
	assert.Equal(t, 200, s.do("GET", "/cart/c1/events", "").Status)

	// Refused before any event is read: the instance's version says it.
	svc := api.New(example(t), eventsRefused{s.backend, t}, api.Options{MaxHistory: 3})
	r := svc.Serve(t.Context(), &api.Request{Method: "GET", Path: "/cart/c1/history", Header: api.Header{}})
	assert.Equal(t, 422, r.Status, "%s", r.Body)

	s = newServer(t, api.Options{MaxHistory: 4})
	storeOld(t, s)
	h := s.do("GET", "/cart/c1/history", "")
	require.Equal(t, 200, h.Status, "%s", h)
	assert.Len(t, h.json(t)["steps"], 4)
}

// eventsRefused is a backend whose instance events must not be read.
type eventsRefused struct {
	api.Backend
	t *testing.T
}

func (b eventsRefused) Events(context.Context, string, string, int64, int) ([]store.Event, error) {
	b.t.Error("the instance's events were read")
	return nil, nil
}

func TestContextDescribesTheModel(t *testing.T) {
	s := newServer(t, api.Options{})
	r := s.do("GET", "/context", "")
	require.Equal(t, 200, r.Status)
	var doc struct {
		Name       string
		Aggregates map[string]struct {
			Commands map[string]struct {
				Payload  map[string]any
				Instance string
				Guards   []string
			}
			Events map[string]struct {
				Version int
				Aliases []string
			}
			Invariants []string
		}
		Projections map[string]struct{ Mode string }
		Queries     map[string]any
		Effects     map[string]struct {
			On       []string
			Delivery string
		}
	}
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	assert.Equal(t, "shop", doc.Name)
	cart := doc.Aggregates["cart"]
	assert.Equal(t, "new", cart.Commands["Open"].Instance)
	assert.Contains(t, cart.Commands["AddItem"].Guards, "cart is not open")
	assert.Equal(t, "object", cart.Commands["AddItem"].Payload["type"])
	assert.Equal(t, 2, cart.Events["ItemAdded"].Version)
	assert.Equal(t, []string{"CartDropped"}, cart.Events["CartAbandoned"].Aliases)
	assert.Contains(t, cart.Invariants, "total is never negative")
	assert.Equal(t, "inline", doc.Projections["cart_summary"].Mode)
	assert.NotEmpty(t, doc.Queries)
	assert.NotEmpty(t, doc.Effects)
	assert.Equal(t, 405, s.do("POST", "/context", "{}").Status)

	svg := s.do("GET", "/diagram.svg", "")
	require.Equal(t, 200, svg.Status)
	assert.Equal(t, "image/svg+xml", svg.Header.Get("Content-Type"))
	assert.Contains(t, string(svg.Body), `data-name="cart.AddItem"`)
}

// GET /context shows the declared retention, the context's and each
// aggregate's own; a context without one shows none.
func TestContextShowsRetention(t *testing.T) {
	fresh, err := compile("../contexts/example.cue") // not the shared one: it changes
	require.NoError(t, err)
	m := fresh.Manifest
	m.Retention = &manifest.Retention{KeepFor: "90d", HotBytes: 1 << 20}
	m.Aggregates["cart"].Retention = &manifest.Retention{KeepLast: 5}
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	r := newServerFor(t, p, api.Options{}).do("GET", "/context", "")
	require.Equal(t, 200, r.Status)
	var doc struct {
		Retention  map[string]any
		Aggregates map[string]struct{ Retention map[string]any }
	}
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	assert.Equal(t, map[string]any{"keepFor": "90d", "hotBytes": float64(1 << 20)}, doc.Retention)
	assert.Equal(t, map[string]any{"keepLast": float64(5)}, doc.Aggregates["cart"].Retention)
	assert.Nil(t, doc.Aggregates["order"].Retention)
}

// GET /context shows the snapshots in effect per aggregate and the
// context's own; a context without snapshots says nothing of them. The
// rehydrate answer says which snapshot its fold started from.
func TestContextShowsSnapshots(t *testing.T) {
	p, err := compile("../testdata/snapshots/counter.cue")
	require.NoError(t, err)
	s := newServerFor(t, p, api.Options{AdminToken: "adm"})
	r := s.do("GET", "/context", "")
	require.Equal(t, 200, r.Status)
	var doc struct {
		Snapshots  *struct{ Every int }
		Aggregates map[string]struct{ Snapshots *struct{ Every int } }
	}
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	require.NotNil(t, doc.Snapshots)
	assert.Equal(t, 3, doc.Snapshots.Every)
	require.NotNil(t, doc.Aggregates["counter"].Snapshots)
	assert.Equal(t, 3, doc.Aggregates["counter"].Snapshots.Every, "the context's")
	require.NotNil(t, doc.Aggregates["often"].Snapshots)
	assert.Equal(t, 2, doc.Aggregates["often"].Snapshots.Every, "its own")

	for i := range 4 {
		require.Less(t, s.do("POST", "/counter/c1/Add", fmt.Sprintf(`{"by":%d}`, i)).Status, 300)
	}
	r = s.do("POST", "/admin/rehydrate/counter/c1", "", "Authorization", "Bearer adm")
	require.Equal(t, 200, r.Status, "%s", r.Body)
	var d struct {
		FromSnapshot *int64
		Events       int
		Drifted      bool
	}
	require.NoError(t, json.Unmarshal(r.Body, &d))
	require.NotNil(t, d.FromSnapshot)
	assert.Equal(t, int64(3), *d.FromSnapshot)
	assert.Equal(t, 1, d.Events)
	assert.False(t, d.Drifted)

	plain := newServer(t, api.Options{AdminToken: "adm"})
	r = plain.do("GET", "/context", "")
	require.Equal(t, 200, r.Status)
	assert.NotContains(t, string(r.Body), `"snapshots"`)
	require.Equal(t, 201, plain.do("POST", "/cart/c1/Open", `{"customer":"ada"}`).Status)
	r = plain.do("POST", "/admin/rehydrate/cart/c1", "", "Authorization", "Bearer adm")
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.NotContains(t, string(r.Body), `fromSnapshot`, "from the first event")
}

// GET /admin/storage answers the runtime's storage status as JSON, to the
// admin token only; other methods are 405.
func TestAdminStorage(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm", Storage: func(context.Context) (any, error) {
		return map[string]any{"hotBytes": 42}, nil
	}})
	r := s.do("GET", "/admin/storage", "", "Authorization", "Bearer adm")
	require.Equal(t, 200, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"hotBytes": 42}`, string(r.Body))
	assert.Equal(t, 401, s.do("GET", "/admin/storage", "").Status)
	assert.Equal(t, 405, s.do("POST", "/admin/storage", "", "Authorization", "Bearer adm").Status)
}
