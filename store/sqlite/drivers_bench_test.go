//go:build drivers

package sqlite

// The driver comparison behind DRIVERS.md: the same Store, on each pure-Go
// SQLite driver, through database/sql. The store links only the chosen one
// (driver.go); the other is imported here so the comparison can be re-run
// when either releases.
//
//	go test ./store/sqlite -run '^$' -bench Driver -benchmem -count 6

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers "sqlite3"
	"github.com/stretchr/testify/require"
	modernc "modernc.org/sqlite"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/storetest"
)

var benchDrivers = []struct{ name, driver string }{
	{"modernc", "sqlite"},
	{"ncruces", "sqlite3"},
}

// writeDrivers adds modernc with fdatasync(2) for the write benchmarks:
// ncruces always syncs with fdatasync on Linux, modernc with fsync unless
// switched (process-wide), and the sync call is most of a FULL commit.
var writeDrivers = []struct {
	name, driver string
	fdatasync    bool
}{
	{"modernc", "sqlite", false},
	{"modernc-fdatasync", "sqlite", true},
	{"ncruces", "sqlite3", false},
}

// setFdatasync switches modernc's sync call for the benchmark's duration.
func setFdatasync(b *testing.B, on bool) {
	prev, err := modernc.Fdatasync(on)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { modernc.Fdatasync(prev) })
}

// TestDriverConformance: both candidates pass the suite under this store,
// so the comparison is between working stores.
func TestDriverConformance(t *testing.T) {
	for _, d := range benchDrivers {
		t.Run(d.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				s, err := open(t.Context(), d.driver, filepath.Join(t.TempDir(), "store.db"), Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

func openBench(b *testing.B, driver string, sync Sync) *Store {
	b.Helper()
	s, err := open(b.Context(), driver, filepath.Join(b.TempDir(), "bench.db"), Options{Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// Sizes of a typical small command: a few hundred bytes of JSON each.
var (
	benchPayload  = []byte(`{"orderId":"o-000123","sku":"SKU-4711","quantity":3,"unitPrice":{"amount":"19.90","currency":"EUR"},"note":"gift wrap, leave at the door"}`)
	benchState    = []byte(`{"status":"open","customer":"c-42","lines":[{"sku":"SKU-4711","qty":3},{"sku":"SKU-0815","qty":1}],"total":{"amount":"79.60","currency":"EUR"}}`)
	benchResponse = []byte(`{"status":200,"body":{"id":"o-000123","version":7}}`)
)

// commitGen produces valid commits the way the runtime will: 1-3 events
// over 256 instances, a new snapshot and an idempotency record each.
type commitGen struct {
	n        int
	versions map[string]int64
}

func (g *commitGen) next() store.Commit {
	if g.versions == nil {
		g.versions = map[string]int64{}
	}
	i := g.n
	g.n++
	inst := fmt.Sprintf("o-%03d", i%256)
	evs := make([]store.Event, 1+i%3)
	for k := range evs {
		evs[k] = store.Event{ID: fmt.Sprintf("e-%d-%d", i, k), Type: "LineAdded", SchemaVersion: 1,
			Time: t0.Add(time.Duration(i) * time.Millisecond), CommandID: fmt.Sprintf("c-%d", i), Payload: benchPayload}
	}
	c := store.Commit{Aggregate: "order", Instance: inst, ExpectedVersion: g.versions[inst], Events: evs, State: benchState,
		Idempotency: &store.Idempotency{Key: fmt.Sprintf("k-%d", i), RequestHash: "sha256:9f86d081884c7d65", Response: benchResponse,
			Time: t0.Add(time.Duration(i) * time.Millisecond)}}
	g.versions[inst] += int64(len(evs))
	return c
}

func BenchmarkDriverAppend(b *testing.B) {
	for _, d := range writeDrivers {
		for _, sync := range []Sync{SyncNormal, SyncFull} {
			b.Run(d.name+"/"+sync.String(), func(b *testing.B) {
				setFdatasync(b, d.fdatasync)
				s := openBench(b, d.driver, sync)
				var g commitGen
				for b.Loop() {
					if _, err := s.Append(b.Context(), g.next()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDriverAppendBatch32: one op is 32 commits in one transaction.
func BenchmarkDriverAppendBatch32(b *testing.B) {
	const size = 32
	for _, d := range writeDrivers {
		for _, sync := range []Sync{SyncNormal, SyncFull} {
			b.Run(d.name+"/"+sync.String(), func(b *testing.B) {
				setFdatasync(b, d.fdatasync)
				s := openBench(b, d.driver, sync)
				var g commitGen
				batch := make([]store.Commit, size)
				for b.Loop() {
					for i := range batch {
						batch[i] = g.next()
					}
					res, err := s.AppendBatch(b.Context(), batch)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/commit")
			})
		}
	}
}

// BenchmarkDriverReadAll100: one page of 100 events from a 2,000-event log.
func BenchmarkDriverReadAll100(b *testing.B) {
	for _, d := range benchDrivers {
		b.Run(d.name, func(b *testing.B) {
			s := openBench(b, d.driver, SyncNormal)
			var g commitGen
			batch := make([]store.Commit, 100)
			for range 10 {
				for i := range batch {
					batch[i] = g.next()
				}
				if _, err := s.AppendBatch(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			for b.Loop() {
				evs, err := s.ReadAll(b.Context(), int64(n%1900), 100)
				if err != nil || len(evs) != 100 {
					b.Fatal(len(evs), err)
				}
				n += 97
			}
		})
	}
}

// BenchmarkDriverLoad: one snapshot read, the first step of every command.
func BenchmarkDriverLoad(b *testing.B) {
	for _, d := range benchDrivers {
		b.Run(d.name, func(b *testing.B) {
			s := openBench(b, d.driver, SyncNormal)
			var g commitGen
			batch := make([]store.Commit, 256)
			for i := range batch {
				batch[i] = g.next()
			}
			if _, err := s.AppendBatch(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				in, err := s.Load(b.Context(), "order", fmt.Sprintf("o-%03d", n%256))
				if err != nil || in.Version == 0 {
					b.Fatal(in, err)
				}
				n++
			}
		})
	}
}
