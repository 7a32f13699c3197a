package scenario_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/scenario"
)

func compileCarts(t *testing.T) *interpreter.Program {
	t.Helper()
	m, err := compiler.Compile("../contexts/carts")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

func named(t *testing.T, p *interpreter.Program, name string) *manifest.Scenario {
	t.Helper()
	for _, s := range p.Manifest.Scenarios {
		if s.Name == name {
			c := *s
			return &c
		}
	}
	t.Fatalf("no scenario %q", name)
	return nil
}

// The carts' scenarios state the world their commands meet: another
// cart holding the client's key (unique_violation, then released by a
// check-out), a product whose price a look-up reads from the projection.
// They pass in process and over HTTP; and each fails when the world says
// otherwise, so the world is what decides.
func TestScenarioWorld(t *testing.T) {
	p := compileCarts(t)
	for _, s := range p.Manifest.Scenarios {
		r := scenario.Run(p, s)
		assert.True(t, r.Pass, "%s: %v", s.Name, r.Failures)
		// Ids as written: the look-up names its product by the id the
		// payload carries, which no suffix reaches.
		target := scenario.Target{URL: serveBank(t, p), AdminToken: "adm", KeepIDs: true}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		h := scenario.RunHTTP(ctx, target, s)
		cancel()
		assert.True(t, h.Pass, "%s over HTTP: %v", s.Name, h.Failures)
	}

	// Without the other cart, nothing holds the key: Open succeeds.
	s := named(t, p, "a client has one open cart")
	s.Given = nil
	r := scenario.Run(p, s)
	assert.False(t, r.Pass)
	assert.Contains(t, r.Failures[0], `want rejection "unique_violation", but the command succeeded with Opened`)

	// The other cart checked out: its key is released only then.
	s = named(t, p, "a client who checked out may open a new cart")
	s.Given = s.Given[:2]
	r = scenario.Run(p, s)
	assert.False(t, r.Pass)
	assert.Contains(t, r.Failures[0], `rejected unexpectedly: unique openCartPerClient: the key "c-4" is held by another cart`)

	// Another catalogue price is the price the cart records.
	s = named(t, p, "the price is the catalogue's")
	s.Given = append([]manifest.GivenItem(nil), s.Given...)
	s.Given[0].Payload = json.RawMessage(`{"name":"Soap","price":9}`)
	r = scenario.Run(p, s)
	assert.False(t, r.Pass)
	assert.Contains(t, r.Failures[0], `"unitPrice":9`)
}
