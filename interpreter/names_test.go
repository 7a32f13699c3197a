package interpreter

import (
	"testing"

	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
)

// Names the HTTP API's routes and the store's tables take are refused, and
// the refusals list them as they always have: the lists come from the
// route table and the store.
func TestReservedNames(t *testing.T) {
	m, err := cuecompiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	m.Aggregates["queries"] = m.Aggregates["cart"]
	_, err = Compile(m)
	require.ErrorContains(t, err, `aggregate name "queries" is reserved: it is a route of the HTTP API (admin, context, events, healthz, openapi, projections, queries)`)

	m, err = cuecompiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	m.Aggregates["cart"].Commands["events"] = m.Aggregates["cart"].Commands["Open"]
	m.Aggregates["cart"].Commands["history"] = m.Aggregates["cart"].Commands["Open"]
	_, err = Compile(m)
	require.ErrorContains(t, err, `command name "events" is reserved: GET /cart/{id}/events lists an instance's events`)
	require.NotContains(t, err.Error(), `"history"`, "POST /cart/{id}/history runs a command: GET alone is the history")

	m, err = cuecompiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	for name, p := range m.Projections {
		m.Projections["outbox"] = p
		delete(m.Projections, name)
		break
	}
	_, err = Compile(m)
	require.ErrorContains(t, err, `projection name "outbox" is taken by the event store's own tables (archive_segments, dead_letters, events, hot_log, idempotency, instances, outbox, projections, snapshots, unique_constraints, unique_keys)`)
}
