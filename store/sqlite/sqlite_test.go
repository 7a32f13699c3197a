package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/storetest"
)

// openTemp opens a store on a fresh file that is closed with the test.
func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(t.Context(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t, Options{})
		return s
	})
}

func TestConformanceSyncNormal(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t, Options{Sync: SyncNormal, ReadConns: 1})
		return s
	})
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func event(id string) store.Event {
	return store.Event{
		ID: id, Type: "Tested", SchemaVersion: 1, Time: t0, CommandID: "cmd-" + id,
		Payload: json.RawMessage(fmt.Sprintf(`{"id":%q}`, id)),
	}
}

func key(k string, at time.Time) *store.Idempotency {
	return &store.Idempotency{Key: k, RequestHash: "h-" + k, Response: json.RawMessage(`{"key":"` + k + `"}`), Time: at}
}

func positions(evs []store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

func TestReopenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	ctx := t.Context()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	_, err = s.Append(ctx, store.Commit{Aggregate: "order", Instance: "o1", Events: []store.Event{event("e1"), event("e2")},
		State: json.RawMessage(`{"n":2}`), Idempotency: key("k1", t0)})
	require.NoError(t, err)
	_, err = s.Append(ctx, store.Commit{Aggregate: "order", Instance: "o2", Events: []store.Event{event("e3")}})
	require.NoError(t, err)
	want, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	got, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	in, err := s.Load(ctx, "order", "o1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), in.Version)
	assert.Equal(t, `{"n":2}`, string(in.State))
	evs, err := s.Events(ctx, "order", "o1", 0, 0)
	require.NoError(t, err)
	assert.Equal(t, want[:2], evs)
	rec, ok, err := s.Idempotency(ctx, "k1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, `{"key":"k1"}`, string(rec.Response))
	assert.True(t, t0.Equal(rec.Time))

	// The log continues where it stopped, and the old checks still hold.
	evs, err = s.Append(ctx, store.Commit{Aggregate: "order", Instance: "o1", ExpectedVersion: 2, Events: []store.Event{event("e4")}})
	require.NoError(t, err)
	assert.Equal(t, []int64{4}, positions(evs))
	_, err = s.Append(ctx, store.Commit{Aggregate: "order", Instance: "o3", Events: []store.Event{event("e1")}})
	assert.ErrorIs(t, err, store.ErrDuplicateEvent)
	_, err = s.Append(ctx, store.Commit{Aggregate: "order", Instance: "o3", Idempotency: key("k1", t0)})
	assert.ErrorIs(t, err, store.ErrDuplicateKey)
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open(driverName, path)
	require.NoError(t, err)
	defer db.Close()
	var v int
	require.NoError(t, db.QueryRow(`PRAGMA user_version`).Scan(&v))
	return v
}

func TestMigrations(t *testing.T) {
	s, path := openTemp(t, Options{})
	assert.Equal(t, len(migrations), userVersion(t, path))
	for _, table := range []string{"events", "instances", "idempotency", "outbox"} {
		var n int
		require.NoError(t, s.read.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n))
		assert.Equal(t, 1, n, "table %s", table)
	}
	var mode string
	require.NoError(t, s.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
	var fk int
	require.NoError(t, s.write.QueryRow(`PRAGMA foreign_keys`).Scan(&fk))
	assert.Equal(t, 1, fk)
	var syncMode int
	require.NoError(t, s.write.QueryRow(`PRAGMA synchronous`).Scan(&syncMode))
	assert.Equal(t, 2, syncMode, "FULL by default")

	// Reads cannot write.
	_, err := s.read.Exec(`DELETE FROM events`)
	assert.Error(t, err)
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(t.Context(), path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := sql.Open(driverName, path)
	require.NoError(t, err)
	_, err = db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)+1))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = Open(t.Context(), path, Options{})
	require.ErrorIs(t, err, ErrSchemaTooNew)
	assert.Contains(t, err.Error(), fmt.Sprintf("schema version %d", len(migrations)+1))
	assert.Contains(t, err.Error(), fmt.Sprintf("up to %d", len(migrations)))
	assert.Contains(t, err.Error(), path)
	assert.Equal(t, len(migrations)+1, userVersion(t, path), "refused, not rewritten")
}

