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

// owed adds outbox entries to c: pairs of event id and consumer.
func owed(c store.Commit, entries ...string) store.Commit {
	for i := 0; i < len(entries); i += 2 {
		c.Outbox = append(c.Outbox, store.OutboxEntry{EventID: entries[i], Consumer: entries[i+1]})
	}
	return c
}

// taken says who was claimed: event id and consumer.
func taken(ds []store.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Event.ID+" "+d.Consumer)
	}
	return out
}

// leaseAll takes every entry for d, and records what it was offered.
func leaseAll(d time.Duration, offered *[]string) func([]store.Delivery) []time.Duration {
	return func(ds []store.Delivery) []time.Duration {
		*offered = taken(ds)
		out := make([]time.Duration, len(ds))
		for i := range out {
			out[i] = d
		}
		return out
	}
}

func claim(t *testing.T, o store.Outbox, c store.Claim, lease time.Duration) []store.Delivery {
	t.Helper()
	var offered []string
	ds, err := o.Claim(t.Context(), c, leaseAll(lease, &offered))
	require.NoError(t, err)
	require.Equal(t, offered, taken(ds), "every entry offered is taken")
	return ds
}

func due(t *testing.T, o store.Outbox, at time.Time) bool {
	t.Helper()
	ok, err := o.Due(t.Context(), at)
	require.NoError(t, err)
	return ok
}

func testOutboxKept(t *testing.T, s store.Store, o store.Outbox) {
	_, ok, err := o.NextDue(t.Context())
	require.NoError(t, err)
	assert.False(t, ok, "an empty outbox has nothing due")

	later := newEvent("c1-2")
	later.Time = later.Time.Add(time.Minute) // so the first event's time is told apart
	later.Meta = json.RawMessage(`{"actor":"ada","correlationId":"k","causationId":"k"}`)
	evs := mustAppend(t, s, owed(commit("cart", "c1", 0, newEvent("c1-1"), later), "c1-2", "mail", "c1-1", "order", "c1-2", "order"))
	mustAppend(t, s, commit("cart", "c2", 0, events("c2-1")...)) // owes nothing
	// A commit that fails keeps no entry.
	_, err = s.Append(t.Context(), owed(commit("cart", "c1", 0, events("c1-3")...), "c1-3", "mail"))
	require.ErrorIs(t, err, store.ErrVersionConflict)

	// Due from the time of the commit's first event, in the order written.
	first := newEvent("c1-1").Time
	next, ok, err := o.NextDue(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, next.Equal(first), "next due %v, want %v", next, first)
	assert.False(t, due(t, o, first.Add(-time.Second)))
	assert.True(t, due(t, o, first))

	ds := claim(t, o, store.Claim{Now: first}, time.Minute)
	assert.Equal(t, []string{"c1-2 mail", "c1-1 order", "c1-2 order"}, taken(ds))
	for _, d := range ds {
		assert.Zero(t, d.Attempts)
		assert.Less(t, int64(0), d.Seq)
	}
	assert.Less(t, ds[0].Seq, ds[1].Seq)
	assert.Less(t, ds[1].Seq, ds[2].Seq)
	// The event as recorded (its schema version too: the delivery reads it
	// through the lenses from there), and its meta: who did it, which the
	// effect sees and a send carries on.
	assert.Equal(t, view(t, evs[1]), view(t, ds[0].Event))
	assert.JSONEq(t, string(later.Meta), string(ds[0].Event.Meta))

	// In a batch, a failed commit's entries are not kept, the others are.
	if b, ok := s.(store.Batcher); ok {
		res, err := b.AppendBatch(t.Context(), []store.Commit{
			owed(commit("cart", "c2", 0, events("c2-9")...), "c2-9", "mail"), // stale
			owed(commit("cart", "c3", 0, events("c3-1")...), "c3-1", "mail"),
		})
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, store.ErrVersionConflict)
		require.NoError(t, res[1].Err)
		assert.Equal(t, []string{"c3-1 mail"}, taken(claim(t, o, store.Claim{Now: newEvent("c3-1").Time}, time.Minute)))
	}
}

