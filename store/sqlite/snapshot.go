package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cuesource/cuesource/store"
)

// SaveSnapshot implements [store.Snapshots]: one write transaction,
// queued with the appends.
func (s *Store) SaveSnapshot(ctx context.Context, snap store.Snapshot) error {
	ts, err := formatTime(snap.Time)
	if err != nil {
		return fmt.Errorf("%w: snapshot: %v", ErrInvalidCommit, err)
	}
	return s.Write(ctx, func(tx *sql.Tx) error { return s.saveSnapshotTx(ctx, tx, snap, ts) })
}

// saveSnapshotTx keeps snap in tx unless the instance has a newer one;
// ts is its time, formatted.
func (s *Store) saveSnapshotTx(ctx context.Context, tx *sql.Tx, snap store.Snapshot, ts string) error {
	if _, err := tx.StmtContext(ctx, s.ws.saveSnapshot).ExecContext(ctx,
		snap.Aggregate, snap.Instance, snap.Version, snap.Hash, string(snap.State), ts); err != nil {
		return fmt.Errorf("sqlite: save snapshot of %s/%s at version %d: %w", snap.Aggregate, snap.Instance, snap.Version, err)
	}
	return nil
}

// Snapshot implements [store.Snapshots].
func (s *Store) Snapshot(ctx context.Context, aggregate, id, hash string) (store.Snapshot, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Snapshot{}, false, err
	}
	out := store.Snapshot{Aggregate: aggregate, Instance: id, Hash: hash}
	var state []byte
	var ts string
	err := s.rs.snapshot.QueryRowContext(ctx, aggregate, id, hash).Scan(&out.Version, &state, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Snapshot{}, false, nil
	}
	if err != nil {
		return store.Snapshot{}, false, s.fault(fmt.Errorf("sqlite: load snapshot of %s/%s: %w", aggregate, id, err))
	}
	if out.Time, err = parseTime(ts); err != nil {
		return store.Snapshot{}, false, err
	}
	out.State = state // Scan into *[]byte copies
	return out, true, nil
}
