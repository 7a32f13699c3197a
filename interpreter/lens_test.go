package interpreter

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/internal/jsonsubset"
	"github.com/cuesource/cuesource/value"
)

func compileFile(t *testing.T, path string) *Program {
	t.Helper()
	m, err := cuecompiler.Compile(path)
	require.NoError(t, err)
	p, err := Compile(m)
	require.NoError(t, err)
	return p
}

// TestFusedEqualsSequential is the property that makes fusion safe: for
// every event with lenses, from every stored version, on payloads drawn at
// random from that version's schema, the fused program gives what the
// lenses give one by one (or both fail).
func TestFusedEqualsSequential(t *testing.T) {
	for _, path := range []string{"testdata/lenses.cue", "../contexts/example.cue"} {
		p := compileFile(t, path)
		for _, a := range p.Aggregates {
			for _, e := range a.Events {
				for v := range e.steps {
					r := rand.New(rand.NewPCG(uint64(v), 42))
					for i := 0; i < 300; i++ {
						x, err := jsonsubset.Random(e.steps[v].from.doc, r)
						require.NoError(t, err, "%s v%d", e.Name, v)
						want, werr := e.UpcastSteps(v, x)
						got, gerr := e.Upcast(v, x)
						if werr != nil {
							require.Error(t, gerr, "%s v%d on %s: the chain fails (%v), the fused program does not", e.Name, v, value.Text(x), werr)
							continue
						}
						require.NoError(t, gerr, "%s v%d on %s", e.Name, v, value.Text(x))
						require.True(t, value.Equal(want, got), "%s v%d on %s:\nfused      %s\nsequential %s", e.Name, v, value.Text(x), value.Text(got), value.Text(want))
						require.Empty(t, e.ValidateAt(e.Version(), got), "%s v%d on %s gives %s", e.Name, v, value.Text(x), value.Text(got))
					}
				}
			}
		}
	}
}

// TestFusionSubstitutes shows what fusion makes of a four-lens chain read
// from version 0: one expression over the stored payload (__lens0), each
// lens's event.f replaced by what the lens before gave f, the price (used
// twice) bound once, and note carried over only when stored.
func TestFusionSubstitutes(t *testing.T) {
	p := compileFile(t, "testdata/lenses.cue")
	e := p.Aggregates["thing"].Events["Fields"]
	require.Equal(t, 4, e.Version())
	require.Equal(t, "let __lens0 = event; let __lens1 = __lens0.quantity > 10 ? 1.5 : 2; "+
		"__lens_carry(5, \"sku\", upper(__lens0.sku), \"price\", __lens1, \"qty\", __lens0.quantity * 2, "+
		"\"tags\", __lens0.note != nil ? [__lens0.note] : [] ?? [], \"total\", __lens0.quantity * __lens1 + __lens0.quantity, __lens0, [\"note\"])",
		e.fusedUp[0].prog.Source().String())
	for v, x := range e.fusedUp {
		require.NotNil(t, x, "version %d", v)
	}
}
