package interpreter

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	cuecompiler "github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/manifest"
)

// CompileChecked (a Worker's cold start) compiles no expression: each
// compiles on its first run, once. Compile compiles every one up front.
func TestCompileCheckedCompilesOnFirstUse(t *testing.T) {
	m, err := cuecompiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	full, err := Compile(m)
	require.NoError(t, err)
	checked, err := CompileChecked(m)
	require.NoError(t, err)
	open := func(p *Program) *Command { return p.Aggregates["cart"].Commands["AddItem"] }
	require.NotEmpty(t, open(checked).Require)
	for _, g := range open(full).Require {
		require.Nil(t, g.lazy, g.Name)
		require.NotNil(t, g.prog, g.Name)
	}
	for _, g := range open(checked).Require {
		require.NotNil(t, g.lazy, g.Name)
		require.Nil(t, g.lazy.prog, "%s compiled before its first run", g.Name)
	}
	for _, inv := range checked.Aggregates["cart"].Invariants {
		require.Nil(t, inv.lazy.prog, "%s compiled before its first run", inv.Name)
	}
	g := open(checked).Require[0]
	env := &Env{Cmd: map[string]any{"sku": "TEA-01", "qty": 1, "price": 4.5}, State: map[string]any{"status": "open", "items": map[string]any{}}}
	want, err := open(full).Require[0].Holds(env)
	require.NoError(t, err)
	got, err := g.Holds(env)
	require.NoError(t, err)
	require.Equal(t, want, got)
	prog := g.lazy.prog
	require.NotNil(t, prog)
	_, err = g.Holds(env)
	require.NoError(t, err)
	require.Same(t, prog, g.lazy.prog, "compiled again")
}

// An expression that does not compile (a manifest Compile never wrote)
// fails where it runs with the positioned error Compile reports.
func TestCompileCheckedReportsCompileErrorsAtFirstRun(t *testing.T) {
	pos := manifest.Pos{File: "x.cue", Line: 7, Col: 12, Path: `aggregates.cart.commands.Open.require["bad"]`}
	m := &manifest.Manifest{ManifestVersion: manifest.Version, Aggregates: map[string]*manifest.Aggregate{
		"cart": {Pos: manifest.Pos{File: "x.cue", Line: 1, Col: 1}, State: json.RawMessage(`{"type":"object"}`), Initial: json.RawMessage(`{}`),
			Commands: map[string]*manifest.Command{"Open": {
				Pos: manifest.Pos{File: "x.cue", Line: 5, Col: 3}, Instance: manifest.InstanceNew, Payload: json.RawMessage(`{"type":"object"}`),
				Require: []manifest.Named{{Name: "bad", Expr: manifest.Expr{Src: "cmd.a +", Pos: pos}}},
			}}},
	}}
	_, err := Compile(m)
	var list diag.List
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 1)
	p, err := CompileChecked(m)
	require.NoError(t, err)
	for range 2 { // every run gives it
		_, err = p.Aggregates["cart"].Commands["Open"].Require[0].Holds(&Env{Cmd: map[string]any{}})
		var ee *EvalError
		require.True(t, errors.As(err, &ee), "%v", err)
		require.Equal(t, list[0].Pos, ee.Pos)
		require.Equal(t, list[0].Msg, ee.Msg)
	}
}
