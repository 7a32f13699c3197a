package interpreter

import (
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
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

// A schema that is not an object (the boolean schemas) gets no fast path:
// its doc is nil, which would otherwise compile to a fast path accepting
// everything, false included.
func TestBooleanSchemaHasNoFastPath(t *testing.T) {
	for _, checked := range []bool{false, true} {
		c := &compiler{checked: checked, typer: &typer{}, schemas: jsonschema.NewCompiler()}
		c.schemas.DefaultDraft(jsonschema.Draft2020)
		s := c.schema(json.RawMessage(`false`), "mem:///false.json", manifest.Pos{})
		require.Empty(t, c.errs)
		require.Nil(t, s.fast)
		require.NotEmpty(t, s.validator().validate(map[string]any{}), "checked %v", checked)
		s = c.schema(json.RawMessage(`true`), "mem:///true.json", manifest.Pos{})
		require.Empty(t, s.validator().validate(map[string]any{}), "checked %v", checked)
	}
}
