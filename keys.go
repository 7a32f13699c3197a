package cuesource

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// KeyRebuild is who holds which unique key of one aggregate after its
// log, computed by RebuildKeys.
type KeyRebuild struct {
	Aggregate string
	Holds     []store.KeyHold
	// Conflicts are the claims the log holds that could not be honoured
	// (see RebuildKeys).
	Conflicts []store.KeyConflict
	// Through is the last position read.
	Through int64
	// Hash is interpreter.UniqueHash of the aggregate's definition.
	Hash string
}

// RebuildKeys computes the unique keys the instances of aggregate hold
// from the whole log (read pages after a position, in position order),
// each event read as readers see it (through its lenses), by the rules a
// commit follows (KeyClaims). Events written before a constraint existed
// may claim a key another instance held then: the earliest claim (by
// position) holds, and each later one is reported in Conflicts and claims
// nothing (its instance keeps the key it held before, as a refused commit
// would). A claim whose key cannot be computed (the expression fails, or
// the key no URL can address) is reported with no Holder and claims
// nothing.
func RebuildKeys(p *interpreter.Program, aggregate string, read func(after int64) ([]store.Event, error)) (*KeyRebuild, error) {
	a := p.Aggregates[aggregate]
	if a == nil {
		return nil, fmt.Errorf("no aggregate %s", aggregate)
	}
	out := &KeyRebuild{Aggregate: aggregate, Hash: interpreter.UniqueHash(p.Manifest.Aggregates[aggregate])}
	type key struct{ constraint, key string }
	type held struct{ constraint, instance string }
	holder := map[key]string{}
	keyOf := map[held]string{}
	for {
		page, err := read(out.Through)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			out.Through = e.Position
			if e.Aggregate != aggregate || !claimsOrReleases(a, e.Type) {
				continue // not decoded: no constraint reads it
			}
			pl, err := value.DecodeStored(e.Payload)
			typ := e.Type
			if err == nil {
				typ, pl, err = p.ReadEvent(aggregate, e.Type, e.SchemaVersion, pl)
			}
			if err != nil {
				return nil, fmt.Errorf("event %s at position %d: %w", e.ID, e.Position, err)
			}
			for _, u := range a.Unique {
				claims, err := KeyClaims(&interpreter.Aggregate{Unique: []*interpreter.Unique{u}}, []engine.Event{{Type: typ, Payload: pl}})
				if err != nil {
					var rej *Rejection
					k := ""
					if errors.As(err, &rej) {
						k = rej.Key
					}
					out.Conflicts = append(out.Conflicts, store.KeyConflict{Constraint: u.Name, Key: k, Instance: e.Instance, Position: e.Position})
					continue
				}
				for _, c := range claims {
					h := held{c.Constraint, e.Instance}
					if c.Release {
						if old, ok := keyOf[h]; ok {
							delete(holder, key{c.Constraint, old})
							delete(keyOf, h)
						}
						continue
					}
					if other, ok := holder[key{c.Constraint, c.Key}]; ok && other != e.Instance {
						out.Conflicts = append(out.Conflicts, store.KeyConflict{Constraint: c.Constraint, Key: c.Key, Holder: other, Instance: e.Instance, Position: e.Position})
						continue
					}
					if old, ok := keyOf[h]; ok {
						delete(holder, key{c.Constraint, old})
					}
					holder[key{c.Constraint, c.Key}] = e.Instance
					keyOf[h] = c.Key
				}
			}
		}
	}
	for k, id := range holder {
		out.Holds = append(out.Holds, store.KeyHold{Constraint: k.constraint, Key: k.key, Instance: id})
	}
	sort.Slice(out.Holds, func(i, j int) bool {
		if out.Holds[i].Constraint != out.Holds[j].Constraint {
			return out.Holds[i].Constraint < out.Holds[j].Constraint
		}
		return out.Holds[i].Key < out.Holds[j].Key
	})
	return out, nil
}

// claimsOrReleases says whether a stored event of type t (a current name
// or a former one) may claim or release a key of one of a's constraints.
func claimsOrReleases(a *interpreter.Aggregate, t string) bool {
	if ev := a.Event(t); ev != nil {
		t = ev.Name
	}
	for _, u := range a.Unique {
		if u.Claims(t) || u.Releases(t) {
			return true
		}
	}
	return false
}
