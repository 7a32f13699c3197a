package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// optional runs fn when s has the ability F, and skips saying so when it
// has not: a store need not have every optional ability.
func optional[F any](what string, fn func(t *testing.T, s store.Store, f F)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		f, ok := any(s).(F)
		if !ok {
			t.Skipf("%T does not implement %s", s, what)
		}
		fn(t, s, f)
	}
}

// timeLayout is how SQL stores write times (store.Outbox): fixed width,
// so text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func testBatch(t *testing.T, s store.Store, b store.Batcher) {
	mustAppend(t, s, commit("order", "old", 0, events("old1")...))

	keyed := func(c store.Commit, key string) store.Commit {
		c.Idempotency = &store.Idempotency{Key: key, RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
		return c
	}
	res, err := b.AppendBatch(t.Context(), []store.Commit{
		keyed(commit("order", "a", 0, events("a1", "a2")...), "k-a"),
		commit("order", "a", 0, events("a3")...),                     // stale: a is at 2 now
		commit("order", "a", 2, events("a3")...),                     // sees the first commit
		keyed(commit("order", "b", 0, events("b1")...), "k-a"),       // key taken by the first
		commit("order", "b", 0, events("old1")...),                   // id in the log before
		commit("order", "b", 0, events("a1")...),                     // id taken earlier in the batch
		commit("order", "b", 0, events("b2", "b2")...),               // twice in one commit
		keyed(commit("order", "b", 0, events("b1", "b2")...), "k-b"), // the failed ids were not consumed
	})
	require.NoError(t, err)
	require.Len(t, res, 8)
	for i, want := range map[int]error{1: store.ErrVersionConflict, 3: store.ErrDuplicateKey,
		4: store.ErrDuplicateEvent, 5: store.ErrDuplicateEvent, 6: store.ErrDuplicateEvent} {
		assert.ErrorIs(t, res[i].Err, want, "commit %d", i)
		assert.Empty(t, res[i].Events, "commit %d", i)
	}
	for _, i := range []int{0, 2, 7} {
		require.NoError(t, res[i].Err, "commit %d", i)
	}
	assert.Equal(t, []eventView{
		recorded(t, newEvent("a1"), "order", "a", 1, 2), recorded(t, newEvent("a2"), "order", "a", 2, 3),
	}, views(t, res[0].Events))
	assert.Equal(t, []eventView{recorded(t, newEvent("a3"), "order", "a", 3, 4)}, views(t, res[2].Events))
	assert.Equal(t, []eventView{
		recorded(t, newEvent("b1"), "order", "b", 1, 5), recorded(t, newEvent("b2"), "order", "b", 2, 6),
	}, views(t, res[7].Events))

	// The log holds what the results say, gap-free, and nothing else.
	var want []eventView
	want = append(want, recorded(t, newEvent("old1"), "order", "old", 1, 1))
	for _, i := range []int{0, 2, 7} {
		want = append(want, views(t, res[i].Events)...)
	}
	assert.Equal(t, want, views(t, mustReadAll(t, s, 0, 0)))
	assert.Equal(t, int64(3), mustLoad(t, s, "order", "a").Version)
	assert.JSONEq(t, `{"version":3}`, string(mustLoad(t, s, "order", "a").State))
	assert.Equal(t, int64(2), mustLoad(t, s, "order", "b").Version)
	for key, ok := range map[string]bool{"k-a": true, "k-b": true} {
		_, found, err := s.Idempotency(t.Context(), key)
		require.NoError(t, err)
		assert.Equal(t, ok, found, key)
	}

	// No commits: no results, no error.
	res, err = b.AppendBatch(t.Context(), nil)
	require.NoError(t, err)
	assert.Empty(t, res)
}

func testBatchCancelled(t *testing.T, s store.Store, b store.Batcher) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := b.AppendBatch(ctx, []store.Commit{commit("order", "a", 0, events("a1")...)})
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, res, "no results when the batch fails")
	assert.Empty(t, mustReadAll(t, s, 0, 0), "nothing committed")
	assert.Zero(t, mustLoad(t, s, "order", "a").Version)
}

