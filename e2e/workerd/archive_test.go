//go:build unix

package workerd

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
	"github.com/cuesource/cuesource/store/d1"

	_ "modernc.org/sqlite" // to read the D1 database workerd persisted
)

type storageStatus struct {
	HotBytes     int64  `json:"hotBytes"`
	Budget       int64  `json:"budget"`
	Head         int64  `json:"head"`
	Archived     int64  `json:"archived"`
	Target       string `json:"target"`
	SegmentCount int    `json:"segmentCount"`
	Segments     []struct {
		Name  string `json:"name"`
		Bytes int64  `json:"bytes"`
		First int64  `json:"first"`
		Last  int64  `json:"last"`
		Count int64  `json:"count"`
		Hot   int64  `json:"hot"`
	} `json:"segments"`
}

func storageOf(t tb, c *client) storageStatus {
	t.Helper()
	var st storageStatus
	r, err := c.admin(http.MethodGet, "/admin/storage", nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /admin/storage: %v %v", r, err)
	}
	if err := json.Unmarshal(r.Body, &st); err != nil {
		t.Fatalf("GET /admin/storage: %v", err)
	}
	return st
}

// checkIndex checks that the index's segments run from position 1
// without gap or overlap, each counting its range.
func checkIndex(t tb, st storageStatus) {
	t.Helper()
	next := int64(1)
	if st.SegmentCount != len(st.Segments) {
		t.Fatalf("the status lists %d of %d segments", len(st.Segments), st.SegmentCount)
	}
	for _, s := range st.Segments {
		if s.First != next || s.Count != s.Last-s.First+1 || s.Name != fmt.Sprintf("%020d-%020d.ndjson.gz", s.First, s.Last) {
			t.Errorf("segment %+v does not follow position %d", s, next-1)
		}
		next = s.Last + 1
	}
	if next-1 != st.Archived {
		t.Errorf("the segments end at %d, archived says %d", next-1, st.Archived)
	}
}

