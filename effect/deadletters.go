package effect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/store"
)

// DeadLetters is the list of deliveries that gave up. It implements
// cuesource.DeadLetters.
type DeadLetters struct {
	st   store.Outbox
	now  func() time.Time
	kick func() // wakes the dispatcher after Retry; nil without one
}

var _ cuesource.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters opens the dead-letter list of st. now stamps retried
// rows (nil: time.Now). A dispatcher has its own
// ([Dispatcher.DeadLetters]); this is for tools working on a stopped
// server's database.
func NewDeadLetters(ctx context.Context, st store.Outbox, now func() time.Time) (*DeadLetters, error) {
	if now == nil {
		now = time.Now
	}
	return &DeadLetters{st: st, now: now}, nil
}

// List returns every dead letter, oldest first.
func (l *DeadLetters) List(ctx context.Context) ([]cuesource.DeadLetter, error) {
	dls, err := l.st.DeadLetters(ctx)
	if err != nil {
		return nil, fmt.Errorf("effect: list dead letters: %w", err)
	}
	out := make([]cuesource.DeadLetter, len(dls))
	for i, d := range dls {
		out[i] = cuesource.DeadLetter{ID: d.ID, EventID: d.EventID, Effect: d.Consumer, Attempts: d.Attempts,
			Error: d.Error, Rejection: d.Rejection, Time: d.Time}
	}
	return out, nil
}

// Retry moves a dead letter back to the outbox, due now with no attempts
// counted, and wakes the dispatcher.
func (l *DeadLetters) Retry(ctx context.Context, id int64) error {
	if err := l.st.RetryDeadLetter(ctx, id, l.now()); err != nil {
		return unknown(err, id)
	}
	if l.kick != nil {
		l.kick()
	}
	return nil
}

// Discard deletes a dead letter for good.
func (l *DeadLetters) Discard(ctx context.Context, id int64) error {
	return unknown(l.st.DiscardDeadLetter(ctx, id), id)
}

// unknown answers a dead letter the store does not have as cuesource.ErrUnknown.
func unknown(err error, id int64) error {
	if errors.Is(err, store.ErrNoDeadLetter) {
		return fmt.Errorf("no dead letter %d: %w", id, cuesource.ErrUnknown)
	}
	return err
}
