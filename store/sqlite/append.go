package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cuesource/cuesource/store"
)

// ErrInvalidCommit is [store.ErrInvalidCommit]: here, a time outside the
// years RFC 3339 can write, or an event id that is not UTF-8.
var ErrInvalidCommit = store.ErrInvalidCommit

// writeStmts are prepared once on the single write connection; a
// transaction borrows them with Tx.StmtContext instead of parsing the SQL
// again for every commit.
type writeStmts struct {
	check                                                             *sql.Stmt
	insertEvent, upsertInstance, updateState, insertKey, insertOutbox *sql.Stmt
	pruneKeys, saveSnapshot                                           *sql.Stmt
	holder, claimKey, releaseKey                                      *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		// The stored version (NULL: no instance), whether the key is
		// taken, the first of the commit's ids (a JSON array) already in
		// the log, and the last position.
		{&w.check, `SELECT
			(SELECT version FROM instances WHERE aggregate = ? AND instance = ?),
			EXISTS (SELECT 1 FROM idempotency WHERE key = ?),
			(SELECT e.id FROM json_each(?) AS j JOIN events AS e ON e.id = j.value ORDER BY j.key LIMIT 1),
			(SELECT COALESCE(MAX(position), 0) FROM events)`},
		{&w.insertEvent, `INSERT INTO events
			(position, id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		// A nil State leaves the stored snapshot as it is; first (the
		// position of the instance's first event) is written once, with
		// the row.
		{&w.upsertInstance, `INSERT INTO instances (aggregate, instance, version, state, first) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (aggregate, instance) DO UPDATE
			SET version = excluded.version, state = COALESCE(excluded.state, instances.state)`},
		{&w.updateState, `UPDATE instances SET state = ? WHERE aggregate = ? AND instance = ?`},
		{&w.insertKey, `INSERT INTO idempotency (key, request_hash, response, time) VALUES (?, ?, ?, ?)`},
		{&w.insertOutbox, `INSERT INTO outbox (event_id, consumer, created, next_attempt) VALUES (?, ?, ?, ?)`},
		{&w.pruneKeys, `DELETE FROM idempotency WHERE time < ?`},
		// One row per instance, the newest (store.Snapshots).
		{&w.saveSnapshot, `INSERT INTO snapshots (aggregate, instance, version, hash, state, time) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (aggregate, instance) DO UPDATE
			SET version = excluded.version, hash = excluded.hash, state = excluded.state, time = excluded.time
			WHERE excluded.version >= snapshots.version`},
		{&w.holder, `SELECT instance FROM unique_keys WHERE aggregate = ? AND name = ? AND key = ?`},
		// REPLACE drops the instance's old key of the constraint (the
		// UNIQUE on instance); another instance's row for the key cannot
		// be there, appendTx checked.
		{&w.claimKey, `INSERT OR REPLACE INTO unique_keys (aggregate, name, key, instance) VALUES (?, ?, ?, ?)`},
		{&w.releaseKey, `DELETE FROM unique_keys WHERE aggregate = ? AND name = ? AND instance = ?`},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = st
	}
	return nil
}

// Append implements [store.Store]: one IMMEDIATE transaction that checks,
// then writes the events, the snapshot and the idempotency record.
func (s *Store) Append(ctx context.Context, c store.Commit) ([]store.Event, error) {
	out, err := s.append(ctx, c)
	return out, s.fault(err)
}

func (s *Store) append(ctx context.Context, c store.Commit) ([]store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback() // no-op after Commit
	out, err := s.appendTx(ctx, tx, c)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx); err != nil {
		return nil, err
	}
	return out, nil
}

// AppendBatch implements [store.Batcher]: it appends the commits in order in one transaction: one fsync
// for all of them (group commit). A commit that fails its checks (version,
// key, event ids, validity) is reported in its BatchResult and the others
// are kept; a later commit sees the effects of the earlier ones, as if
// appended one by one. No savepoint is needed for that: appendTx makes
// every check before its first write, so a commit that fails has written
// nothing (and that saves two statements per commit, which is what a
// commit costs here). The returned error is for a failure of the whole
// transaction (I/O, a cancelled context, a failing hook); then nothing is
// committed and there are no results.
func (s *Store) AppendBatch(ctx context.Context, commits []store.Commit) ([]store.BatchResult, error) {
	results, err := s.appendBatch(ctx, commits)
	return results, s.fault(err)
}

func (s *Store) appendBatch(ctx context.Context, commits []store.Commit) ([]store.BatchResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]store.BatchResult, len(commits))
	if len(commits) == 0 {
		return results, nil
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	for i, c := range commits {
		evs, err := s.appendTx(ctx, tx, c)
		switch {
		case err == nil:
			results[i].Events = evs
		case commitError(err):
			results[i].Err = err
		default:
			return nil, err
		}
	}
	if err := s.commit(tx); err != nil {
		return nil, err
	}
	return results, nil
}

// commitError reports whether err fails only the commit that caused it,
// as opposed to the transaction.
func commitError(err error) bool {
	return errors.Is(err, store.ErrVersionConflict) ||
		errors.Is(err, store.ErrDuplicateKey) ||
		errors.Is(err, store.ErrDuplicateEvent) ||
		errors.Is(err, store.ErrUniqueViolation) ||
		errors.Is(err, ErrInvalidCommit)
}

// appendTx records c in tx, which holds the write lock. Every check comes
// before the first write, in the order the memory store checks (version,
// key, event ids), so the same bad commit gets the same error from both.
func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, c store.Commit) ([]store.Event, error) {
	times := make([]string, len(c.Events))
	for i, e := range c.Events {
		// The duplicate check below passes ids as a JSON array, which
		// cannot carry invalid UTF-8 (and neither can the event's JSON form).
		if !utf8.ValidString(e.ID) {
			return nil, fmt.Errorf("%w: event id %q is not valid UTF-8", ErrInvalidCommit, e.ID)
		}
		ts, err := formatTime(e.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: event %q: %v", ErrInvalidCommit, e.ID, err)
		}
		times[i] = ts
	}
	var snapTime string
	if c.Snapshot != nil {
		ts, err := formatTime(c.Snapshot.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: snapshot: %v", ErrInvalidCommit, err)
		}
		snapTime = ts
	}
	var keyTime string
	if c.Idempotency != nil {
		ts, err := formatTime(c.Idempotency.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: idempotency key %q: %v", ErrInvalidCommit, c.Idempotency.Key, err)
		}
		keyTime = ts
	}

	// One statement answers every check and reads the last position:
	// statements, not rows, are what a commit pays for here (DRIVERS.md).
	ids := make([]string, len(c.Events))
	seen := make(map[string]struct{}, len(c.Events))
	var inCommit string // first id that occurs twice in the commit
	for i, e := range c.Events {
		ids[i] = e.ID
		if _, ok := seen[e.ID]; ok && inCommit == "" {
			inCommit = e.ID
		}
		seen[e.ID] = struct{}{}
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode event ids: %w", err)
	}
	var key any // NULL matches no key
	if c.Idempotency != nil {
		key = c.Idempotency.Key
	}
	var (
		version sql.NullInt64
		keyDup  bool
		inLog   sql.NullString
		last    int64
	)
	if err := tx.StmtContext(ctx, s.ws.check).QueryRowContext(ctx, c.Aggregate, c.Instance, key, string(idsJSON)).
		Scan(&version, &keyDup, &inLog, &last); err != nil {
		return nil, fmt.Errorf("sqlite: check commit: %w", err)
	}
	exists, current := version.Valid, version.Int64
	if c.ExpectedVersion != current {
		return nil, fmt.Errorf("%w: %s/%s: expected version %d, stored version %d",
			store.ErrVersionConflict, c.Aggregate, c.Instance, c.ExpectedVersion, current)
	}
	if keyDup {
		return nil, fmt.Errorf("%w: %q", store.ErrDuplicateKey, c.Idempotency.Key)
	}
	if inCommit != "" {
		return nil, fmt.Errorf("%w: %q twice in one commit", store.ErrDuplicateEvent, inCommit)
	}
	if inLog.Valid {
		return nil, fmt.Errorf("%w: %q", store.ErrDuplicateEvent, inLog.String)
	}
	for _, k := range c.Unique {
		if k.Release {
			continue
		}
		var holder string
		err := tx.StmtContext(ctx, s.ws.holder).QueryRowContext(ctx, c.Aggregate, k.Constraint, k.Key).Scan(&holder)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("sqlite: check unique key: %w", err)
		case holder != c.Instance:
			return nil, &store.UniqueError{Aggregate: c.Aggregate, Constraint: k.Constraint, Key: k.Key, Holder: holder}
		}
	}

	// Checked: now write. Positions are MAX(position)+1 as read above,
	// inside this transaction, which holds SQLite's write lock (BEGIN
	// IMMEDIATE) as well as s.writer: no other writer can take the same
	// numbers, and a rolled-back transaction leaves no row
	// behind, so the next commit reads the same MAX and the log stays
	// gap-free. They are given explicitly rather than left to SQLite's
	// rowid choice, which is MAX+1 only "usually" (not past 2^63-1) and
	// would make the invariant depend on the engine instead of this code.
	out := make([]store.Event, len(c.Events))
	if len(c.Events) > 0 {
		insert := tx.StmtContext(ctx, s.ws.insertEvent)
		for i, e := range c.Events {
			e.Aggregate = c.Aggregate
			e.Instance = c.Instance
			e.Version = current + int64(i) + 1
			e.Position = last + int64(i) + 1
			if _, err := insert.ExecContext(ctx, e.Position, e.ID, e.Aggregate, e.Instance, e.Version,
				e.Type, e.SchemaVersion, times[i], e.CommandID, text(e.Payload), text(e.Meta)); err != nil {
				return nil, fmt.Errorf("sqlite: insert event %q: %w", e.ID, err)
			}
			// The result carries what was stored, with the time as it will
			// read back, and owns its bytes.
			e.Time = e.Time.UTC().Round(0)
			e.Payload = clone(e.Payload)
			e.Meta = clone(e.Meta)
			out[i] = e
		}
		if _, err := tx.StmtContext(ctx, s.ws.upsertInstance).ExecContext(ctx,
			c.Aggregate, c.Instance, current+int64(len(c.Events)), text(c.State), last+1); err != nil {
			return nil, fmt.Errorf("sqlite: write snapshot: %w", err)
		}
	} else if exists && c.State != nil {
		// No events: the version stays, a new snapshot is still taken; a
		// missing instance is not created.
		if _, err := tx.StmtContext(ctx, s.ws.updateState).ExecContext(ctx,
			text(c.State), c.Aggregate, c.Instance); err != nil {
			return nil, fmt.Errorf("sqlite: write snapshot: %w", err)
		}
	}

	for _, k := range c.Unique {
		var err error
		if k.Release {
			_, err = tx.StmtContext(ctx, s.ws.releaseKey).ExecContext(ctx, c.Aggregate, k.Constraint, c.Instance)
		} else {
			_, err = tx.StmtContext(ctx, s.ws.claimKey).ExecContext(ctx, c.Aggregate, k.Constraint, k.Key, c.Instance)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: write unique key: %w", err)
		}
	}
	if c.Idempotency != nil {
		if _, err := tx.StmtContext(ctx, s.ws.insertKey).ExecContext(ctx,
			c.Idempotency.Key, c.Idempotency.RequestHash, text(c.Idempotency.Response), keyTime); err != nil {
			return nil, fmt.Errorf("sqlite: insert idempotency record: %w", err)
		}
	}
	if c.Snapshot != nil {
		snap := *c.Snapshot
		snap.Aggregate, snap.Instance = c.Aggregate, c.Instance
		if err := s.saveSnapshotTx(ctx, tx, snap, snapTime); err != nil {
			return nil, err
		}
	}
	if len(c.Outbox) > 0 && len(times) > 0 {
		insert := tx.StmtContext(ctx, s.ws.insertOutbox)
		for _, o := range c.Outbox {
			created := times[0]
			if _, err := insert.ExecContext(ctx, o.EventID, o.Consumer, created, created); err != nil {
				return nil, fmt.Errorf("sqlite: insert outbox entry: %w", err)
			}
		}
	}
	if s.hook != nil && len(out) > 0 {
		if err := s.hook(ctx, tx, out); err != nil {
			return nil, fmt.Errorf("sqlite: after-append hook: %w", err)
		}
	}
	return out, nil
}

// SetHook implements [store.Hooker]: h runs in every append transaction
// after the commit's events are written; call it before the first Append.
func (s *Store) SetHook(h store.Hook) { s.hook = h }

// Write implements [store.SQL]: it runs fn in a write transaction, queued
// with the appends on the one writer: how projection runners and the
// effect dispatcher change their own tables in the same database.
func (s *Store) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.fault(s.writeTx(ctx, fn))
}

func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return s.commit(tx)
}

// Prepare prepares a statement on the write connection once, for runners
// that bind it to their write transactions (tx.StmtContext) again and again.
func (s *Store) Prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	return s.write.PrepareContext(ctx, query)
}

// Read implements [store.SQL]: it returns the read-only pool (query_only connections), for queries
// over projection tables.
func (s *Store) Read() *sql.DB { return s.read }

// PruneIdempotency deletes the idempotency records older than olderThan
// and returns how many it deleted. Retries of those commands are then no
// longer recognized; run it with a cutoff beyond any client's retry window.
func (s *Store) PruneIdempotency(ctx context.Context, olderThan time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cutoff, err := formatTime(olderThan)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune: %w", err)
	}
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.unlock()
	res, err := s.ws.pruneKeys.ExecContext(ctx, cutoff)
	if err != nil {
		return 0, s.fault(fmt.Errorf("sqlite: prune idempotency records: %w", err))
	}
	return res.RowsAffected()
}

// clone copies b, keeping nil as nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
