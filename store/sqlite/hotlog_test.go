package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/store"
)

// summed is the hot log's size summed over its rows, what HotBytes read
// before the counter.
func summed(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	require.NoError(t, s.read.QueryRowContext(t.Context(), `SELECT COALESCE(SUM(`+rowBytes("")+`), 0) FROM events`).Scan(&n))
	return n
}

// counted asserts that the counter HotBytes reads is the sum, and returns it.
func counted(t *testing.T, s *Store, what string) int64 {
	t.Helper()
	got, err := s.HotBytes(t.Context())
	require.NoError(t, err)
	require.Equal(t, summed(t, s), got, "after %s: the counter is the sum", what)
	return got
}

// A database made before the counter gains it at Open, counted from its
// log; then every write that changes the log changes it in its
// transaction: appends (one and a batch), a prune, a rolled-back append,
// an update and a delete by hand, and an import into a new store.
func TestHotLogCounter(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	// Multi-byte text counts its bytes; a NULL payload or meta counts 0.
	dbBefore(t, path, "CREATE TABLE hot_log", `INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta) VALUES
		(1, 'e1', 'cart', 'a', 1, 'Opened', 1, '2026-01-01T00:00:00.000000000Z', 'c1', '{"name":"Zoë ☕"}', '{"actor":"ada"}'),
		(2, 'e2', 'cart', 'a', 2, 'Closed', 1, '2026-01-01T00:00:00.000000000Z', 'c2', NULL, NULL);
		INSERT INTO instances (aggregate, instance, version) VALUES ('cart', 'a', 2)`)

	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, len(migrations), userVersion(t, path))
	want := int64(64+2+4+1+6+2+len(`{"name":"Zoë ☕"}`)+len(`{"actor":"ada"}`)) + int64(64+2+4+1+6+2)
	assert.Equal(t, want, counted(t, s, "the migration"), "counted from the log the database had")

	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "b", Events: []store.Event{event("e3"), event("e4")}})
	require.NoError(t, err)
	counted(t, s, "an append")
	var batch []store.Commit
	for i := range 5 {
		batch = append(batch, store.Commit{Aggregate: "cart", Instance: fmt.Sprintf("x%d", i), Events: []store.Event{event(fmt.Sprintf("x%d", i))}})
	}
	_, err = s.AppendBatch(ctx, batch)
	require.NoError(t, err)
	counted(t, s, "a batch")

	before5 := counted(t, s, "the batch")
	_, err = s.Append(ctx, store.Commit{Aggregate: "cart", Instance: "b", ExpectedVersion: 2, Events: []store.Event{event("e5"), event("e1")}}) // the second id is taken
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	assert.Equal(t, before5, counted(t, s, "a failed append"), "a refused append leaves it")
	// An insert the trigger counted, then rolled back: the count with it.
	tx, err := s.write.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id, payload) VALUES
		(100, 'rb', 'cart', 'z', 1, 'Opened', 1, '2026-01-01T00:00:00.000000000Z', 'c9', '{"n":1}')`)
	require.NoError(t, err)
	var inside int64
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT bytes FROM hot_log`).Scan(&inside))
	assert.Greater(t, inside, before5, "counted inside the transaction")
	require.NoError(t, tx.Rollback())
	assert.Equal(t, before5, counted(t, s, "a rolled-back insert"), "a rolled-back insert leaves it")

	evs := mustReadAllT(t, s)
	require.Len(t, evs, 9)
	lines, seg, err := archive.Lines(evs[:4])
	require.NoError(t, err)
	seg.Seal(lines)
	require.NoError(t, s.AddSegment(ctx, seg))
	n, err := s.Prune(ctx, []int64{1, 2, 3, 4})
	require.NoError(t, err)
	require.Equal(t, 4, n)
	assert.Less(t, counted(t, s, "a prune"), before5)

	require.NoError(t, s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE events SET payload = '{"a":"much longer than it was"}' WHERE position = 5`)
		return err
	}))
	counted(t, s, "an update by hand")
	require.NoError(t, s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM events WHERE position = 6`)
		return err
	}))
	counted(t, s, "a delete by hand")

	// archive restore: Import into a new store.
	rest, err := s.Hot(ctx, 0, 100)
	require.NoError(t, err)
	all := append(evs[:4:4], rest...)
	r, _ := openTemp(t, Options{})
	assert.Equal(t, int64(0), counted(t, r, "a new store's migrations"))
	require.NoError(t, r.Import(ctx, all, map[[2]string]json.RawMessage{}))
	assert.Positive(t, counted(t, r, "an import"))
}

