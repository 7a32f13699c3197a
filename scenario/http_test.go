package scenario_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/scenario"
	"github.com/cuesource/cuesource/store/memory"
)

// A context whose rules read the instance id, and a command that needs
// If-Match: what `test --url` used to fail on (a random suffix on the id,
// and no If-Match, so 428).
const vault = `package v

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "vault"
	aggregates: box: {
		#state: {owner: string, n: int}
		initial: {owner: "", n: 0}
		commands: {
			Open: {
				instance: "new"
				require: "the box is the owner's": "meta.aggregateId == 'box-' + 'ada'"
				emit: [{event: "Opened", payload: owner: "meta.aggregateId"}]
			}
			Put: {
				ifMatch: "required"
				emit: [{event: "Put"}]
			}
		}
		events: {
			Opened: {#payload: owner: string, apply: owner: "event.owner"}
			Put: apply: n: "state.n + 1"
		}
	}
	scenarios: {
		"the owner's box": {
			aggregate: "box"
			id:        "box-ada"
			when: [{command: "Open"}, {command: "Put"}, {command: "Put"}]
			then: state: {owner: "box-ada", n: 2}
		}
		"after given events": {
			aggregate: "box"
			id:        "box-bob"
			given: [{event: "Opened", payload: owner: "box-bob"}]
			when: {command: "Put"}
			then: state: n: 1
		}
	}
}
`

func TestRunHTTPKeepsIDsAndSendsIfMatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.cue")
	require.NoError(t, os.WriteFile(path, []byte(vault), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	for _, s := range m.Scenarios {
		require.True(t, scenario.Run(p, s).Pass, "in process: %s", s.Name)
	}

	b := native.New(p, memory.New(), engine.Options{})
	t.Cleanup(b.Close)
	srv := httptest.NewServer(nethttp.Handler(api.New(p, b, api.Options{AdminToken: "adm"}), nethttp.Options{}))
	t.Cleanup(srv.Close)
	ctx := context.Background()

	// Ids as written: the ownership guard holds, and every Put carries the
	// ETag it needs.
	target := scenario.Target{URL: srv.URL, AdminToken: "adm", KeepIDs: true}
	for _, s := range m.Scenarios {
		r := scenario.RunHTTP(ctx, target, s)
		assert.True(t, r.Pass, "%s: %v", s.Name, r.Failures)
	}

	// With the random suffix (the default), the id the guard reads is
	// another: the scenario fails on it, and only on it.
	target.KeepIDs = false
	r := scenario.RunHTTP(ctx, target, m.Scenarios[0])
	require.False(t, r.Pass)
	require.NotNil(t, r.Error)
	assert.Equal(t, "the box is the owner's", r.Error.Name)
	// The If-Match part does not depend on the id.
	assert.True(t, scenario.RunHTTP(ctx, target, m.Scenarios[1]).Pass)
}

// A scenario that sets the clock: the given events and the commands carry
// their times in process and over HTTP alike.
const clocked = `package c

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "clocked"
	aggregates: lease: {
		#state: {from: string, seen: string, late: bool}
		initial: {from: "", seen: "", late: false}
		commands: Touch: {
			emit: [{event: "Touched", payload: {late: "meta.timestamp > '2026-06-01'"}}]
		}
		events: {
			Started: apply: from: "meta.timestamp"
			Touched: {
				#payload: late: bool
				apply: {seen: "meta.timestamp", late: "event.late"}
			}
		}
	}
	scenarios: {
		"times as written": {
			aggregate: "lease"
			given: [{event: "Started", at: "2026-03-01T10:00:00Z"}]
			when: {command: "Touch", at: "2026-07-05T12:30:00.5Z"}
			then: state: {from: "2026-03-01T10:00:00Z", seen: "2026-07-05T12:30:00.5Z", late: true}
		}
		"a command without its own time follows the last": {
			aggregate: "lease"
			given: [{event: "Started", at: "2026-03-01T10:00:00Z"}]
			when: {command: "Touch"}
			then: state: {seen: "2026-03-01T10:00:00Z", late: false}
		}
	}
}
`

func TestScenarioClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clocked.cue")
	require.NoError(t, os.WriteFile(path, []byte(clocked), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	for _, s := range m.Scenarios {
		r := scenario.Run(p, s)
		assert.True(t, r.Pass, "in process: %s: %v", s.Name, r.Failures)
	}
	b := native.New(p, memory.New(), engine.Options{})
	t.Cleanup(b.Close)
	srv := httptest.NewServer(nethttp.Handler(api.New(p, b, api.Options{AdminToken: "adm"}), nethttp.Options{}))
	t.Cleanup(srv.Close)
	for _, s := range m.Scenarios {
		r := scenario.RunHTTP(context.Background(), scenario.Target{URL: srv.URL, AdminToken: "adm"}, s)
		assert.True(t, r.Pass, "over HTTP: %s: %v", s.Name, r.Failures)
	}
}
