package interpreter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/cuesource/cuesource/manifest"
)

// UniqueHash identifies what decides the unique keys of an aggregate's
// instances from its log: the unique declarations and, for each event
// they name, its payload schema and lenses (a lens may change the key an
// old event claims). "" when the aggregate declares no unique constraint.
// Source positions are left out: moving a declaration changes nothing.
func UniqueHash(a *manifest.Aggregate) string {
	if a == nil || len(a.Unique) == 0 {
		return ""
	}
	type lens struct {
		From json.RawMessage `json:"from"`
		Up   manifest.Shape  `json:"up"`
	}
	type event struct {
		Payload json.RawMessage `json:"payload"`
		Aliases []string        `json:"aliases"`
		Lenses  []lens          `json:"lenses"`
	}
	type unique struct {
		Name       string   `json:"name"`
		Key        string   `json:"key"`
		ClaimedBy  []string `json:"claimedBy"`
		ReleasedBy []string `json:"releasedBy"`
	}
	def := struct {
		Unique []unique         `json:"unique"`
		Events map[string]event `json:"events"`
	}{Events: map[string]event{}}
	for _, u := range a.Unique {
		def.Unique = append(def.Unique, unique{Name: u.Name, Key: u.Key.Src, ClaimedBy: slices.Sorted(slices.Values(u.ClaimedBy)), ReleasedBy: slices.Sorted(slices.Values(u.ReleasedBy))})
		for _, name := range slices.Concat(u.ClaimedBy, u.ReleasedBy) {
			me, ok := a.Events[name]
			if !ok {
				continue
			}
			e := event{Payload: me.Payload, Aliases: []string{}, Lenses: []lens{}}
			for _, al := range me.Aliases {
				e.Aliases = append(e.Aliases, al.Name)
			}
			for _, l := range me.Lenses {
				e.Lenses = append(e.Lenses, lens{From: l.From, Up: unplaced(l.Up)})
			}
			def.Events[name] = e
		}
	}
	b, err := json.Marshal(def)
	if err != nil {
		b = []byte(err.Error()) // raw JSON that is not JSON: Compile refused it already
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