func TestOpenRefuses(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		_, err := Open(t.Context(), path, Options{})
		assert.Error(t, err, "path %q", path)
	}
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), Options{Sync: Sync(7)})
	assert.Error(t, err)
}

func TestOddFileName(t *testing.T) {
	// '?', '#' and '%' mean something in a URI; they must reach the file system as-is.
	path := filepath.Join(t.TempDir(), "a?b#c%41 d.db")
	s, err := Open(t.Context(), path, Options{})
	require.NoError(t, err)
	_, err = s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "o1", Events: []store.Event{event("e1")}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.FileExists(t, path)
	s, err = Open(t.Context(), path, Options{})
	require.NoError(t, err)
	defer s.Close()
	evs, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Len(t, evs, 1)
}

func TestByteExact(t *testing.T) {
	s, _ := openTemp(t, Options{})
	// Spacing, key order, escapes and a number beyond float64 all survive.
	payload := "{ \"z\" : 9007199254740993,\n\t\"a\":[1.50, 1e400, \"\\u00e9\"] }"
	e := event("e1")
	e.Payload = json.RawMessage(payload)
	e.Meta = json.RawMessage(`{"b":1,  "a":2}`)
	e.Time = time.Date(2026, 11, 26, 10, 11, 12, 123456789, time.FixedZone("X", 2*3600))
	got, err := s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "o1", Events: []store.Event{e},
		State: json.RawMessage(`{"big":12345678901234567890}`)})
	require.NoError(t, err)
	read, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, read, 1)
	assert.Equal(t, payload, string(read[0].Payload))
	assert.Equal(t, `{"b":1,  "a":2}`, string(read[0].Meta))
	assert.True(t, e.Time.Equal(read[0].Time), "nanoseconds kept: %v vs %v", e.Time, read[0].Time)
	assert.Equal(t, got, read, "Append returns what reads return")
	in, err := s.Load(t.Context(), "order", "o1")
	require.NoError(t, err)
	assert.Equal(t, `{"big":12345678901234567890}`, string(in.State))

	var stored string
	require.NoError(t, s.read.QueryRow(`SELECT time FROM events`).Scan(&stored))
	assert.Equal(t, "2026-11-26T08:11:12.123456789Z", stored, "UTC, fixed width")
}

func TestInvalidCommit(t *testing.T) {
	s, _ := openTemp(t, Options{})
	late := event("e1")
	late.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "o1", Events: []store.Event{late}})
	assert.ErrorIs(t, err, ErrInvalidCommit)
	_, err = s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "o1", Idempotency: key("k", late.Time)})
	assert.ErrorIs(t, err, ErrInvalidCommit)
	_, err = s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "o1", Events: []store.Event{event("bad\xff")}})
	assert.ErrorIs(t, err, ErrInvalidCommit)
	evs, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

