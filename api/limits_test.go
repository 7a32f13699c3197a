package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
)

// A command whose resulting state, or one of whose events, is over the
// context's limit is rejected with a problem naming the limit, and nothing
// is written.
func TestStateAndEventLimits(t *testing.T) {
	p := *example(t)
	p.Limits.StateBytes = 200
	s := newServerFor(t, &p, api.Options{})
	s.post("/cart/c1/Open", `{"customer":"ada"}`, http.StatusCreated)
	big := strings.Repeat("x", 300)
	m := assertProblem(t, s.do(http.MethodPost, "/cart/c2/Open", `{"customer":"`+big+`"}`), http.StatusUnprocessableEntity, "state_too_large")
	assert.Equal(t, "stateBytes", m["limit"])
	assert.Equal(t, float64(200), m["max"])
	assert.Greater(t, m["size"], float64(300))
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodGet, "/cart/c2", "").Status)
	assert.Equal(t, 1, s.eventCount())

	p2 := *example(t)
	p2.Limits.EventBytes = 100
	s = newServerFor(t, &p2, api.Options{AdminToken: "adm"})
	m = assertProblem(t, s.do(http.MethodPost, "/cart/c2/Open", `{"customer":"`+big+`"}`), http.StatusUnprocessableEntity, "event_too_large")
	assert.Equal(t, "eventBytes", m["limit"])
	assert.Equal(t, float64(100), m["max"])
	assert.Equal(t, http.StatusNotFound, s.do(http.MethodGet, "/cart/c2", "").Status)
	assert.Equal(t, 0, s.eventCount())
	// Seeded events are held to the same limit.
	m = assertProblem(t, s.do(http.MethodPost, "/admin/seed/cart/c3", `{"events":[{"event":"CartOpened","payload":{"customer":"`+big+`"}}]}`, "Authorization", "Bearer adm"),
		http.StatusUnprocessableEntity, "event_too_large")
	assert.Equal(t, "eventBytes", m["limit"])
	assert.Equal(t, 0, s.eventCount())
}

// Live streams past the cap are refused with 503 and Retry-After; when one
// ends, its place is free again.
func TestStreamCap(t *testing.T) {
	s := newServer(t, api.Options{MaxStreams: 2})
	a, r := s.openStream(t, "")
	require.Nil(t, r)
	b, r := s.openStream(t, "")
	require.Nil(t, r)
	_, r = s.openStream(t, "")
	require.NotNil(t, r)
	m := assertProblem(t, r, http.StatusServiceUnavailable, "too_many_streams")
	assert.Equal(t, "maxStreams", m["limit"])
	assert.Equal(t, float64(2), m["max"])
	assert.NotEmpty(t, r.Header.Get("Retry-After"))

	a.cancel()
	for ended := 0; ended < 2; { // the refused stream's request and a's
		if <-s.ended == "GET /events" {
			ended++
		}
	}
	c, r := s.openStream(t, "")
	require.Nil(t, r, "a stream's place is free once it ended")
	s.post("/cart/c1/Open", `{"customer":"ada"}`, http.StatusCreated)
	checkFrame(t, c.next(t, 10*time.Second), 1, "cart.CartOpened")
	checkFrame(t, b.next(t, 10*time.Second), 1, "cart.CartOpened")
}
