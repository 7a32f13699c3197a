package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cuesource/cuesource/store"
)

const eventColumns = `position, id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta`

// readStmts are prepared on the read pool; database/sql prepares each on
// a connection the first time it runs there.
type readStmts struct {
	load, events, eventsPage, readAll, readWhole, idempotency, snapshot *sql.Stmt
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&r.load, `SELECT version, state FROM instances WHERE aggregate = ? AND instance = ?`},
		// Served by the UNIQUE (aggregate, instance, version) index.
		{&r.events, `SELECT ` + eventColumns + ` FROM events
			WHERE aggregate = ? AND instance = ? AND version > ? ORDER BY version`},
		// A page of the log (store.Page), read as far as it goes only.
		{&r.readAll, store.PageSQL(eventColumns, `position > ?1`, `position`, `?2`, `?3`)},
		{&r.eventsPage, store.PageSQL(eventColumns, `aggregate = ?1 AND instance = ?2 AND version > ?3`, `version`, `?4`, `?5`)},
		// LIMIT -1 is no limit.
		{&r.readWhole, `SELECT ` + eventColumns + ` FROM events WHERE position > ? ORDER BY position LIMIT ?`},
		{&r.idempotency, `SELECT request_hash, response, time FROM idempotency WHERE key = ?`},
		{&r.snapshot, `SELECT version, state, time FROM snapshots WHERE aggregate = ? AND instance = ? AND hash = ?`},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = st
	}
	return nil
}

// Load implements [store.Store].
func (s *Store) Load(ctx context.Context, aggregate, id string) (store.Instance, error) {
	if err := ctx.Err(); err != nil {
		return store.Instance{}, err
	}
	out := store.Instance{Aggregate: aggregate, ID: id}
	var state []byte
	err := s.rs.load.QueryRowContext(ctx, aggregate, id).Scan(&out.Version, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil // a missing instance is version 0
	}
	if err != nil {
		return store.Instance{}, s.fault(fmt.Errorf("sqlite: load %s/%s: %w", aggregate, id, err))
	}
	out.State = state // Scan into *[]byte copies
	return out, nil
}

// Events implements [store.Store].
func (s *Store) Events(ctx context.Context, aggregate, id string, after int64, limit int) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rows *sql.Rows
	var err error
	if limit <= 0 {
		rows, err = s.rs.events.QueryContext(ctx, aggregate, id, after)
	} else {
		rows, err = s.rs.eventsPage.QueryContext(ctx, aggregate, id, after, limit, store.PageBytes)
	}
	if err != nil {
		return nil, s.fault(fmt.Errorf("sqlite: events of %s/%s: %w", aggregate, id, err))
	}
	evs, err := scanEvents(rows)
	return evs, s.fault(err)
}

// ReadAll implements [store.Store]. A limit <= 0 means no limit. With an
// archive (SetArchive) it reads the events that left the hot store from
// there, so the log reads whole.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.readWhole(ctx, after, limit)
}

// readHotPage is ReadAll over the hot store alone.
func (s *Store) readHotPage(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	var rows *sql.Rows
	var err error
	if limit <= 0 {
		rows, err = s.rs.readWhole.QueryContext(ctx, after, -1)
	} else {
		rows, err = s.rs.readAll.QueryContext(ctx, after, limit, store.PageBytes)
	}
	if err != nil {
		return nil, s.fault(fmt.Errorf("sqlite: read log: %w", err))
	}
	evs, err := scanEvents(rows)
	return evs, s.fault(err)
}

// Idempotency implements [store.Store].
func (s *Store) Idempotency(ctx context.Context, key string) (store.Idempotency, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Idempotency{}, false, err
	}
	rec := store.Idempotency{Key: key}
	var response []byte
	var ts string
	err := s.rs.idempotency.QueryRowContext(ctx, key).Scan(&rec.RequestHash, &response, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Idempotency{}, false, nil
	}
	if err != nil {
		return store.Idempotency{}, false, s.fault(fmt.Errorf("sqlite: idempotency record %q: %w", key, err))
	}
	if rec.Time, err = parseTime(ts); err != nil {
		return store.Idempotency{}, false, err
	}
	rec.Response = response
	return rec, true, nil
}

// scanEvents reads and closes rows. The byte slices are fresh copies
// (database/sql copies into *[]byte), so callers own what they get.
func scanEvents(rows *sql.Rows) ([]store.Event, error) {
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var ts string
		var payload, meta []byte
		if err := rows.Scan(&e.Position, &e.ID, &e.Aggregate, &e.Instance, &e.Version, &e.Type,
			&e.SchemaVersion, &ts, &e.CommandID, &payload, &meta); err != nil {
			return nil, fmt.Errorf("sqlite: scan event: %w", err)
		}
		var err error
		if e.Time, err = parseTime(ts); err != nil {
			return nil, err
		}
		e.Payload, e.Meta = payload, meta
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read events: %w", err)
	}
	return out, nil
}
