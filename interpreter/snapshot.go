package interpreter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/cuesource/cuesource/manifest"
)

// foldRules names the rules by which events fold into a state beyond
// what a definition says (the engine's evolve, the standard library).
// Changing it invalidates every snapshot ever taken.
const foldRules = "cuesource fold 1"

// snapshots sets each aggregate's effective snapshot interval (its own,
// else the context's) and its definition hash.
func (c *compiler) snapshots(m *manifest.Manifest, p *Program) {
	check := func(s *manifest.Snapshots, where string) {
		if s != nil && s.Every <= 0 {
			c.errs.Add(s.Pos, "%ssnapshots.every must be above 0, not %d", where, s.Every)
		}
	}
	check(m.Snapshots, "")
	for _, name := range sortedKeys(m.Aggregates) {
		ma, a := m.Aggregates[name], p.Aggregates[name]
		check(ma.Snapshots, "aggregates."+name+".")
		if a == nil {
			continue
		}
		switch {
		case ma.Snapshots != nil:
			a.SnapshotEvery = ma.Snapshots.Every
		case m.Snapshots != nil:
			a.SnapshotEvery = m.Snapshots.Every
		}
		a.Hash = DefinitionHash(ma)
	}
}

// DefinitionHash hashes what determines an aggregate's state from its
// events: the state's schema and initial value, and each event's name,
// former names, payload schema, reducer and lens chain (up). Positions
// are left out, so moving a definition in its file keeps its snapshots;
// commands, guards, invariants and down lenses do not fold events and
// are left out too.
func DefinitionHash(a *manifest.Aggregate) string {
	type event struct {
		Payload json.RawMessage `json:"payload"`
		Apply   manifest.Shape  `json:"apply"`
		Aliases []string        `json:"aliases"`
		Lenses  []hashLens      `json:"lenses"`
	}
	def := struct {
		Rules   string           `json:"rules"`
		State   json.RawMessage  `json:"state"`
		Initial json.RawMessage  `json:"initial"`
		Events  map[string]event `json:"events"`
	}{Rules: foldRules, State: a.State, Initial: a.Initial, Events: map[string]event{}}
	for name, me := range a.Events {
		e := event{Payload: me.Payload, Apply: unplaced(me.Apply)}
		e.Aliases, e.Lenses = history(me)
		def.Events[name] = e
	}
	return hashJSON(def)
}

// hashLens is a lens as the definition hashes read it.
type hashLens struct {
	From json.RawMessage `json:"from"`
	Up   manifest.Shape  `json:"up"`
}

// history is an event's former names and lens chain (up), without
// source positions, as the definition hashes read them.
func history(me *manifest.Event) (aliases []string, lenses []hashLens) {
	aliases, lenses = []string{}, []hashLens{}
	for _, al := range me.Aliases {
		aliases = append(aliases, al.Name)
	}
	for _, l := range me.Lenses {
		lenses = append(lenses, hashLens{From: l.From, Up: unplaced(l.Up)})
	}
	return aliases, lenses
}

// hashJSON is the hex SHA-256 of def's JSON. Maps encode with sorted
// keys; raw schemas are the compiler's canonical JSON, so one definition
// always gives one hash.
func hashJSON(def any) string {
	b, err := json.Marshal(def)
	if err != nil {
		// Only raw JSON that is not JSON fails here, and Compile has
		// refused such a manifest already; hash its Go form instead.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// unplaced is s without source positions.
func unplaced(s manifest.Shape) manifest.Shape {
	out := manifest.Shape{}
	for _, f := range s.Fields {
		out.Fields = append(out.Fields, manifest.Field{Name: f.Name, Expr: manifest.Expr{Src: f.Expr.Src}})
	}
	if s.Whole != nil {
		out.Whole = &manifest.Expr{Src: s.Whole.Src}
	}
	return out
}