func TestAppendBatch(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := t.Context()
	// A commit before the batch, so the batch starts mid-log.
	_, err := s.Append(ctx, store.Commit{Aggregate: "order", Instance: "pre", Events: []store.Event{event("p1")}})
	require.NoError(t, err)

	future := event("bad-time")
	future.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := []store.Commit{
		// 0: new instance a.
		{Aggregate: "order", Instance: "a", ExpectedVersion: 0, Events: []store.Event{event("a1"), event("a2")},
			State: json.RawMessage(`{"v":2}`), Idempotency: key("k-a", t0)},
		// 1: b does not exist yet.
		{Aggregate: "order", Instance: "b", ExpectedVersion: 3, Events: []store.Event{event("b-x")}, Idempotency: key("k-b-x", t0)},
		// 2: sees commit 0 of this batch.
		{Aggregate: "order", Instance: "a", ExpectedVersion: 2, Events: []store.Event{event("a3")}, State: json.RawMessage(`{"v":3}`)},
		// 3: a again on the version commit 0 had seen: stale now.
		{Aggregate: "order", Instance: "a", ExpectedVersion: 0, Events: []store.Event{event("a-stale")}},
		// 4: an id written by commit 0.
		{Aggregate: "order", Instance: "c", Events: []store.Event{event("c1"), event("a1")}},
		// 5: a key written by commit 0.
		{Aggregate: "order", Instance: "c", Events: []store.Event{event("c1")}, Idempotency: key("k-a", t0.Add(time.Hour))},
		// 6: an id already in the log before the batch.
		{Aggregate: "order", Instance: "c", Events: []store.Event{event("p1")}},
		// 7: invalid.
		{Aggregate: "order", Instance: "c", Events: []store.Event{future}},
		// 8: fine, after all those failures.
		{Aggregate: "order", Instance: "b", ExpectedVersion: 0, Events: []store.Event{event("b1")}, Idempotency: key("k-b", t0)},
		// 9: an event-less commit on a: records its key, leaves the version.
		{Aggregate: "order", Instance: "a", ExpectedVersion: 3, Idempotency: key("k-noop", t0)},
	}
	res, err := s.AppendBatch(ctx, batch)
	require.NoError(t, err)
	require.Len(t, res, len(batch))

	wantErr := map[int]error{1: store.ErrVersionConflict, 3: store.ErrVersionConflict, 4: store.ErrDuplicateEvent,
		5: store.ErrDuplicateKey, 6: store.ErrDuplicateEvent, 7: ErrInvalidCommit}
	for i, r := range res {
		if want, ok := wantErr[i]; ok {
			assert.ErrorIs(t, r.Err, want, "commit %d", i)
			assert.Empty(t, r.Events, "commit %d", i)
		} else {
			assert.NoError(t, r.Err, "commit %d", i)
		}
	}
	assert.Equal(t, []int64{2, 3}, positions(res[0].Events))
	assert.Equal(t, []int64{1, 2}, []int64{res[0].Events[0].Version, res[0].Events[1].Version})
	assert.Equal(t, []int64{4}, positions(res[2].Events))
	assert.Equal(t, int64(3), res[2].Events[0].Version)
	assert.Equal(t, []int64{5}, positions(res[8].Events))
	assert.Empty(t, res[9].Events)

	log, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	var ids []string
	for i, e := range log {
		assert.Equal(t, int64(i+1), e.Position, "gap-free")
		ids = append(ids, e.ID)
	}
	assert.Equal(t, []string{"p1", "a1", "a2", "a3", "b1"}, ids)
	assert.Equal(t, append(res[0].Events, res[2].Events...), log[1:4], "results are what was stored")

	a, err := s.Load(ctx, "order", "a")
	require.NoError(t, err)
	assert.Equal(t, int64(3), a.Version)
	assert.Equal(t, `{"v":3}`, string(a.State))
	b, err := s.Load(ctx, "order", "b")
	require.NoError(t, err)
	assert.Equal(t, int64(1), b.Version)
	c, err := s.Load(ctx, "order", "c")
	require.NoError(t, err)
	assert.Zero(t, c.Version)
	for k, want := range map[string]bool{"k-a": true, "k-b": true, "k-noop": true, "k-b-x": false} {
		rec, ok, err := s.Idempotency(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, want, ok, "key %s", k)
		if k == "k-a" {
			assert.True(t, t0.Equal(rec.Time), "the first k-a record is kept")
		}
	}

	// What the failed commits tried to use was not consumed.
	evs, err := s.Append(ctx, store.Commit{Aggregate: "order", Instance: "c", Events: []store.Event{event("c1"), event("a-stale"), event("b-x")},
		Idempotency: key("k-b-x", t0)})
	require.NoError(t, err)
	assert.Equal(t, []int64{6, 7, 8}, positions(evs))
}

