package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/cuesource/cuesource/store"
)

var (
	_ store.Store        = (*Store)(nil)
	_ store.Outbox       = (*Store)(nil)
	_ store.Snapshots    = (*Store)(nil)
	_ store.Keys         = (*Store)(nil)
	_ store.KeyRebuilder = (*Store)(nil)
)

// Store is an in-memory [store.Store]. The zero value is not ready for use;
// call [New]. It is safe for concurrent use.
type Store struct {
	mu        sync.RWMutex
	log       []store.Event // log[i] has Position i+1
	instances map[instanceKey]*instance
	eventIDs  map[string]int // index into log
	idem      map[string]store.Idempotency
	snapshots map[instanceKey]store.Snapshot
	// keys maps a unique key to the instance that holds it, held the
	// key an instance holds under a constraint (the same pairs, both ways).
	keys      map[uniqueKey]string
	held      map[heldKey]string
	keyStatus map[string]store.KeyStatus

	outbox  []*entry // in seq order
	lastSeq int64
	dead    []store.DeadLetter // in id order
	lastID  int64
}

type instanceKey struct{ aggregate, id string }

type uniqueKey struct{ aggregate, constraint, key string }

type heldKey struct{ aggregate, constraint, instance string }

type instance struct {
	version int64
	state   json.RawMessage
	events  []int // indexes into Store.log, in version order
}

// New returns an empty store.
func New() *Store {
	return &Store{
		instances: make(map[instanceKey]*instance),
		eventIDs:  make(map[string]int),
		idem:      make(map[string]store.Idempotency),
		snapshots: make(map[instanceKey]store.Snapshot),
		keys:      make(map[uniqueKey]string),
		held:      make(map[heldKey]string),
		keyStatus: make(map[string]store.KeyStatus),
	}
}

// Load implements [store.Store].
func (s *Store) Load(ctx context.Context, aggregate, id string) (store.Instance, error) {
	if err := ctx.Err(); err != nil {
		return store.Instance{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := store.Instance{Aggregate: aggregate, ID: id}
	if in, ok := s.instances[instanceKey{aggregate, id}]; ok {
		out.Version = in.version
		out.State = clone(in.state)
	}
	return out, nil
}

// Append implements [store.Store]. It validates the whole commit before
// writing anything, so a failed Append leaves the store unchanged.
func (s *Store) Append(ctx context.Context, c store.Commit) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	key := instanceKey{c.Aggregate, c.Instance}
	in := s.instances[key]
	var current int64
	if in != nil {
		current = in.version
	}
	if c.ExpectedVersion != current {
		return nil, fmt.Errorf("%w: %s/%s: expected version %d, stored version %d",
			store.ErrVersionConflict, c.Aggregate, c.Instance, c.ExpectedVersion, current)
	}
	if c.Idempotency != nil {
		if _, ok := s.idem[c.Idempotency.Key]; ok {
			return nil, fmt.Errorf("%w: %q", store.ErrDuplicateKey, c.Idempotency.Key)
		}
	}
	seen := make(map[string]struct{}, len(c.Events))
	for _, e := range c.Events {
		_, inLog := s.eventIDs[e.ID]
		_, inCommit := seen[e.ID]
		if inLog || inCommit {
			return nil, fmt.Errorf("%w: %q", store.ErrDuplicateEvent, e.ID)
		}
		seen[e.ID] = struct{}{}
	}
	if len(c.Events) > 0 { // as in SQLite, a commit without events owes nothing
		for _, o := range c.Outbox {
			_, inLog := s.eventIDs[o.EventID]
			if _, inCommit := seen[o.EventID]; !inLog && !inCommit {
				return nil, fmt.Errorf("%w: outbox entry for %q, an event neither in the log nor in the commit", store.ErrInvalidCommit, o.EventID)
			}
		}
	}

	for _, k := range c.Unique {
		if holder := s.keys[uniqueKey{c.Aggregate, k.Constraint, k.Key}]; !k.Release && holder != "" && holder != c.Instance {
			return nil, &store.UniqueError{Aggregate: c.Aggregate, Constraint: k.Constraint, Key: k.Key, Holder: holder}
		}
	}

	// Validated: from here on nothing can fail.
	for _, k := range c.Unique {
		h := heldKey{c.Aggregate, k.Constraint, c.Instance}
		if old, ok := s.held[h]; ok {
			delete(s.keys, uniqueKey{c.Aggregate, k.Constraint, old})
			delete(s.held, h)
		}
		if !k.Release {
			s.keys[uniqueKey{c.Aggregate, k.Constraint, k.Key}] = c.Instance
			s.held[h] = k.Key
		}
	}
	out := make([]store.Event, len(c.Events))
	if len(c.Events) > 0 && in == nil {
		in = &instance{}
		s.instances[key] = in
	}
	for i, e := range c.Events {
		e = cloneEvent(e)
		e.Aggregate = c.Aggregate
		e.Instance = c.Instance
		e.Version = current + int64(i) + 1
		e.Position = int64(len(s.log)) + 1
		s.log = append(s.log, e)
		s.eventIDs[e.ID] = len(s.log) - 1
		in.events = append(in.events, len(s.log)-1)
		out[i] = cloneEvent(e)
	}
	if in != nil {
		in.version = current + int64(len(c.Events))
		if c.State != nil {
			in.state = clone(c.State)
		}
	}
	if c.Idempotency != nil {
		rec := *c.Idempotency
		rec.Response = clone(rec.Response)
		s.idem[rec.Key] = rec
	}
	if c.Snapshot != nil {
		snap := *c.Snapshot
		snap.Aggregate, snap.Instance = c.Aggregate, c.Instance
		s.saveSnapshot(snap)
	}
	if len(c.Events) > 0 {
		for _, o := range c.Outbox {
			s.lastSeq++
			s.outbox = append(s.outbox, &entry{seq: s.lastSeq, eventID: o.EventID, consumer: o.Consumer, due: c.Events[0].Time})
		}
	}
	return out, nil
}

// Events implements [store.Store].
func (s *Store) Events(ctx context.Context, aggregate, id string, after int64, limit int) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.instances[instanceKey{aggregate, id}]
	if !ok || after >= int64(len(in.events)) {
		return nil, nil
	}
	// Versions are 1..n, so the events with Version > after start at index after.
	idx := in.events[max(after, 0):]
	if limit > 0 {
		idx = idx[:min(limit, len(idx))]
	}
	out := make([]store.Event, len(idx))
	for i, j := range idx {
		out[i] = cloneEvent(s.log[j])
	}
	if limit > 0 {
		out = store.Page(out)
	}
	return out, nil
}