func testOutboxLease(t *testing.T, s store.Store, o store.Outbox) {
	mustAppend(t, s, owed(commit("cart", "c1", 0, events("c1-1", "c1-2")...), "c1-1", "mail", "c1-2", "mail", "c1-1", "order"))
	now := newEvent("c1-1").Time

	// Limit bounds what is found; a lease of 0 takes nothing.
	var offered []string
	ds, err := o.Claim(t.Context(), store.Claim{Now: now, Limit: 2}, func(ds []store.Delivery) []time.Duration {
		offered = taken(ds)
		return []time.Duration{time.Minute, 0}
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"c1-1 mail", "c1-2 mail"}, offered)
	assert.Equal(t, []string{"c1-1 mail"}, taken(ds))

	// A leased entry is not due until its lease ends.
	assert.Equal(t, []string{"c1-2 mail", "c1-1 order"}, taken(claim(t, o, store.Claim{Now: now}, 2*time.Minute)))
	assert.Empty(t, claim(t, o, store.Claim{Now: now.Add(59 * time.Second)}, time.Minute), "all leased")
	assert.False(t, due(t, o, now.Add(59*time.Second)))
	next, ok, err := o.NextDue(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, next.Equal(now.Add(time.Minute)), "next due %v", next)
	assert.Equal(t, []string{"c1-1 mail"}, taken(claim(t, o, store.Claim{Now: now.Add(time.Minute)}, time.Minute)))

	// Asked for by event, entries are found whether due or not.
	assert.Equal(t, []string{"c1-1 mail", "c1-1 order"}, taken(claim(t, o, store.Claim{Now: now, Events: []string{"c1-1", "nope"}}, time.Minute)))

	// A lease callback that answers for the wrong number of entries
	// fails the claim, which then takes nothing.
	_, err = o.Claim(t.Context(), store.Claim{Now: now.Add(time.Hour)}, func([]store.Delivery) []time.Duration { return nil })
	require.Error(t, err)
	assert.Len(t, claim(t, o, store.Claim{Now: now.Add(time.Hour)}, time.Minute), 3)
}

func testOutboxSettle(t *testing.T, s store.Store, o store.Outbox) {
	mustAppend(t, s, owed(commit("cart", "c1", 0, events("c1-1", "c1-2")...), "c1-1", "mail", "c1-2", "mail", "c1-1", "order", "c1-2", "order"))
	now := newEvent("c1-1").Time.Add(time.Hour)
	ds := claim(t, o, store.Claim{Now: now}, time.Minute)
	require.Len(t, ds, 4)

	rejection := json.RawMessage(`{"kind":"guard","name":"cart is open"}`)
	require.NoError(t, o.Settle(t.Context(), now, []store.Settlement{
		{Delivery: ds[0], Verdict: store.Delivered},
		{Delivery: ds[1], Verdict: store.Failed, Attempts: 1, Error: "502 from the receiver", Next: now.Add(5 * time.Minute)},
		{Delivery: ds[2], Verdict: store.Released},
		{Delivery: ds[3], Verdict: store.Dead, Attempts: 1, Error: "rejected", Rejection: rejection},
	}))

	// Released: due again at once; failed: at Next, its attempt counted;
	// delivered and dead: gone.
	assert.Equal(t, []string{"c1-1 order"}, taken(claim(t, o, store.Claim{Now: now}, time.Hour)))
	later := claim(t, o, store.Claim{Now: now.Add(5 * time.Minute)}, time.Hour)
	assert.Equal(t, []string{"c1-2 mail"}, taken(later))
	assert.Equal(t, 1, later[0].Attempts)

	dls, err := o.DeadLetters(t.Context())
	require.NoError(t, err)
	require.Len(t, dls, 1)
	dl := dls[0]
	assert.Equal(t, []any{"c1-2", "order", 1, "rejected"}, []any{dl.EventID, dl.Consumer, dl.Attempts, dl.Error})
	assert.JSONEq(t, string(rejection), string(dl.Rejection))
	assert.True(t, dl.Time.Equal(now), "given up at %v", dl.Time)
	last, ok, err := o.LastDeadLetter(t.Context(), "c1-2", "order")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, dl.ID, last.ID)
	_, ok, err = o.LastDeadLetter(t.Context(), "c1-2", "mail")
	require.NoError(t, err)
	assert.False(t, ok)

	// Retried: back in the outbox, due at its time, no attempt counted.
	retried := now.Add(time.Minute)
	require.NoError(t, o.RetryDeadLetter(t.Context(), dl.ID, retried))
	back := claim(t, o, store.Claim{Now: retried}, time.Hour)
	assert.Equal(t, []string{"c1-2 order"}, taken(back))
	assert.Zero(t, back[0].Attempts)
	dls, err = o.DeadLetters(t.Context())
	require.NoError(t, err)
	assert.Empty(t, dls)
	require.ErrorIs(t, o.RetryDeadLetter(t.Context(), dl.ID, retried), store.ErrNoDeadLetter)

	// Discarded: gone for good.
	require.NoError(t, o.Settle(t.Context(), now, []store.Settlement{{Delivery: back[0], Verdict: store.Dead, Attempts: 3, Error: "gone"}}))
	dls, err = o.DeadLetters(t.Context())
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Nil(t, dls[0].Rejection)
	require.NoError(t, o.DiscardDeadLetter(t.Context(), dls[0].ID))
	require.ErrorIs(t, o.DiscardDeadLetter(t.Context(), dls[0].ID), store.ErrNoDeadLetter)
	dls, err = o.DeadLetters(t.Context())
	require.NoError(t, err)
	assert.Empty(t, dls)
}

// snapshotted is c carrying a snapshot of the version it reaches.
func snapshotted(c store.Commit, hash string) store.Commit {
	c.Snapshot = &store.Snapshot{Version: c.ExpectedVersion + int64(len(c.Events)), State: c.State, Hash: hash, Time: base}
	return c
}

