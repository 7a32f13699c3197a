package archive_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// benchStore is a store of n events (200-byte payloads over 100
// instances), appended in batches.
func benchStore(b *testing.B, n int) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "db.sqlite"), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	versions := map[string]int64{}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pad := fmt.Sprintf("%0180d", 0)
	for i := 0; i < n; {
		var commits []store.Commit
		for ; i < n && len(commits) < 200; i++ {
			id := fmt.Sprintf("i%03d", i%100)
			commits = append(commits, store.Commit{Aggregate: "cart", Instance: id, ExpectedVersion: versions[id], State: json.RawMessage(`{}`),
				Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Added", Time: at.Add(time.Duration(i) * time.Millisecond), CommandID: fmt.Sprintf("k%d", i),
					Payload: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, pad))}}})
			versions[id]++
		}
		if _, err := s.AppendBatch(b.Context(), commits); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkArchive is one archive pass over 20,000 hot events that must
// all leave (keepLast 1 keeps one per instance): segments written to a
// directory and indexed, events pruned. events/s counts the events
// archived.
func BenchmarkArchive(b *testing.B) {
	const n = 20000
	var total time.Duration
	var archived int64
	for b.Loop() {
		b.StopTimer()
		s := benchStore(b, n)
		dir := archive.Dir(filepath.Join(b.TempDir(), "archive"))
		a := archive.New(s, dir, retention.Policies{Context: retention.Policy{KeepLast: 1}}, archive.Options{})
		b.StartTimer()
		start := time.Now()
		rep, err := a.Run(b.Context())
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		archived += rep.Archived
	}
	b.ReportMetric(float64(archived)/total.Seconds(), "events/s")
}

// BenchmarkReadPage reads one page of 100 events of the global log
// (store.ReadAll) from the hot store, from an archived segment a reader
// has decoded already (a reader going through the log in order), and
// from a segment not decoded yet (a reader's first page in it).
func BenchmarkReadPage(b *testing.B) {
	s := benchStore(b, 20000)
	dir := archive.Dir(filepath.Join(b.TempDir(), "archive"))
	if _, err := archive.New(s, dir, retention.Policies{HotBytes: 1_200_000}, archive.Options{}).Run(b.Context()); err != nil {
		b.Fatal(err)
	}
	g, err := s.Guards(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	first, err := s.Hot(b.Context(), 0, 1)
	if err != nil || len(first) == 0 {
		b.Fatal(err)
	}
	hotFrom := first[0].Position
	b.Logf("archived up to %d, hot from %d", g.Archived, hotFrom)
	page := func(b *testing.B, after int64) {
		evs, err := s.ReadAll(b.Context(), after, 100)
		if err != nil || len(evs) != 100 || evs[0].Position != after+1 {
			b.Fatalf("page after %d: %d events, %v", after, len(evs), err)
		}
	}
	b.Run("hot", func(b *testing.B) {
		s.SetArchive(archive.NewReader(dir, s))
		for i := 0; b.Loop(); i++ {
			page(b, hotFrom+int64(i*100)%(g.Head-hotFrom-200))
		}
	})
	b.Run("archived", func(b *testing.B) {
		s.SetArchive(archive.NewReader(dir, s))
		for i := 0; b.Loop(); i++ {
			page(b, int64(i*100)%1900) // within the first segment (2,000 events)
		}
	})
	b.Run("archived-first", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			s.SetArchive(archive.NewReader(dir, s)) // nothing decoded yet
			page(b, int64(i*100)%5000)
		}
	})
}
