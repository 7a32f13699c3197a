package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cuesource/cuesource/store"
)

// deadLettersTable holds the deliveries the outbox gave up. Open creates
// it when missing rather than in a migration: databases written before
// the outbox was the store's have it from the effect dispatcher, with
// this definition, and a database with it stays readable by them.
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

// stamp is t as the outbox stores it (timeLayout, UTC), for times the
// runtime's clock gives.
func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// NextDue implements [store.Outbox].
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullString
	if err := s.read.QueryRowContext(ctx, `SELECT MIN(COALESCE(next_attempt, '')) FROM outbox`).Scan(&next); err != nil {
		return time.Time{}, false, s.fault(fmt.Errorf("sqlite: next due outbox entry: %w", err))
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	if next.String == "" {
		return time.Time{}, true, nil // due since always
	}
	t, err := parseTime(next.String)
	return t, err == nil, err
}

// Due implements [store.Outbox] on the read pool.
func (s *Store) Due(ctx context.Context, now time.Time) (bool, error) {
	var due bool
	err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE next_attempt IS NULL OR next_attempt <= ?)`,
		stamp(now)).Scan(&due)
	if err != nil {
		return false, s.fault(fmt.Errorf("sqlite: look for due outbox entries: %w", err))
	}
	return due, nil
}

const claimColumns = `o.position, o.event_id, o.consumer, o.attempts,
	e.position, e.aggregate, e.instance, e.version, e.type, e.schema_version, e.time, e.command_id, e.payload, e.meta`

// Claim implements [store.Outbox]: one write transaction finds the
// entries and moves the next_attempt of those taken past their lease.
func (s *Store) Claim(ctx context.Context, c store.Claim, lease func([]store.Delivery) []time.Duration) ([]store.Delivery, error) {
	var taken []store.Delivery
	err := s.Write(ctx, func(tx *sql.Tx) error {
		taken = nil
		var (
			found []store.Delivery
			err   error
		)
		if len(c.Events) > 0 {
			ids := make([]any, len(c.Events))
			for i, id := range c.Events {
				ids[i] = id
			}
			found, err = scanDeliveries(tx.QueryContext(ctx, `SELECT `+claimColumns+`
				FROM outbox AS o JOIN events AS e ON e.id = o.event_id
				WHERE o.event_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
				ORDER BY o.position`, ids...))
		} else {
			limit := c.Limit
			if limit <= 0 {
				limit = -1 // SQLite: no limit
			}
			found, err = scanDeliveries(tx.QueryContext(ctx, `SELECT `+claimColumns+`
				FROM outbox AS o JOIN events AS e ON e.id = o.event_id
				WHERE o.next_attempt IS NULL OR o.next_attempt <= ?
				ORDER BY o.position LIMIT ?`, stamp(c.Now), limit))
		}
		if err != nil {
			return fmt.Errorf("sqlite: find outbox entries: %w", err)
		}
		leases := lease(found)
		if len(leases) != len(found) {
			return fmt.Errorf("sqlite: claim: %d leases for %d outbox entries", len(leases), len(found))
		}
		var upd *sql.Stmt
		for i, d := range found {
			if leases[i] <= 0 {
				continue
			}
			if upd == nil {
				if upd, err = tx.PrepareContext(ctx, `UPDATE outbox SET next_attempt = ? WHERE position = ?`); err != nil {
					return fmt.Errorf("sqlite: claim: %w", err)
				}
				defer upd.Close()
			}
			if _, err := upd.ExecContext(ctx, stamp(c.Now.Add(leases[i])), d.Seq); err != nil {
				return fmt.Errorf("sqlite: lease outbox entry %d: %w", d.Seq, err)
			}
			taken = append(taken, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return taken, nil
}

func scanDeliveries(rs *sql.Rows, err error) ([]store.Delivery, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []store.Delivery
	for rs.Next() {
		var (
			d       store.Delivery
			ts      string
			payload []byte
			meta    []byte
		)
		if err := rs.Scan(&d.Seq, &d.Event.ID, &d.Consumer, &d.Attempts,
			&d.Event.Position, &d.Event.Aggregate, &d.Event.Instance, &d.Event.Version, &d.Event.Type, &d.Event.SchemaVersion, &ts, &d.Event.CommandID, &payload, &meta); err != nil {
			return nil, err
		}
		d.Event.Payload, d.Event.Meta = payload, meta
		if d.Event.Time, err = parseTime(ts); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rs.Err()
}

// Settle implements [store.Outbox] in one write transaction.
func (s *Store) Settle(ctx context.Context, now time.Time, outcomes []store.Settlement) error {
	ts := stamp(now)
	return s.Write(ctx, func(tx *sql.Tx) error {
		for _, o := range outcomes {
			d := o.Delivery
			var err error
			switch o.Verdict {
			case store.Delivered:
				_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE position = ?`, d.Seq)
			case store.Released:
				_, err = tx.ExecContext(ctx, `UPDATE outbox SET next_attempt = ? WHERE position = ?`, ts, d.Seq)
			case store.Failed:
				_, err = tx.ExecContext(ctx, `UPDATE outbox SET attempts = ?, last_error = ?, next_attempt = ? WHERE position = ?`,
					o.Attempts, o.Error, stamp(o.Next), d.Seq)
			case store.Dead:
				var rej any
				if len(o.Rejection) > 0 {
					rej = string(o.Rejection)
				}
				if _, err = tx.ExecContext(ctx, `INSERT INTO dead_letters (event_id, effect, attempts, error, rejection, time) VALUES (?, ?, ?, ?, ?, ?)`,
					d.Event.ID, d.Consumer, o.Attempts, o.Error, rej, ts); err == nil {
					_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE position = ?`, d.Seq)
				}
			default:
				err = fmt.Errorf("unknown verdict %d", o.Verdict)
			}
			if err != nil {
				return fmt.Errorf("sqlite: settle outbox entry %d: %w", d.Seq, err)
			}
		}
		return nil
	})
}

const deadLetterColumns = `id, event_id, effect, attempts, error, rejection, time`

func scanDeadLetter(sc interface{ Scan(...any) error }) (store.DeadLetter, error) {
	var (
		d   store.DeadLetter
		rej sql.NullString
		ts  string
	)
	if err := sc.Scan(&d.ID, &d.EventID, &d.Consumer, &d.Attempts, &d.Error, &rej, &ts); err != nil {
		return d, err
	}
	if rej.Valid && rej.String != "" {
		d.Rejection = json.RawMessage(rej.String)
	}
	var err error
	d.Time, err = parseTime(ts)
	return d, err
}

// DeadLetters implements [store.Outbox].
func (s *Store) DeadLetters(ctx context.Context) ([]store.DeadLetter, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters ORDER BY id`)
	if err != nil {
		return nil, s.fault(fmt.Errorf("sqlite: list dead letters: %w", err))
	}
	defer rows.Close()
	out := []store.DeadLetter{}
	for rows.Next() {
		d, err := scanDeadLetter(rows)
		if err != nil {
			return nil, s.fault(fmt.Errorf("sqlite: read dead letter: %w", err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fault(fmt.Errorf("sqlite: list dead letters: %w", err))
	}
	return out, nil
}

// LastDeadLetter implements [store.Outbox].
func (s *Store) LastDeadLetter(ctx context.Context, eventID, consumer string) (store.DeadLetter, bool, error) {
	d, err := scanDeadLetter(s.read.QueryRowContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE event_id = ? AND effect = ? ORDER BY id DESC LIMIT 1`, eventID, consumer))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.DeadLetter{}, false, nil
	case err != nil:
		return store.DeadLetter{}, false, s.fault(fmt.Errorf("sqlite: dead letter of %s for %s: %w", eventID, consumer, err))
	}
	return d, true, nil
}

// RetryDeadLetter implements [store.Outbox] in one write transaction.
func (s *Store) RetryDeadLetter(ctx context.Context, id int64, now time.Time) error {
	ts := stamp(now)
	return s.Write(ctx, func(tx *sql.Tx) error {
		var eventID, effect string
		err := tx.QueryRowContext(ctx, `SELECT event_id, effect FROM dead_letters WHERE id = ?`, id).Scan(&eventID, &effect)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %d", store.ErrNoDeadLetter, id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: dead letter %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO outbox (event_id, consumer, attempts, next_attempt, created) VALUES (?, ?, 0, ?, ?)`,
			eventID, effect, ts, ts); err != nil {
			return fmt.Errorf("sqlite: requeue dead letter %d: %w", id, err)
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: requeue dead letter %d: %w", id, err)
		}
		return nil
	})
}

// DiscardDeadLetter implements [store.Outbox].
func (s *Store) DiscardDeadLetter(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: discard dead letter %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %d", store.ErrNoDeadLetter, id)
		}
		return nil
	})
}
