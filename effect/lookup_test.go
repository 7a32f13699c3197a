package effect_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/effect"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

const lookupContext = `package fxl

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "fxl"
	aggregates: product: {
		#state: price: int
		initial: price: 0
		commands: List: {
			instance: "any"
			#payload: price: int
			emit: [{event: "Listed", payload: price: "cmd.price"}]
		}
		events: Listed: {
			#payload: price: int
			apply: price:    "event.price"
		}
	}
	aggregates: quote: {
		#state: price: int
		initial: price: 0
		commands: Quote: {
			instance: "any"
			#payload: sku: string
			lookup: product: {aggregate: "product", id: "cmd.sku"}
			require: "not listed": "lookup.product != nil"
			emit: [{event: "Quoted", payload: price: "lookup.product.price"}]
		}
		events: Quoted: {
			#payload: price: int
			apply: price:    "event.price"
		}
	}
	effects: quote_on_list: {
		on:       "product.Listed"
		delivery: "sync"
		send: {aggregate: "quote", id: "meta.aggregateId", command: "Quote", payload: sku: "meta.aggregateId"}
	}
}
`

// A command an effect sends reads its look-ups as one a client sends:
// the quote records the product's price.
func TestSendReadsLookups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fxl.cue")
	require.NoError(t, os.WriteFile(path, []byte(lookupContext), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	var h *harness
	h = newHarness(t, p, effect.Options{Lookups: cuesource.Readers{LoadFunc: func(ctx context.Context, aggregate, id string) (store.Instance, error) {
		return h.be.Load(ctx, aggregate, id)
	}}})
	rs := reports(t, h.command("product", "p1", "List", `{"price":7}`))
	require.Len(t, rs, 1)
	require.True(t, rs[0].OK, "%+v", rs[0])
	in, err := h.st.Load(t.Context(), "quote", "p1")
	require.NoError(t, err)
	assert.JSONEq(t, `{"price":7}`, string(in.State))
}