func testSQL(t *testing.T, s store.Store, db store.SQL) {
	ctx := t.Context()
	require.NoError(t, db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE storetest_sql (n INTEGER)`)
		return err
	}))
	// Write commits what fn did, or nothing when fn fails.
	require.NoError(t, db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO storetest_sql (n) VALUES (1)`)
		return err
	}))
	failed := errors.New("fn failed")
	err := db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO storetest_sql (n) VALUES (2)`); err != nil {
			return err
		}
		return failed
	})
	require.ErrorIs(t, err, failed)
	assert.Equal(t, []int64{1}, ints(t, db, `SELECT n FROM storetest_sql ORDER BY n`))

	// Read sees the log the appends wrote.
	mustAppend(t, s, commit("order", "a", 0, events("a1", "a2")...))
	assert.Equal(t, []int64{1, 2}, ints(t, db, `SELECT position FROM events ORDER BY position`))
}

// ints runs a query of one integer column on the read pool.
func ints(t *testing.T, db store.SQL, query string, args ...any) []int64 {
	t.Helper()
	rows, err := db.Read().QueryContext(t.Context(), query, args...)
	require.NoError(t, err)
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var n int64
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

// hookTable is where the suite's hook writes what it saw, in the
// append's transaction.
func hookTable(t *testing.T, h store.Hooker) {
	require.NoError(t, h.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(t.Context(), `CREATE TABLE storetest_hook (position INTEGER, version INTEGER)`)
		return err
	}))
}

func testHook(t *testing.T, s store.Store, h store.Hooker) {
	hookTable(t, h)
	var calls [][]int64
	h.SetHook(func(ctx context.Context, tx *sql.Tx, evs []store.Event) error {
		var seen []int64
		for _, e := range evs {
			// The hook sees the events as recorded, and the transaction
			// holds them.
			var n int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE id = ? AND position = ?`, e.ID, e.Position).Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("event %s at %d not in the transaction", e.ID, e.Position)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO storetest_hook (position, version) VALUES (?, ?)`, e.Position, e.Version); err != nil {
				return err
			}
			seen = append(seen, e.Position)
		}
		calls = append(calls, seen)
		return nil
	})

	mustAppend(t, s, commit("order", "a", 0, events("a1", "a2")...))
	mustAppend(t, s, commit("order", "b", 0, events("b1")...))
	// A commit without events does not call it, nor one that fails.
	_, err := s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "a", ExpectedVersion: 2})
	require.NoError(t, err)
	_, err = s.Append(t.Context(), commit("order", "a", 0, events("a3")...))
	require.ErrorIs(t, err, store.ErrVersionConflict)

	assert.Equal(t, [][]int64{{1, 2}, {3}}, calls)
	assert.Equal(t, []int64{1, 2, 3}, ints(t, h, `SELECT position FROM storetest_hook ORDER BY position`))
	assert.Equal(t, []int64{1, 2, 1}, ints(t, h, `SELECT version FROM storetest_hook ORDER BY position`))
}

func testHookFails(t *testing.T, s store.Store, h store.Hooker) {
	hookTable(t, h)
	mustAppend(t, s, commit("order", "a", 0, events("a1")...))
	failed := errors.New("hook failed")
	h.SetHook(func(ctx context.Context, tx *sql.Tx, evs []store.Event) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO storetest_hook (position, version) VALUES (?, ?)`, evs[0].Position, evs[0].Version); err != nil {
			return err
		}
		return failed
	})
	refs := []ref{{"order", "a"}, {"order", "b"}}
	keys := []string{"k-hook"}
	before := observe(t, s, refs, keys)

	c := commit("order", "a", 1, events("a2")...)
	c.Idempotency = &store.Idempotency{Key: "k-hook", RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
	_, err := s.Append(t.Context(), c)
	require.ErrorIs(t, err, failed)
	assert.Equal(t, before, observe(t, s, refs, keys), "nothing of the commit kept")
	assert.Empty(t, ints(t, h, `SELECT position FROM storetest_hook`), "nor what the hook wrote")

	// In a batch, the failing hook fails the whole batch.
	if b, ok := s.(store.Batcher); ok {
		res, err := b.AppendBatch(t.Context(), []store.Commit{commit("order", "b", 0, events("b1")...), c})
		require.ErrorIs(t, err, failed)
		assert.Nil(t, res)
		assert.Equal(t, before, observe(t, s, refs, keys), "nothing of the batch kept")
	}

	// The failed commits consumed nothing.
	h.SetHook(func(context.Context, *sql.Tx, []store.Event) error { return nil })
	got := mustAppend(t, s, c)
	assert.Equal(t, int64(2), got[0].Position)
}