// load sends n deposits from 4 writers over 12 accounts, starting at seq
// from, and returns the acknowledged event ids.
func load(t *testing.T, c *client, from, n int) map[string]bool {
	t.Helper()
	const writers = 4
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := from + w; seq < from+n; seq += writers {
				status, ids := c.Deposit(fmt.Sprintf("acc-%02d", seq%12), seq)
				if status/100 != 2 {
					t.Errorf("deposit %d: status %d", seq, status)
					return
				}
				mu.Lock()
				for _, id := range ids {
					acked[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked
}

// checkWhole checks that the log from position 1 holds every acknowledged
// event once, in order (RawLog checks the positions).
func checkWhole(t tb, c *client, acked map[string]bool) ([]logEvent, [][]byte) {
	t.Helper()
	evs, raws := c.RawLog(t)
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.ID] {
			t.Errorf("event %s twice", e.ID)
		}
		seen[e.ID] = true
	}
	for id := range acked {
		if !seen[id] {
			t.Errorf("acknowledged event %s is not in the log", id)
		}
	}
	if len(evs) != len(acked) {
		t.Errorf("the log holds %d events, %d were acknowledged", len(evs), len(acked))
	}
	return evs, raws
}

// TestArchiveTinyHotBudget: under load on the Worker, with a hot budget a
// few dozen events big, the Archiver object keeps D1's log near its
// budget while every command succeeds; at the end D1's log is under it,
// GET /events reads every acknowledged event from position 1, in order,
// once, byte for byte as it was served while hot, and so does the live
// stream's catch-up; projections rebuilt from the archive in R2 equal the
// live ones; a missing segment fails
// the reads that need it, naming its range.
func TestArchiveTinyHotBudget(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	dir := buildWorker(t, e2etest.Ledger)
	cfg, err := os.ReadFile(filepath.Join(dir, "wrangler.jsonc"))
	if err != nil || !bytes.Contains(cfg, []byte(`"r2_buckets"`)) || !bytes.Contains(cfg, []byte(`"Archiver"`)) {
		t.Fatalf("wrangler.jsonc binds no R2 bucket or no Archiver object (%v):\n%s", err, cfg)
	}
	persist := t.TempDir()
	w := startWorker(t, dir, persist)
	c := newClient(w.url)
	defer c.Close()

	// A follower reads the log close behind the writers, while it is hot.
	follower := e2etest.Follow(w.url)
	sampler := e2etest.Sample(w.url, adminToken, 20*time.Millisecond)

	const n = 240
	acked := load(t, c, 0, n)
	maxHot, samples := sampler.Stop()
	if t.Failed() {
		follower.Stop()
		return
	}
	var st storageStatus
	if !e2etest.Until(60*time.Second, 50*time.Millisecond, func() bool {
		st = storageOf(t, c)
		return st.HotBytes <= e2etest.LedgerBudget && st.SegmentCount > 0 && st.Head == n
	}) {
		t.Fatalf("D1's log is not under its budget with every event in it: %+v", st)
	}
	e2etest.WaitFor(t, 30*time.Second, "the follower at the head", func() bool { return follower.Len() >= int(st.Head) })
	follower.Stop()
	t.Logf("%d events, %d segments in %s, hot %d bytes (at most %d under load), archived up to %d", st.Head, st.SegmentCount, st.Target, st.HotBytes, maxHot, st.Archived)
	// Between two alarms the writers add what a step's interval lets
	// them: D1's log passes its budget by that much at most.
	if samples == 0 {
		t.Fatal("no /admin/storage answer was sampled under load: the bound below checks nothing")
	}
	if maxHot > 10*e2etest.LedgerBudget {
		t.Errorf("D1's log reached %d bytes under load, budget %d", maxHot, e2etest.LedgerBudget)
	}
	if st.Archived < st.Head/2 {
		t.Errorf("archived up to %d of %d: the budget did not make events leave", st.Archived, st.Head)
	}
	checkIndex(t, st)
	if st.Budget != e2etest.LedgerBudget {
		t.Errorf("the storage's budget is %d, the ledger declares %d", st.Budget, e2etest.LedgerBudget)
	}

	evs, raws := checkWhole(t, c, acked)
	for i, e := range evs {
		if !bytes.Equal(raws[i], follower.Served(e.Position)) {
			t.Errorf("position %d reads\n%s\nwas served while hot as\n%s", e.Position, raws[i], follower.Served(e.Position))
		}
	}
	e2etest.RebuildEquals(t, c.Client, adminToken, st.Head)

	// The live stream's catch-up from position 1 reads the archive too.
	frames := openStream(t, w.url, "0")
	for i := int64(1); i <= st.Head; i++ {
		if f := next(t, frames); f.id != strconv.FormatInt(i, 10) {
			t.Fatalf("the live stream's frame %d has id %s", i, f.id)
		}
	}

	// A missing segment: the reads that need it fail naming its range;
	// those after it still answer.
	seg := st.Segments[0]
	if r, err := c.Request(http.MethodDelete, "/__test/r2/"+seg.Name, nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("deleting segment %s: %v %v", seg.Name, r, err)
	}
	// Started again: the isolate's reader no longer holds the segment it
	// decoded last.
	c.Close()
	w.stop(10 * time.Second)
	checkHotCounter(t, persist)
	w = startWorker(t, dir, persist)
	c = newClient(w.url)
	r, err := c.Request(http.MethodGet, "/events?after=0", nil)
	want := fmt.Sprintf("positions %d-%d", seg.First, seg.Last)
	if err != nil || r.Status != http.StatusInternalServerError || !strings.Contains(string(r.Body), want) || !strings.Contains(string(r.Body), "archive_unreadable") {
		t.Errorf("GET /events?after=0 with segment %s missing: %v %v, want 500 archive_unreadable naming %q", seg.Name, r, err, want)
	}
	if r, err := c.Request(http.MethodGet, fmt.Sprintf("/events?after=%d", seg.Last), nil); err != nil || r.Status != http.StatusOK {
		t.Errorf("GET /events after the missing segment: %v %v", r, err)
	}
}

// TestHistoryScansFromFirstOnWorkers: the history of an instance whose
// object let go of its first events reads the archive from the
// instance's first event (recorded by its object), never the segments
// before its creation: with those gone from R2, its history still
// answers, while an instance older than them cannot.
func TestHistoryScansFromFirstOnWorkers(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, e2etest.Ledger), "")
	c := newClient(w.url)
	defer c.Close()
	const late = 20
	seq := 0
	var first int64 // late's first event's position
	for _, run := range []struct {
		account string
		n       int
	}{{"early", 120}, {"late", late}, {"early", 120}} {
		for range run.n {
			if status, _ := c.Deposit(run.account, seq); status/100 != 2 {
				t.Fatalf("deposit %d: status %d", seq, status)
			}
			seq++
		}
		if run.account == "late" {
			var page struct{ Events []logEvent }
			if r, err := c.GetJSON("/account/late/events?limit=1", &page); err != nil || r.Status != http.StatusOK || len(page.Events) != 1 || page.Events[0].Version != 1 || page.Events[0].Position == 0 {
				t.Fatalf("GET /account/late/events: %v %v %+v", r, err, page.Events)
			}
			first = page.Events[0].Position
		}
	}
	e2etest.WaitFor(t, 60*time.Second, "late's object lets go of its first event", func() bool {
		var page struct{ Events []logEvent }
		r, err := c.GetJSON("/account/late/events?limit=1", &page)
		return err == nil && r.Status == http.StatusOK && (len(page.Events) == 0 || page.Events[0].Version > 1)
	})
	st := storageOf(t, c)
	removed := 0
	for _, g := range st.Segments {
		if g.Last < first {
			if r, err := c.Request(http.MethodDelete, "/__test/r2/"+g.Name, nil); err != nil || r.Status != http.StatusOK {
				t.Fatalf("deleting segment %s: %v %v", g.Name, r, err)
			}
			removed++
		}
	}
	if removed == 0 {
		t.Fatalf("no segment ends before late's first event (position %d): %+v", first, st.Segments)
	}

	var his struct {
		Steps []struct{ Event logEvent }
	}
	if r, err := c.GetJSON("/account/late/history", &his); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /account/late/history with %d segments before it gone: %v %v", removed, r, err)
	}
	from := int64(0) // the first step's version (none: 0)
	if len(his.Steps) > 0 {
		from = his.Steps[0].Event.Version
	}
	if len(his.Steps) != late || his.Steps[0].Event.Version != 1 || his.Steps[0].Event.Position != first {
		t.Errorf("late's history has %d steps from version %d, want %d from 1", len(his.Steps), from, late)
	}
	// early began in them: its history cannot be read.
	if r, err := c.Request(http.MethodGet, "/account/early/history", nil); err != nil || r.Status != http.StatusInternalServerError || !strings.Contains(string(r.Body), "archive_unreadable") {
		t.Errorf("GET /account/early/history: want 500 archive_unreadable, got %v %v", r, err)
	}
}

