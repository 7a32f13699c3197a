package interpreter

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/manifest"
)

// Every schema of the example contexts compiles into package jsonsubset,
// in both compiles: every runtime validates and words violations with it.
func TestSchemasCompileToTheSubset(t *testing.T) {
	for _, path := range []string{"../contexts/example.cue", "../contexts/tickets/tickets.cue"} {
		m, err := cuecompiler.Compile(path)
		require.NoError(t, err)
		for _, compile := range []func(*manifest.Manifest) (*Program, error){Compile, CompileChecked} {
			p, err := compile(m)
			require.NoError(t, err)
			for an, a := range p.Aggregates {
				require.NotNil(t, a.state.s, "%s state", an)
				for cn, c := range a.Commands {
					require.NotNil(t, c.payload.s, "%s.%s", an, cn)
				}
				for en, e := range a.Events {
					require.NotNil(t, e.payload.s, "%s.%s", an, en)
				}
			}
		}
	}
}

// The boolean schemas validate as JSON Schema reads them: false accepts
// nothing, true everything.
func TestBooleanSchemas(t *testing.T) {
	c := &compiler{typer: &typer{}}
	s := c.schema(json.RawMessage(`false`), manifest.Pos{})
	require.Empty(t, c.errs)
	require.Equal(t, []Violation{{Message: "false schema"}}, s.validator().validate(map[string]any{}))
	s = c.schema(json.RawMessage(`true`), manifest.Pos{})
	require.Empty(t, s.validator().validate(map[string]any{}))
}

// A schema outside the subset package jsonsubset validates is refused
// where it is declared, by both compiles, naming the keyword and where it
// is in the schema: no runtime validates it otherwise.
func TestSchemaOutsideTheSubsetIsRefused(t *testing.T) {
	for raw, want := range map[string]string{
		`{"type":"object","properties":{"a":{"type":"object","dependentRequired":{"b":["c"]}}}}`: `x.cue:3:5: JSON Schema outside the subset cuesource validates: #/properties/a/dependentRequired: keyword "dependentRequired" is not supported`,
		`{"type":"object","unevaluatedProperties":false}`:                                        `x.cue:3:5: JSON Schema outside the subset cuesource validates: #/unevaluatedProperties: keyword "unevaluatedProperties" is not supported`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`:                  `x.cue:3:5: JSON Schema outside the subset cuesource validates: only draft 2020-12 is read, with $id at the root only`,
		`[1]`: `x.cue:3:5: invalid JSON Schema: a schema must be an object or a boolean`,
	} {
		m := &manifest.Manifest{ManifestVersion: manifest.Version, Aggregates: map[string]*manifest.Aggregate{
			"cart": {Pos: manifest.Pos{File: "x.cue", Line: 1, Col: 1}, State: json.RawMessage(`{"type":"object"}`), Initial: json.RawMessage(`{}`),
				Commands: map[string]*manifest.Command{"Open": {Pos: manifest.Pos{File: "x.cue", Line: 3, Col: 5}, Instance: manifest.InstanceNew, Payload: json.RawMessage(raw)}}},
		}}
		for _, compile := range []func(*manifest.Manifest) (*Program, error){Compile, CompileChecked} {
			_, err := compile(m)
			require.EqualError(t, err, want, raw)
		}
	}
}

// A schema's bounds may be integers a float64 does not hold exactly (CUE's
// int64 gives ±2^63): they compile, and bound as the nearest float64.
func TestSchemaWithInt64Bounds(t *testing.T) {
	c := &compiler{typer: &typer{}}
	s := c.schema(json.RawMessage(`{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}`), manifest.Pos{})
	require.Empty(t, c.errs)
	require.Empty(t, s.validator().validate(5))
	require.Equal(t, []Violation{{Message: "must be at most 9.223372036854776e+18, got 1e+19"}}, s.validator().validate(1e19))
}
