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
