package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cuesource/cuesource/store"
)

// entry is one outbox entry.
type entry struct {
	seq       int64
	eventID   string
	consumer  string
	attempts  int
	lastError string
	due       time.Time
}

// NextDue implements [store.Outbox].
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var next time.Time
	for i, e := range s.outbox {
		if i == 0 || e.due.Before(next) {
			next = e.due
		}
	}
	return next, len(s.outbox) > 0, nil
}

// Due implements [store.Outbox].
func (s *Store) Due(ctx context.Context, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.ContainsFunc(s.outbox, func(e *entry) bool { return !e.due.After(now) }), nil
}

// Claim implements [store.Outbox]. lease runs under the store's lock.
func (s *Store) Claim(ctx context.Context, c store.Claim, lease func([]store.Delivery) []time.Duration) ([]store.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		found   []store.Delivery
		entries []*entry
	)
	for _, e := range s.outbox {
		if len(c.Events) > 0 {
			if !slices.Contains(c.Events, e.eventID) {
				continue
			}
		} else if e.due.After(c.Now) {
			continue
		} else if c.Limit > 0 && len(found) == c.Limit {
			break
		}
		ev := cloneEvent(s.log[s.eventIDs[e.eventID]])
		found = append(found, store.Delivery{Seq: e.seq, Consumer: e.consumer, Attempts: e.attempts, Event: ev})
		entries = append(entries, e)
	}
	leases := lease(found)
	if len(leases) != len(found) {
		return nil, fmt.Errorf("memory: claim: %d leases for %d outbox entries", len(leases), len(found))
	}
	var taken []store.Delivery
	for i, d := range found {
		if leases[i] > 0 {
			entries[i].due = c.Now.Add(leases[i])
			taken = append(taken, d)
		}
	}
	return taken, nil
}

// Settle implements [store.Outbox]: every outcome is checked before the
// first is applied, so none or all are.
func (s *Store) Settle(ctx context.Context, now time.Time, outcomes []store.Settlement) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, o := range outcomes {
		if o.Verdict < store.Delivered || o.Verdict > store.Dead {
			return fmt.Errorf("memory: settle outbox entry %d: unknown verdict %d", o.Delivery.Seq, o.Verdict)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outcomes {
		d := o.Delivery
		i := slices.IndexFunc(s.outbox, func(e *entry) bool { return e.seq == d.Seq })
		switch o.Verdict {
		case store.Released:
			if i >= 0 {
				s.outbox[i].due = now
			}
		case store.Failed:
			if i >= 0 {
				e := s.outbox[i]
				e.attempts, e.lastError, e.due = o.Attempts, o.Error, o.Next
			}
		case store.Dead:
			s.lastID++
			s.dead = append(s.dead, store.DeadLetter{ID: s.lastID, EventID: d.Event.ID, Consumer: d.Consumer,
				Attempts: o.Attempts, Error: o.Error, Rejection: clone(o.Rejection), Time: now})
			fallthrough
		case store.Delivered:
			if i >= 0 {
				s.outbox = slices.Delete(s.outbox, i, i+1)
			}
		}
	}
	return nil
}

// DeadLetters implements [store.Outbox].
func (s *Store) DeadLetters(ctx context.Context) ([]store.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]store.DeadLetter, len(s.dead))
	for i, d := range s.dead {
		d.Rejection = clone(d.Rejection)
		out[i] = d
	}
	return out, nil
}

// LastDeadLetter implements [store.Outbox].
func (s *Store) LastDeadLetter(ctx context.Context, eventID, consumer string) (store.DeadLetter, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.DeadLetter{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.dead) - 1; i >= 0; i-- {
		if d := s.dead[i]; d.EventID == eventID && d.Consumer == consumer {
			d.Rejection = clone(d.Rejection)
			return d, true, nil
		}
	}
	return store.DeadLetter{}, false, nil
}

// RetryDeadLetter implements [store.Outbox].
func (s *Store) RetryDeadLetter(ctx context.Context, id int64, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.dead, func(d store.DeadLetter) bool { return d.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %d", store.ErrNoDeadLetter, id)
	}
	d := s.dead[i]
	s.lastSeq++
	s.outbox = append(s.outbox, &entry{seq: s.lastSeq, eventID: d.EventID, consumer: d.Consumer, due: now})
	s.dead = slices.Delete(s.dead, i, i+1)
	return nil
}

// DiscardDeadLetter implements [store.Outbox].
func (s *Store) DiscardDeadLetter(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.dead, func(d store.DeadLetter) bool { return d.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %d", store.ErrNoDeadLetter, id)
	}
	s.dead = slices.Delete(s.dead, i, i+1)
	return nil
}
