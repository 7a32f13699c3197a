package interpreter

import (
	"testing"

	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/manifest"
)

// Every schema of the example contexts takes jsonsubset's fast path, in
// both compiles: a Worker (CompileChecked) validates without compiling
// jsonschema until a document is invalid.
func TestSchemasTakeTheFastPath(t *testing.T) {
	for _, path := range []string{"../contexts/example.cue", "../contexts/tickets/tickets.cue"} {
		m, err := cuecompiler.Compile(path)
		require.NoError(t, err)
		for _, compile := range []func(*manifest.Manifest) (*Program, error){Compile, CompileChecked} {
			p, err := compile(m)
			require.NoError(t, err)
			for an, a := range p.Aggregates {
				require.NotNil(t, a.state.fast, "%s state", an)
				for cn, c := range a.Commands {
					require.NotNil(t, c.payload.fast, "%s.%s", an, cn)
				}
				for en, e := range a.Events {
					require.NotNil(t, e.payload.fast, "%s.%s", an, en)
				}
			}
		}
	}
}
