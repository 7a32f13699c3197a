package cli

import (
	"testing"

	"github.com/cuesource/cuesource/manifest"
)

// TestDiff: what a swap changed, by definition and not by where it is
// written.
func TestDiff(t *testing.T) {
	m := func(cmds map[string]*manifest.Command, projs map[string]*manifest.Projection) *manifest.Manifest {
		return &manifest.Manifest{Aggregates: map[string]*manifest.Aggregate{"cart": {Commands: cmds, Events: map[string]*manifest.Event{}}}, Projections: projs}
	}
	old := m(map[string]*manifest.Command{
		"Open": {Instance: "new", Pos: manifest.Pos{Line: 3}},
		"Drop": {Instance: "existing"},
		"Pay":  {Instance: "existing"},
	}, map[string]*manifest.Projection{"carts": {Mode: "inline"}})
	cur := m(map[string]*manifest.Command{
		"Open":   {Instance: "new", Pos: manifest.Pos{Line: 9}}, // moved only
		"Pay":    {Instance: "any"},
		"Rename": {Instance: "existing"},
	}, map[string]*manifest.Projection{"carts": {Mode: "async"}, "skus": {}})
	got := diff(old, cur).String()
	want := "commands added: cart.Rename; commands removed: cart.Drop; commands changed: cart.Pay; projections added: skus; projections changed: carts"
	if got != want {
		t.Errorf("diff:\n got %s\nwant %s", got, want)
	}
	if got := diff(old, old).String(); got != "no command, event or projection changed" {
		t.Errorf("no change: %s", got)
	}
}