// BenchmarkHotLogCounter is what the counter's triggers cost an append
// (BENCHMARKS.md §8): commits of one event (a 150-byte payload) with a
// snapshot, one a transaction or 32 in one, on a store with the
// triggers and on one whose triggers are dropped, in the same process.
// synchronous=NORMAL, so that no fsync hides the work.
func BenchmarkHotLogCounter(b *testing.B) {
	payload := json.RawMessage(`{"orderId":"o-000123","sku":"SKU-4711","quantity":3,"unitPrice":{"amount":"19.90","currency":"EUR"},"note":"gift wrap, leave at the door"}`)
	for _, batch := range []int{1, 32} {
		for _, counter := range []bool{true, false} {
			b.Run(fmt.Sprintf("commits=%d/counter=%t", batch, counter), func(b *testing.B) {
				s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), Options{Sync: SyncNormal})
				require.NoError(b, err)
				defer s.Close()
				if !counter {
					require.NoError(b, s.Write(b.Context(), func(tx *sql.Tx) error {
						_, err := tx.Exec(`DROP TRIGGER hot_log_insert; DROP TRIGGER hot_log_delete; DROP TRIGGER hot_log_update`)
						return err
					}))
				}
				versions := make([]int64, 256)
				n := 0
				commits := make([]store.Commit, batch)
				for b.Loop() {
					for i := range commits {
						k := n % len(versions)
						commits[i] = store.Commit{Aggregate: "order", Instance: fmt.Sprintf("o-%03d", k), ExpectedVersion: versions[k], State: payload,
							Events: []store.Event{{ID: fmt.Sprintf("e-%d", n), Type: "LineAdded", SchemaVersion: 1, Time: t0, CommandID: fmt.Sprintf("c-%d", n), Payload: payload}}}
						versions[k]++
						n++
					}
					res, err := s.AppendBatch(b.Context(), commits)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/commit")
			})
		}
	}
}

// BenchmarkHotBytes reads the hot log's size of a log of 100,000 events
// (150-byte payloads, about 30 MB) from the counter, and, as before the
// counter, by summing every row (BENCHMARKS.md §8).
func BenchmarkHotBytes(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), Options{SkipIntegrityCheck: true})
	require.NoError(b, err)
	defer s.Close()
	payload := json.RawMessage(`{"orderId":"o-000123","sku":"SKU-4711","quantity":3,"unitPrice":{"amount":"19.90","currency":"EUR"},"note":"gift wrap, leave at the door"}`)
	evs := make([]store.Event, 100_000)
	for i := range evs {
		evs[i] = store.Event{Position: int64(i + 1), ID: fmt.Sprintf("e-%d", i), Aggregate: "order", Instance: fmt.Sprintf("o-%d", i/10), Version: int64(i%10 + 1),
			Type: "LineAdded", SchemaVersion: 1, Time: t0, CommandID: fmt.Sprintf("c-%d", i), Payload: payload}
	}
	require.NoError(b, s.Import(b.Context(), evs, nil))
	b.Run("counter", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.HotBytes(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sum", func(b *testing.B) {
		var n int64
		for b.Loop() {
			if err := s.read.QueryRowContext(b.Context(), `SELECT COALESCE(SUM(`+rowBytes("")+`), 0) FROM events`).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