// TestArchiveRestartMidStep: workerd stops dead between a segment's
// upload to R2 and its index entry ("written"), and between the index
// entry and the prune ("indexed"); started again on the same state, the
// Archiver carries on: nothing lost, nothing twice, the index agrees
// with the segments.
func TestArchiveRestartMidStep(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	dir := buildWorker(t, e2etest.Ledger)
	for _, point := range []string{"written", "indexed"} {
		t.Run(point, func(t *testing.T) {
			persist := t.TempDir()
			w := startWorker(t, dir, persist, "CUESOURCE_TEST_CRASH="+point)
			c := newClient(w.url)
			acked := load(t, c, 0, 120)
			w.waitLog(t, "archive: test crash point "+point, 60*time.Second)
			c.Close()
			w.kill(t)

			w2 := startWorker(t, dir, persist)
			c2 := newClient(w2.url)
			defer c2.Close()
			for id := range load(t, c2, 1000, 40) {
				acked[id] = true
			}
			var st storageStatus
			e2etest.WaitFor(t, 60*time.Second, "D1's log under its budget after the restart", func() bool {
				st = storageOf(t, c2)
				return st.HotBytes <= e2etest.LedgerBudget && st.SegmentCount > 0 && st.Head == int64(len(acked))
			})
			checkIndex(t, st)
			checkWhole(t, c2, acked)
		})
	}
}

