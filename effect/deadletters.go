package effect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
)

// deadLettersTable is created when a dispatcher or the dead-letter list
// opens a store. The store's migrations own the log's tables; this one
// belongs to the effects, and its name is reserved for them.
const deadLettersTable = `
CREATE TABLE IF NOT EXISTS dead_letters (
	id        INTEGER PRIMARY KEY,
	event_id  TEXT    NOT NULL,
	effect    TEXT    NOT NULL,
	attempts  INTEGER NOT NULL,
	error     TEXT    NOT NULL,
	rejection TEXT,
	time      TEXT    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (event_id, effect);
`

// timeLayout is the store's: RFC 3339 UTC with a fixed nine-digit fraction,
// so text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("effect: stored time %q: %w", s, err)
	}
	return t, nil
}

// DeadLetters is the list of deliveries that gave up. It implements
// api.DeadLetters.
type DeadLetters struct {
	st   store.Outbox
	now  func() time.Time
	kick func() // wakes the dispatcher after Retry; nil without one
}

var _ api.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters opens the dead-letter list of st, creating its table when
// missing. now stamps retried rows (nil: time.Now). A dispatcher has its
// own ([Dispatcher.DeadLetters]); this is for tools working on a stopped
// server's database.
func NewDeadLetters(ctx context.Context, st store.Outbox, now func() time.Time) (*DeadLetters, error) {
	if now == nil {
		now = time.Now
	}
	if err := st.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, deadLettersTable)
		return err
	}); err != nil {
		return nil, fmt.Errorf("effect: create the dead_letters table: %w", err)
	}
	return &DeadLetters{st: st, now: now}, nil
}

// List returns every dead letter, oldest first.
func (l *DeadLetters) List(ctx context.Context) ([]api.DeadLetter, error) {
	rows, err := l.st.Read().QueryContext(ctx,
		`SELECT id, event_id, effect, attempts, error, rejection, time FROM dead_letters ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("effect: list dead letters: %w", err)
	}
	defer rows.Close()
	out := []api.DeadLetter{}
	for rows.Next() {
		var d api.DeadLetter
		var rej sql.NullString
		var ts string
		if err := rows.Scan(&d.ID, &d.EventID, &d.Effect, &d.Attempts, &d.Error, &rej, &ts); err != nil {
			return nil, fmt.Errorf("effect: read dead letter: %w", err)
		}
		if rej.Valid && rej.String != "" {
			d.Rejection = json.RawMessage(rej.String)
		}
		if d.Time, err = parseTime(ts); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("effect: list dead letters: %w", err)
	}
	return out, nil
}

// Retry moves a dead letter back to the outbox, due now with no attempts
// counted, and wakes the dispatcher.
func (l *DeadLetters) Retry(ctx context.Context, id int64) error {
	now := formatTime(l.now())
	err := l.st.Write(ctx, func(tx *sql.Tx) error {
		var eventID, effect string
		err := tx.QueryRowContext(ctx, `SELECT event_id, effect FROM dead_letters WHERE id = ?`, id).Scan(&eventID, &effect)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no dead letter %d: %w", id, api.ErrUnknown)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO outbox (event_id, consumer, attempts, next_attempt, created) VALUES (?, ?, 0, ?, ?)`,
			eventID, effect, now, now); err != nil {
			return fmt.Errorf("effect: requeue dead letter %d: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return err
	}
	if l.kick != nil {
		l.kick()
	}
	return nil
}

// Discard deletes a dead letter for good.
func (l *DeadLetters) Discard(ctx context.Context, id int64) error {
	return l.st.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("effect: discard dead letter %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no dead letter %d: %w", id, api.ErrUnknown)
		}
		return nil
	})
}
