package bench

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// Rehydrate: BenchmarkRehydrate rebuilds one instance of 100,000 events
// (testdata/snapshots/counter.cue's counter, in SQLite) with
// native.Backend.Rehydrate, as POST /admin/rehydrate does: from the first
// event (no snapshot), and from a snapshot with 999 events after it (the
// most a snapshot every 1000 leaves) and with none after it. One op is
// one rehydration: the instance and the snapshot read, the events after
// it read, decoded and folded, the result compared with the stored state.
// TestRehydrateAgrees checks first that the three give one state.

const rehydrateEvents = 100_000

// rehydrateStore writes the instance "big" with n events, its state the
// fold of them, in commits of 1000 events.
func rehydrateStore(tb testing.TB, n int) (*interpreter.Program, *sqlite.Store, []store.Event) {
	m, err := compiler.Compile("../testdata/snapshots/counter.cue")
	require.NoError(tb, err)
	m.Snapshots = nil // the benchmark places the snapshots itself
	p, err := interpreter.Compile(m)
	require.NoError(tb, err)
	st, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "rehydrate.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v := 0; v < n; v += 1000 {
		c := store.Commit{Aggregate: "counter", Instance: "big", ExpectedVersion: int64(v)}
		for i := v; i < min(v+1000, n); i++ {
			c.Events = append(c.Events, store.Event{ID: fmt.Sprintf("e%d", i+1), Type: "Added", Time: at.Add(time.Duration(i) * time.Second),
				CommandID: fmt.Sprintf("c%d", i+1), Payload: json.RawMessage(fmt.Sprintf(`{"by":%d}`, i%1000))})
		}
		_, err := st.Append(tb.Context(), c)
		require.NoError(tb, err)
	}
	evs, err := st.Events(tb.Context(), "counter", "big", 0, 0)
	require.NoError(tb, err)
	full := cuesource.Compare(p, store.Instance{Aggregate: "counter", ID: "big"}, evs)
	require.Empty(tb, full.Error)
	_, err = st.Append(tb.Context(), store.Commit{Aggregate: "counter", Instance: "big", ExpectedVersion: int64(n), State: full.Rebuilt})
	require.NoError(tb, err)
	return p, st, evs
}

// snapshotAt saves the fold of the first v events as the instance's
// snapshot.
func snapshotAt(tb testing.TB, p *interpreter.Program, st *sqlite.Store, evs []store.Event, v int) {
	d := cuesource.Compare(p, store.Instance{Aggregate: "counter", ID: "big"}, evs[:v])
	require.Empty(tb, d.Error)
	require.NoError(tb, st.SaveSnapshot(tb.Context(), store.Snapshot{Aggregate: "counter", Instance: "big", Version: int64(v),
		State: d.Rebuilt, Hash: p.Aggregates["counter"].Hash, Time: time.Now()}))
}

func TestRehydrateAgrees(t *testing.T) {
	p, st, evs := rehydrateStore(t, 5000)
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	var states []string
	for _, v := range []int{0, 4001, 5000} {
		if v > 0 {
			snapshotAt(t, p, st, evs, v)
		}
		d, err := b.Rehydrate(t.Context(), "counter", "big", false)
		require.NoError(t, err)
		require.Empty(t, d.Error)
		require.False(t, d.Drifted)
		require.Equal(t, int64(v), d.FromSnapshot)
		require.Equal(t, 5000-v, d.Events)
		states = append(states, string(d.Rebuilt))
	}
	require.Equal(t, states[0], states[1])
	require.Equal(t, states[0], states[2])
}

func BenchmarkRehydrate(b *testing.B) {
	p, st, evs := rehydrateStore(b, rehydrateEvents)
	be := native.New(p, st, engine.Options{})
	defer be.Close()
	run := func(from int64) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				d, err := be.Rehydrate(b.Context(), "counter", "big", false)
				if err != nil || d.Error != "" || d.Drifted || d.FromSnapshot != from {
					b.Fatalf("rehydrate: %v %+v", err, d)
				}
			}
		}
	}
	// In this order: a snapshot replaces only an older one.
	b.Run("events=100000/from=first", run(0))
	snapshotAt(b, p, st, evs, rehydrateEvents-999)
	b.Run("events=100000/from=snapshot/after=999", run(rehydrateEvents-999))
	snapshotAt(b, p, st, evs, rehydrateEvents)
	b.Run("events=100000/from=snapshot/after=0", run(rehydrateEvents))
}