// ReadAll implements [store.Store]. A limit <= 0 means no limit.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Positions are 1..n, so the events with Position > after start at index after.
	start := max(after, 0)
	if start >= int64(len(s.log)) {
		return nil, nil
	}
	page := s.log[start:]
	if limit > 0 {
		page = store.Page(page[:min(limit, len(page))])
	}
	out := make([]store.Event, len(page))
	for i, e := range page {
		out[i] = cloneEvent(e)
	}
	return out, nil
}

// Idempotency implements [store.Store].
func (s *Store) Idempotency(ctx context.Context, key string) (store.Idempotency, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Idempotency{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.idem[key]
	if !ok {
		return store.Idempotency{}, false, nil
	}
	rec.Response = clone(rec.Response)
	return rec, true, nil
}

// SaveSnapshot implements [store.Snapshots].
func (s *Store) SaveSnapshot(ctx context.Context, snap store.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveSnapshot(snap)
	return nil
}

// saveSnapshot keeps snap unless the instance has a newer one.
func (s *Store) saveSnapshot(snap store.Snapshot) {
	key := instanceKey{snap.Aggregate, snap.Instance}
	if old, ok := s.snapshots[key]; ok && old.Version > snap.Version {
		return
	}
	snap.State = clone(snap.State)
	s.snapshots[key] = snap
}

// Snapshot implements [store.Snapshots].
func (s *Store) Snapshot(ctx context.Context, aggregate, id, hash string) (store.Snapshot, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Snapshot{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap, ok := s.snapshots[instanceKey{aggregate, id}]
	if !ok || snap.Hash != hash {
		return store.Snapshot{}, false, nil
	}
	snap.State = clone(snap.State)
	return snap, true, nil
}

func cloneEvent(e store.Event) store.Event {
	e.Payload = clone(e.Payload)
	e.Meta = clone(e.Meta)
	return e
}

// clone copies b, keeping nil as nil.
func clone(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// Holder implements [store.Keys].
func (s *Store) Holder(ctx context.Context, aggregate, constraint, key string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.keys[uniqueKey{aggregate, constraint, key}]
	return id, ok, nil
}

// KeyStatus implements [store.KeyRebuilder].
func (s *Store) KeyStatus(ctx context.Context, aggregate string) (store.KeyStatus, error) {
	if err := ctx.Err(); err != nil {
		return store.KeyStatus{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.keyStatus[aggregate]
	st.Conflicts = slices.Clone(st.Conflicts)
	return st, nil
}

// ReplaceKeys implements [store.KeyRebuilder].
func (s *Store) ReplaceKeys(ctx context.Context, aggregate string, holds []store.KeyHold, status store.KeyStatus, through int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := int64(len(s.log)); last != through {
		return fmt.Errorf("%w: keys computed through position %d, the log is at %d", store.ErrVersionConflict, through, last)
	}
	for k := range s.keys {
		if k.aggregate == aggregate {
			delete(s.keys, k)
		}
	}
	for h := range s.held {
		if h.aggregate == aggregate {
			delete(s.held, h)
		}
	}
	for _, h := range holds {
		s.keys[uniqueKey{aggregate, h.Constraint, h.Key}] = h.Instance
		s.held[heldKey{aggregate, h.Constraint, h.Instance}] = h.Key
	}
	status.Conflicts = slices.Clone(status.Conflicts)
	s.keyStatus[aggregate] = status
	return nil
}