func TestAppendBatchWholeFailure(t *testing.T) {
	s, _ := openTemp(t, Options{})
	res, err := s.AppendBatch(t.Context(), nil)
	require.NoError(t, err)
	assert.Empty(t, res)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err = s.AppendBatch(ctx, []store.Commit{{Aggregate: "order", Instance: "a", Events: []store.Event{event("a1")}}})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, res)
	log, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Empty(t, log)

	// A database failure mid-batch (a trigger refuses one insert) fails the
	// whole transaction, undoing the good commit before it.
	_, err = s.write.Exec(`CREATE TRIGGER explode BEFORE INSERT ON events WHEN NEW.id = 'explode'
		BEGIN SELECT RAISE(ABORT, 'boom'); END`)
	require.NoError(t, err)
	res, err = s.AppendBatch(t.Context(), []store.Commit{
		{Aggregate: "order", Instance: "a", Events: []store.Event{event("a1")}, Idempotency: key("k-a", t0)},
		{Aggregate: "order", Instance: "b", Events: []store.Event{event("explode")}},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom")
	assert.Nil(t, res)
	log, err = s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Empty(t, log)
	_, ok, err := s.Idempotency(t.Context(), "k-a")
	require.NoError(t, err)
	assert.False(t, ok)
	a, err := s.Load(t.Context(), "order", "a")
	require.NoError(t, err)
	assert.Zero(t, a.Version)

	// The store is still usable, from position 1.
	evs, err := s.Append(t.Context(), store.Commit{Aggregate: "order", Instance: "a", Events: []store.Event{event("a1")}})
	require.NoError(t, err)
	assert.Equal(t, []int64{1}, positions(evs))
}

func TestPruneIdempotency(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := t.Context()
	// Whole and fractional seconds side by side: text comparison must
	// still order them by time.
	times := map[string]time.Time{
		"old":      t0,
		"old-half": t0.Add(500 * time.Millisecond),
		"mid":      t0.Add(time.Hour),
		"new":      t0.Add(48 * time.Hour).In(time.FixedZone("X", -5*3600)),
	}
	i := 0
	for k, at := range times {
		_, err := s.Append(ctx, store.Commit{Aggregate: "order", Instance: fmt.Sprint(i), Events: []store.Event{event("e-" + k)}, Idempotency: key(k, at)})
		require.NoError(t, err)
		i++
	}
	present := func() map[string]bool {
		out := map[string]bool{}
		for k := range times {
			_, ok, err := s.Idempotency(ctx, k)
			require.NoError(t, err)
			out[k] = ok
		}
		return out
	}

	n, err := s.PruneIdempotency(ctx, t0.Add(250*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.Equal(t, map[string]bool{"old": false, "old-half": true, "mid": true, "new": true}, present())

	n, err = s.PruneIdempotency(ctx, t0.Add(time.Hour)) // strictly older
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.Equal(t, map[string]bool{"old": false, "old-half": false, "mid": true, "new": true}, present())

	n, err = s.PruneIdempotency(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n)

	n, err = s.PruneIdempotency(ctx, t0.Add(49*time.Hour).In(time.FixedZone("Y", 9*3600)))
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Equal(t, map[string]bool{"old": false, "old-half": false, "mid": false, "new": false}, present())

	// Pruning forgets keys only: the events stay, and a pruned key can be
	// recorded again.
	log, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.Len(t, log, len(times))
	_, err = s.Append(ctx, store.Commit{Aggregate: "order", Instance: "again", Idempotency: key("old", t0)})
	require.NoError(t, err)
}

// TestConcurrentWriters mixes every kind of write with reads; none may
// surface SQLITE_BUSY, and the log stays gap-free.
func TestConcurrentWriters(t *testing.T) {
	s, _ := openTemp(t, Options{Sync: SyncNormal})
	ctx := t.Context()
	const workers, rounds = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Go(func() {
			inst := fmt.Sprintf("w%d", w)
			var version int64
			for r := range rounds {
				if w%2 == 0 {
					evs, err := s.Append(ctx, store.Commit{Aggregate: "order", Instance: inst, ExpectedVersion: version,
						Events: []store.Event{event(fmt.Sprintf("%s-%d", inst, r))}, Idempotency: key(fmt.Sprintf("%s-%d", inst, r), t0)})
					if err != nil {
						errs <- err
						return
					}
					version += int64(len(evs))
				} else {
					res, err := s.AppendBatch(ctx, []store.Commit{
						{Aggregate: "order", Instance: inst, ExpectedVersion: version, Events: []store.Event{event(fmt.Sprintf("%s-%d-a", inst, r))}},
						{Aggregate: "order", Instance: inst, ExpectedVersion: version + 1, Events: []store.Event{event(fmt.Sprintf("%s-%d-b", inst, r))}},
					})
					if err != nil {
						errs <- err
						return
					}
					for _, r := range res {
						if r.Err != nil {
							errs <- r.Err
							return
						}
					}
					version += 2
				}
				if _, err := s.PruneIdempotency(ctx, t0); err != nil {
					errs <- err
				}
				if _, err := s.ReadAll(ctx, 0, 0); err != nil {
					errs <- err
				}
				if _, err := s.Load(ctx, "order", inst); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	log, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.Len(t, log, workers/2*rounds+workers/2*rounds*2)
	for i, e := range log {
		assert.Equal(t, int64(i+1), e.Position)
	}
}

// A database from before the store took the name snapshots may hold a
// projection's table of that name: Open refuses it, saying what to do,
// and opens it once that table is gone.
func TestMigrationMeetsProjectionTable(t *testing.T) {
	for _, table := range []string{"snapshots", "hot_log"} {
		t.Run(table, func(t *testing.T) { migrationMeets(t, table) })
	}
}

func migrationMeets(t *testing.T, table string) {
	path := filepath.Join(t.TempDir(), "store.db")
	// The database as the build before the table's migration left it.
	before := dbBefore(t, path, "CREATE TABLE "+table, fmt.Sprintf(`CREATE TABLE %s (key TEXT NOT NULL PRIMARY KEY, n INTEGER)`, table))

	_, err := Open(t.Context(), path, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the database has a table "+table+" already, a projection's")
	assert.Contains(t, err.Error(), "DROP TABLE "+table)
	assert.Equal(t, before, userVersion(t, path), "nothing migrated")

	db, err := sql.Open(driverName, path)
	require.NoError(t, err)
	_, err = db.Exec(`DROP TABLE ` + table)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	s, err := Open(t.Context(), path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Equal(t, len(migrations), userVersion(t, path))
}

// A table named archive_segments made before the store took the name (a
// projection's) is refused at Open, naming the way out, instead of being
// used as the archive's index.
func TestArchiveTableInTheWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(t.Context(), path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`DROP TABLE archive_segments; CREATE TABLE archive_segments (key TEXT PRIMARY KEY, total INTEGER)`)
		return err
	}))
	require.NoError(t, s.Close())
	_, err = Open(t.Context(), path, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the table archive_segments is not the archive's index (a projection of that name?)")
}

// dbBefore writes at path a database as the build before the migration
// holding marker left it, with the SQL then run in it, and answers that
// migration's index (the user_version the database says).
func dbBefore(t *testing.T, path, marker, then string) int {
	t.Helper()
	before := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, marker) })
	require.Positive(t, before)
	db, err := sql.Open(driverName, path)
	require.NoError(t, err)
	for _, m := range migrations[:before] {
		_, err = db.Exec(m)
		require.NoError(t, err)
	}
	_, err = db.Exec(fmt.Sprintf("%s;\nPRAGMA user_version = %d", then, before))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return before
}