// outboxRow is a row of the table outbox as store.Outbox describes it.
type outboxRow struct {
	EventID, Consumer   string
	Attempts            int
	LastError           sql.NullString
	NextAttempt         sql.NullString
	Created             string
	EventPosition       int64 // joined from events, as a dispatcher does
	EventAggregate, Ins string
}

func outboxRows(t *testing.T, o store.Outbox) []outboxRow {
	t.Helper()
	rows, err := o.Read().QueryContext(t.Context(), `SELECT o.event_id, o.consumer, o.attempts, o.last_error, o.next_attempt, o.created,
		e.position, e.aggregate, e.instance
		FROM outbox AS o JOIN events AS e ON e.id = o.event_id ORDER BY o.position`)
	require.NoError(t, err)
	defer rows.Close()
	out := []outboxRow{}
	for rows.Next() {
		var r outboxRow
		require.NoError(t, rows.Scan(&r.EventID, &r.Consumer, &r.Attempts, &r.LastError, &r.NextAttempt, &r.Created,
			&r.EventPosition, &r.EventAggregate, &r.Ins))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func testOutbox(t *testing.T, s store.Store, o store.Outbox) {
	owed := func(c store.Commit, entries ...string) store.Commit {
		for i := 0; i < len(entries); i += 2 {
			c.Outbox = append(c.Outbox, store.OutboxEntry{EventID: entries[i], Consumer: entries[i+1]})
		}
		return c
	}
	later := newEvent("c1-2")
	later.Time = later.Time.Add(time.Minute) // so the first event's time is told apart
	mustAppend(t, s, owed(commit("cart", "c1", 0, newEvent("c1-1"), later), "c1-2", "mail", "c1-1", "order", "c1-2", "order"))
	mustAppend(t, s, commit("cart", "c2", 0, events("c2-1")...)) // owes nothing

	// A commit that fails writes no entry.
	_, err := s.Append(t.Context(), owed(commit("cart", "c1", 0, events("c1-3")...), "c1-3", "mail"))
	require.ErrorIs(t, err, store.ErrVersionConflict)

	created := func(id string) string { return newEvent(id).Time.UTC().Format(timeLayout) }
	due := func(id string) sql.NullString { return sql.NullString{String: created(id), Valid: true} }
	want := []outboxRow{
		// In the commit's order; due at once, created at the commit's first event.
		{EventID: "c1-2", Consumer: "mail", NextAttempt: due("c1-1"), Created: created("c1-1"), EventPosition: 2, EventAggregate: "cart", Ins: "c1"},
		{EventID: "c1-1", Consumer: "order", NextAttempt: due("c1-1"), Created: created("c1-1"), EventPosition: 1, EventAggregate: "cart", Ins: "c1"},
		{EventID: "c1-2", Consumer: "order", NextAttempt: due("c1-1"), Created: created("c1-1"), EventPosition: 2, EventAggregate: "cart", Ins: "c1"},
	}
	assert.Equal(t, want, outboxRows(t, o))

	// In a batch, a failed commit's entries are not kept, the others are.
	if b, ok := s.(store.Batcher); ok {
		res, err := b.AppendBatch(t.Context(), []store.Commit{
			owed(commit("cart", "c2", 0, events("c2-9")...), "c2-9", "mail"), // stale
			owed(commit("cart", "c3", 0, events("c3-1")...), "c3-1", "mail"),
		})
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, store.ErrVersionConflict)
		require.NoError(t, res[1].Err)
		want = append(want, outboxRow{EventID: "c3-1", Consumer: "mail", NextAttempt: due("c3-1"), Created: created("c3-1"),
			EventPosition: 4, EventAggregate: "cart", Ins: "c3"})
		assert.Equal(t, want, outboxRows(t, o))
	}
}
