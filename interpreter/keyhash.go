package interpreter

import (
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
	type event struct {
		Payload json.RawMessage `json:"payload"`
		Aliases []string        `json:"aliases"`
		Lenses  []hashLens      `json:"lenses"`
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
			e := event{Payload: me.Payload}
			e.Aliases, e.Lenses = history(me)
			def.Events[name] = e
		}
	}
	return hashJSON(def)
}
