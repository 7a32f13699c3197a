package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// counter is the benchmarks' context: one event type, and a simple
// projection counting events and summing a payload field per instance.
const counter = `
package counter

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "counter"
	aggregates: counter: {
		#state: n: int
		initial: n: 0
		commands: Bump: {
			instance: "any"
			#payload: by: int
			emit: [{event: "Bumped", payload: by: "cmd.by"}]
		}
		events: Bumped: {
			#payload: by: int
			apply: n: "state.n + event.by"
		}
	}
	projections: counts: {
		mode: %q
		columns: {applied: "INTEGER", total: "INTEGER"}
		on: "counter.Bumped": upsert: {applied: "(row.applied ?? 0) + 1", total: "(row.total ?? 0) + event.by"}
	}
}
`

// fillCounters appends n events spread over `instances` counters, in
// group commits of 256, and returns the versions reached.
func fillCounters(b testing.TB, st *sqlite.Store, n, instances int) map[string]int64 {
	version := map[string]int64{}
	var batch []store.Commit
	for i := range n {
		id := fmt.Sprintf("c%06d", i%instances)
		batch = append(batch, store.Commit{Aggregate: "counter", Instance: id, ExpectedVersion: version[id],
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Bumped", Time: clock, CommandID: fmt.Sprintf("c%d", i), Payload: json.RawMessage(`{"by":3}`)}}})
		version[id]++
		if len(batch) == 256 || i == n-1 {
			res, err := st.AppendBatch(context.Background(), batch)
			require.NoError(b, err)
			for _, r := range res {
				require.NoError(b, r.Err)
			}
			batch = batch[:0]
		}
	}
	return version
}

const benchEvents = 100_000

// BenchmarkRebuild replays a log of 100k events into the counts
// projection (RebuildProgress: drop, then batches of 500 per
// transaction), with the events spread over 100 instances (many events
// per row in a batch), 1000 (as BenchmarkCatchUp) or 100k (every event a
// new row).
func BenchmarkRebuild(b *testing.B) {
	for _, instances := range []int{100, 1000, benchEvents} {
		b.Run(fmt.Sprintf("keys=%d", instances), func(b *testing.B) {
			p := compile(b, fmt.Sprintf(counter, "async"))
			st := openStore(b, filepath.Join(b.TempDir(), "c.db"))
			defer st.Close()
			fillCounters(b, st, benchEvents, instances)
			r, err := projections.New(p, st, projections.Options{})
			require.NoError(b, err)
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				require.NoError(b, r.RebuildProgress(context.Background(), "counts", nil))
			}
			b.ReportMetric(float64(benchEvents*b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkCatchUp starts a runner on a copy of a database holding 100k
// events and no projection yet, and times until the background catch-up
// reports the async projection running at the head.
func BenchmarkCatchUp(b *testing.B) {
	p := compile(b, fmt.Sprintf(counter, "async"))
	dir := b.TempDir()
	src := filepath.Join(dir, "src.db")
	st := openStore(b, src)
	fillCounters(b, st, benchEvents, 1000)
	require.NoError(b, st.Close()) // checkpoints the WAL into the file
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		path := filepath.Join(dir, fmt.Sprintf("copy%d.db", i))
		copyFile(b, src, path)
		st := openStore(b, path)
		b.StartTimer()
		start := time.Now()
		r, err := projections.New(p, st, projections.Options{PollInterval: time.Millisecond})
		require.NoError(b, err)
		require.NoError(b, r.Start(context.Background()))
		caughtUp(b, r)
		total += time.Since(start)
		b.StopTimer()
		r.Close()
		require.NoError(b, st.Close())
		require.NoError(b, os.Remove(path))
		b.StartTimer()
	}
	b.ReportMetric(float64(benchEvents*b.N)/total.Seconds(), "events/s")
}

func copyFile(b testing.TB, from, to string) {
	in, err := os.Open(from)
	require.NoError(b, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(b, err)
	_, err = io.Copy(out, in)
	require.NoError(b, err)
	require.NoError(b, out.Close())
}

// BenchmarkInlineAppend is what an inline projection adds to a command's
// commit: Store.Append of one event (one transaction) or AppendBatch of
// 64 commits (a group commit), without the hook and with the counts
// projection inline. Mostly synchronous=NORMAL, so the fsync does not hide
// the difference; one case with FULL (what serve uses by default) shows
// the same absolute cost on a larger total.
func BenchmarkInlineAppend(b *testing.B) {
	for _, c := range []struct {
		batch int
		sync  sqlite.Sync
	}{{1, sqlite.SyncNormal}, {64, sqlite.SyncNormal}, {1, sqlite.SyncFull}} {
		for _, mode := range []string{"without", "with"} {
			b.Run(fmt.Sprintf("commits=%d/sync=%s/%s", c.batch, c.sync, mode), func(b *testing.B) {
				p := compile(b, fmt.Sprintf(counter, "inline"))
				st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"), sqlite.Options{Sync: c.sync})
				require.NoError(b, err)
				defer st.Close()
				version := fillCounters(b, st, 1000, 1000)
				if mode == "with" {
					r, err := projections.New(p, st, projections.Options{})
					require.NoError(b, err)
					require.NoError(b, r.Start(context.Background()))
					defer r.Close()
					caughtUp(b, r)
				}
				commits := make([]store.Commit, c.batch)
				n := 0
				b.ResetTimer()
				for b.Loop() {
					for i := range commits {
						id := fmt.Sprintf("c%06d", n%1000)
						n++
						commits[i] = store.Commit{Aggregate: "counter", Instance: id, ExpectedVersion: version[id],
							Events: []store.Event{{ID: fmt.Sprintf("b%d", n), Type: "Bumped", Time: clock, CommandID: fmt.Sprintf("b%d", n), Payload: json.RawMessage(`{"by":1}`)}}}
						version[id]++
					}
					if c.batch == 1 {
						_, err := st.Append(context.Background(), commits[0])
						require.NoError(b, err)
					} else {
						res, err := st.AppendBatch(context.Background(), commits)
						require.NoError(b, err)
						require.NoError(b, res[0].Err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.batch), "ns/commit")
			})
		}
	}
}
