package native

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// ErrNoKeys: the context declares unique constraints and the store cannot
// keep unique keys (store.Keys and store.KeyRebuilder).
var ErrNoKeys = errors.New("native: the store cannot keep unique keys")

// rebuildTries bounds how often a rebuild starts again because the log
// moved while it read (a server writing the same database).
const rebuildTries = 5

// Holder implements api.Keys.
func (b *Backend) Holder(ctx context.Context, aggregate, constraint, key string) (string, bool, error) {
	k, ok := b.store.(store.Keys)
	if !ok {
		return "", false, nil
	}
	return k.Holder(ctx, aggregate, constraint, key)
}

// uniqueAggregates are the aggregates of p that declare a unique
// constraint, sorted.
func uniqueAggregates(p *interpreter.Program) []string {
	var out []string
	for name, a := range p.Aggregates {
		if len(a.Unique) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// PrepareKeys makes st ready for p's unique constraints before p serves:
// it refuses a store that cannot keep keys when p declares constraints
// (ErrNoKeys), and rebuilds from the log the keys of every aggregate
// whose constraints (interpreter.UniqueHash) differ from those its keys
// were last built for: a new constraint, a changed one, or one removed.
// It returns the rebuilds it ran.
func PrepareKeys(ctx context.Context, p *interpreter.Program, st store.Store) ([]*cuesource.KeyRebuild, error) {
	names := uniqueAggregates(p)
	r, ok := st.(store.KeyRebuilder)
	if _, keys := st.(store.Keys); !ok || !keys {
		if len(names) > 0 {
			return nil, fmt.Errorf("%w: the context declares unique constraints on %s; serve it with the SQLite store", ErrNoKeys, strings.Join(names, ", "))
		}
		return nil, nil
	}
	var out []*cuesource.KeyRebuild
	for _, name := range slices.Sorted(maps.Keys(p.Aggregates)) {
		status, err := r.KeyStatus(ctx, name)
		if err != nil {
			return nil, err
		}
		if status.Hash == interpreter.UniqueHash(p.Manifest.Aggregates[name]) {
			continue
		}
		rb, err := RebuildKeys(ctx, p, st, name)
		if err != nil {
			return nil, err
		}
		out = append(out, rb)
	}
	return out, nil
}

// RebuildKeys rebuilds the unique keys of aggregate's instances from the
// log (cuesource.RebuildKeys) and replaces the store's with them, with
// the conflicts it found; it reads again if the log moved meanwhile.
func RebuildKeys(ctx context.Context, p *interpreter.Program, st store.Store, aggregate string) (*cuesource.KeyRebuild, error) {
	r, ok := st.(store.KeyRebuilder)
	if !ok {
		return nil, ErrNoKeys
	}
	for try := 1; ; try++ {
		rb, err := cuesource.RebuildKeys(p, aggregate, func(after int64) ([]store.Event, error) {
			return st.ReadAll(ctx, after, 1000)
		})
		if err != nil {
			return nil, fmt.Errorf("rebuild the unique keys of %s: %w", aggregate, err)
		}
		err = r.ReplaceKeys(ctx, aggregate, rb.Holds, store.KeyStatus{Hash: rb.Hash, Conflicts: rb.Conflicts}, rb.Through)
		if err == nil {
			return rb, nil
		}
		if !errors.Is(err, store.ErrVersionConflict) || try == rebuildTries {
			return nil, fmt.Errorf("rebuild the unique keys of %s: %w", aggregate, err)
		}
	}
}

// keyConflicts are the conflicts the last rebuild of each aggregate's
// keys reported, for /healthz.
func (b *Backend) keyConflicts(ctx context.Context) map[string][]store.KeyConflict {
	r, ok := b.store.(store.KeyRebuilder)
	if !ok {
		return nil
	}
	var out map[string][]store.KeyConflict
	for _, name := range uniqueAggregates(b.prog.Load()) {
		st, err := r.KeyStatus(ctx, name)
		if err != nil || len(st.Conflicts) == 0 {
			continue
		}
		if out == nil {
			out = map[string][]store.KeyConflict{}
		}
		out[name] = st.Conflicts
	}
	return out
}

// holds checks, under the instance's writer, that the instance a request
// addressed by key still holds it.
func (b *Backend) holds(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, bool, error) {
	if req.Holds == nil {
		return cuesource.Answer{}, true, nil
	}
	id, ok, err := b.Holder(ctx, req.Aggregate, req.Holds.Constraint, req.Holds.Key)
	if err != nil {
		return cuesource.Answer{}, false, err
	}
	if !ok || id != req.ID {
		return cuesource.KeyNotHeld(req.Aggregate, *req.Holds), false, nil
	}
	return cuesource.Answer{}, true, nil
}