// A commit's snapshot is kept with its events, under the commit's
// instance, and found by its hash only.
func testSnapshotKept(t *testing.T, s store.Store, ss store.Snapshots) {
	_, ok, err := ss.Snapshot(t.Context(), "order", "a", "h1")
	require.NoError(t, err)
	assert.False(t, ok, "no snapshot yet")

	c := snapshotted(commit("order", "a", 0, events("a1", "a2")...), "h1")
	c.Snapshot.Aggregate, c.Snapshot.Instance = "other", "other" // the commit's own are used
	mustAppend(t, s, c)
	got, ok, err := ss.Snapshot(t.Context(), "order", "a", "h1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, store.Snapshot{Aggregate: "order", Instance: "a", Version: 2, State: json.RawMessage(`{"version":2}`), Hash: "h1", Time: base}, got)

	_, ok, err = ss.Snapshot(t.Context(), "order", "a", "h2")
	require.NoError(t, err)
	assert.False(t, ok, "another definition's hash")
	_, ok, err = ss.Snapshot(t.Context(), "other", "other", "h1")
	require.NoError(t, err)
	assert.False(t, ok, "another instance")

	// A commit without a snapshot leaves the one kept.
	mustAppend(t, s, commit("order", "a", 2, events("a3")...))
	got, ok, err = ss.Snapshot(t.Context(), "order", "a", "h1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(2), got.Version)
	got.State[0] = 'x' // the caller owns what it got
	got, _, _ = ss.Snapshot(t.Context(), "order", "a", "h1")
	assert.JSONEq(t, `{"version":2}`, string(got.State))
}

// An instance keeps its newest snapshot, whatever the hashes.
func testSnapshotNewest(t *testing.T, s store.Store, ss store.Snapshots) {
	snap := func(v int64, hash string) store.Snapshot {
		return store.Snapshot{Aggregate: "order", Instance: "a", Version: v, State: json.RawMessage(fmt.Sprintf(`{"v":%d}`, v)), Hash: hash, Time: base.Add(time.Duration(v) * time.Second)}
	}
	find := func(hash string) (int64, bool) {
		t.Helper()
		got, ok, err := ss.Snapshot(t.Context(), "order", "a", hash)
		require.NoError(t, err)
		if ok {
			assert.JSONEq(t, fmt.Sprintf(`{"v":%d}`, got.Version), string(got.State))
			assert.Equal(t, base.Add(time.Duration(got.Version)*time.Second), got.Time)
		}
		return got.Version, ok
	}
	require.NoError(t, ss.SaveSnapshot(t.Context(), snap(5, "A")))
	v, ok := find("A")
	assert.True(t, ok)
	assert.Equal(t, int64(5), v)

	require.NoError(t, ss.SaveSnapshot(t.Context(), snap(3, "B")), "an older one is dropped, not refused")
	_, ok = find("B")
	assert.False(t, ok, "older than the one kept")
	v, _ = find("A")
	assert.Equal(t, int64(5), v)

	require.NoError(t, ss.SaveSnapshot(t.Context(), snap(10, "B")))
	_, ok = find("A")
	assert.False(t, ok, "replaced by a newer one of another hash")
	v, ok = find("B")
	assert.True(t, ok)
	assert.Equal(t, int64(10), v)

	require.NoError(t, ss.SaveSnapshot(t.Context(), snap(10, "C")), "the same version taken again replaces it")
	v, ok = find("C")
	assert.True(t, ok)
	assert.Equal(t, int64(10), v)
}

// A commit that fails keeps no snapshot: it is written with the events,
// or not at all.
func testSnapshotFailedCommit(t *testing.T, s store.Store, ss store.Snapshots) {
	mustAppend(t, s, commit("order", "a", 0, events("a1")...))
	_, err := s.Append(t.Context(), snapshotted(commit("order", "a", 0, events("a2")...), "h"))
	require.ErrorIs(t, err, store.ErrVersionConflict)
	_, err = s.Append(t.Context(), snapshotted(commit("order", "a", 1, events("a1")...), "h"))
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	_, ok, err := ss.Snapshot(t.Context(), "order", "a", "h")
	require.NoError(t, err)
	assert.False(t, ok)

	if b, isBatcher := s.(store.Batcher); isBatcher {
		res, err := b.AppendBatch(t.Context(), []store.Commit{
			snapshotted(commit("order", "a", 0, events("a3")...), "h"), // stale
			snapshotted(commit("order", "b", 0, events("b1")...), "h"),
		})
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, store.ErrVersionConflict)
		require.NoError(t, res[1].Err)
		_, ok, err = ss.Snapshot(t.Context(), "order", "a", "h")
		require.NoError(t, err)
		assert.False(t, ok, "the failed commit of the batch")
		_, ok, err = ss.Snapshot(t.Context(), "order", "b", "h")
		require.NoError(t, err)
		assert.True(t, ok, "the commit that succeeded in the batch")
	}
}