// TestArchiveThroughput measures the Archiver object under workerd with
// Miniflare's R2 (BENCHMARKS.md §8): N events go into D1 under the
// ledger without a retention; the same state is then served by the
// ledger with hotBytes 1, and one more command kicks the Archiver; it
// reports the events archived and pruned per second until D1 holds only
// the head. Only with CUESOURCE_BENCH_ARCHIVE=N.
func TestArchiveThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CUESOURCE_BENCH_ARCHIVE"))
	if n <= 0 {
		t.Skip("set CUESOURCE_BENCH_ARCHIVE=N to measure the Archiver on N events")
	}
	needWorkerd(t)
	persist := filepath.Join(t.TempDir(), "state")
	keep := buildWorkerAt(t, edited(t, e2etest.Ledger, "retention: {hotBytes: 12000}\n", ""))
	archive := buildWorkerAt(t, edited(t, e2etest.Ledger, "hotBytes: 12000", "hotBytes: 1"))
	w := startWorker(t, keep, persist)
	c := newClient(w.url)
	load(t, c, 0, n)
	c.waitLog(t, n, 5*time.Minute)
	hot := pageTimes(t, c)
	c.Close()
	w.stop(10 * time.Second)

	w2 := startWorker(t, archive, persist)
	c2 := newClient(w2.url)
	defer c2.Close()
	start := time.Now()
	c2.Deposit("acc-kick", n)
	var st storageStatus
	e2etest.WaitFor(t, 10*time.Minute, "the archive at the head", func() bool {
		st = storageOf(t, c2)
		return st.Archived >= int64(n) && sumHot(st) <= 1
	})
	d := time.Since(start)
	t.Logf("%d events archived and pruned in %v: %.0f events/s, %d segments, %d bytes in R2", st.Archived, d.Round(time.Millisecond), float64(st.Archived)/d.Seconds(), st.SegmentCount, archivedBytes(st))
	cold := pageTimes(t, c2)
	for i, what := range []string{"a segment's first page (read by turns with another segment's)", "a page of the segment read last"} {
		t.Logf("GET /events, 100 events, %s: hot %v, archived %v (%.1fx)", what, hot[i], cold[i], float64(cold[i])/float64(hot[i]))
	}
}

// pageTimes times GET /events pages of 100 events over the first 4,000
// positions, median of 15 reads each: [0] pages that start two segments
// (positions 1 and 2001) read by turns, so that a reader keeping one
// decoded segment decodes each read; [1] the second page of the segment
// read last, again and again.
func pageTimes(t *testing.T, c *client) [2]time.Duration {
	t.Helper()
	read := func(after int) time.Duration {
		start := time.Now()
		r, err := c.Request(http.MethodGet, fmt.Sprintf("/events?after=%d&limit=100&raw=true", after), nil)
		if err != nil || r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(fmt.Sprintf(`"position":%d,`, after+100))) {
			t.Fatalf("GET /events?after=%d: %v %v", after, r, err)
		}
		return time.Since(start)
	}
	var turns, same []time.Duration
	for range 15 {
		turns = append(turns, read(0), read(2000))
		read(0)
		same = append(same, read(100))
	}
	return [2]time.Duration{median(turns), median(same)}
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func archivedBytes(st storageStatus) int64 {
	var b int64
	for _, s := range st.Segments {
		b += s.Bytes
	}
	return b
}

// checkHotCounter reads the D1 database workerd left under persist
// (stopped) and checks that its hot log's size, the counter the triggers
// of migration 0004 kept through every forward and prune, is the sum of
// its events' sizes (the bytes ArchiveWindow gives each).
func checkHotCounter(t *testing.T, persist string) {
	t.Helper()
	var files []string
	_ = filepath.WalkDir(persist, func(path string, e os.DirEntry, err error) error {
		if err == nil && strings.Contains(path, "D1DatabaseObject") && strings.HasSuffix(path, ".sqlite") && filepath.Base(path) != "metadata.sqlite" {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("want one D1 database under %s, found %v", persist, files)
	}
	db, err := sql.Open("sqlite", "file:"+files[0]+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var counter, counted, base int64
	if err := db.QueryRow(d1.ArchiveHotBytes).Scan(&counter, &counted, &base); err != nil {
		t.Fatalf("D1's hot log counter: %v", err)
	}
	if counted != base {
		t.Errorf("D1's hot log counter has counted to %d of %d, on a log made with it", counted, base)
	}
	rows, err := db.Query(d1.ArchiveWindow, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sum, n int64
	for rows.Next() {
		var pos, version, bytes, latest, first, owed int64
		var agg, inst, at string
		if err := rows.Scan(&pos, &agg, &inst, &version, &at, &bytes, &latest, &first, &owed); err != nil {
			t.Fatal(err)
		}
		sum += bytes
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 || counter != sum {
		t.Errorf("D1's hot log counter is %d, its %d events sum to %d", counter, n, sum)
	}
}
