package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cuesource/cuesource/store"
)

var (
	_ store.Keys         = (*Store)(nil)
	_ store.KeyRebuilder = (*Store)(nil)
)

// Holder implements [store.Keys].
func (s *Store) Holder(ctx context.Context, aggregate, constraint, key string) (string, bool, error) {
	var id string
	err := s.read.QueryRowContext(ctx, `SELECT instance FROM unique_keys WHERE aggregate = ? AND name = ? AND key = ?`,
		aggregate, constraint, key).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, s.fault(fmt.Errorf("sqlite: read unique key: %w", err))
	}
	return id, true, nil
}

// KeyStatus implements [store.KeyRebuilder].
func (s *Store) KeyStatus(ctx context.Context, aggregate string) (store.KeyStatus, error) {
	var (
		st        store.KeyStatus
		conflicts sql.NullString
	)
	err := s.read.QueryRowContext(ctx, `SELECT hash, conflicts FROM unique_constraints WHERE aggregate = ?`, aggregate).Scan(&st.Hash, &conflicts)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.KeyStatus{}, nil
	case err != nil:
		return store.KeyStatus{}, s.fault(fmt.Errorf("sqlite: read unique constraints: %w", err))
	}
	if conflicts.Valid {
		if err := json.Unmarshal([]byte(conflicts.String), &st.Conflicts); err != nil {
			return store.KeyStatus{}, fmt.Errorf("sqlite: unique constraints of %s: %w", aggregate, err)
		}
	}
	return st, nil
}

// ReplaceKeys implements [store.KeyRebuilder]: one write transaction, so
// a command never sees the keys half replaced.
func (s *Store) ReplaceKeys(ctx context.Context, aggregate string, holds []store.KeyHold, status store.KeyStatus, through int64) error {
	var conflicts any // NULL: none
	if len(status.Conflicts) > 0 {
		b, err := json.Marshal(status.Conflicts)
		if err != nil {
			return err
		}
		conflicts = string(b)
	}
	return s.Write(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&last); err != nil {
			return fmt.Errorf("sqlite: read the log's position: %w", err)
		}
		if last != through {
			return fmt.Errorf("%w: keys computed through position %d, the log is at %d", store.ErrVersionConflict, through, last)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM unique_keys WHERE aggregate = ?`, aggregate); err != nil {
			return fmt.Errorf("sqlite: clear unique keys: %w", err)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO unique_keys (aggregate, name, key, instance) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: write unique keys: %w", err)
		}
		defer ins.Close()
		for _, h := range holds {
			if _, err := ins.ExecContext(ctx, aggregate, h.Constraint, h.Key, h.Instance); err != nil {
				return fmt.Errorf("sqlite: write unique key %s %q: %w", h.Constraint, h.Key, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO unique_constraints (aggregate, hash, conflicts) VALUES (?, ?, ?)
			ON CONFLICT (aggregate) DO UPDATE SET hash = excluded.hash, conflicts = excluded.conflicts`, aggregate, status.Hash, conflicts); err != nil {
			return fmt.Errorf("sqlite: write unique constraints: %w", err)
		}
		return nil
	})
}
