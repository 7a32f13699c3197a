//go:build unix

package native_e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/cuesource/cuesource/archive/s3"
	"github.com/cuesource/cuesource/e2e/e2etest"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

type storageStatus struct {
	HotBytes     int64 `json:"hotBytes"`
	Budget       int64 `json:"budget"`
	Head         int64 `json:"head"`
	Archived     int64 `json:"archived"`
	SegmentCount int   `json:"segmentCount"`
}

func storage(t *testing.T, c *client) storageStatus {
	t.Helper()
	var st storageStatus
	r, err := c.Request(http.MethodGet, "/admin/storage", nil, "Authorization", "Bearer "+adminToken)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /admin/storage: %v %v", r, err)
	}
	if err := json.Unmarshal(r.Body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestTinyHotBudget: under load, with a hot budget a few dozen events
// big, the archiver keeps the hot log near its budget while every
// command succeeds; at the end the hot log is under it, GET /events reads
// every acknowledged event from position 1, in order, once, byte for
// byte as it was served while hot, and projections rebuilt from the
// archive equal the live ones.
func TestTinyHotBudget(t *testing.T) {
	skipShort(t)
	ctx := contextPath(e2etest.Ledger)
	data, arch := t.TempDir(), t.TempDir()
	srv := startServer(t, ctx, data, "--archive", arch, "--archive-every", "20ms")
	c := newClient(srv.url)
	defer c.Close()

	var mu sync.Mutex
	// A follower reads the log close behind the writers, while it is hot.
	follower := e2etest.Follow(srv.url)

	const workers, perWorker = 4, 150
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				seq := w*perWorker + i
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
	sampler := e2etest.Sample(srv.url, adminToken, 10*time.Millisecond)
	wg.Wait()
	maxHot, samples := sampler.Stop()
	if t.Failed() {
		follower.Stop()
		return
	}
	e2etest.WaitFor(t, 30*time.Second, "the hot log under its budget", func() bool {
		st := storage(t, c)
		return st.HotBytes <= e2etest.LedgerBudget && st.SegmentCount > 0
	})
	st := storage(t, c)
	if st.Budget != e2etest.LedgerBudget {
		t.Errorf("the storage's budget is %d, the ledger declares %d", st.Budget, e2etest.LedgerBudget)
	}
	e2etest.WaitFor(t, 30*time.Second, "the follower at the head", func() bool { return follower.Len() >= int(st.Head) })
	follower.Stop()
	// Between two steps the writers add what one step's interval lets
	// them: the hot log passes its budget by that much at most.
	if samples == 0 {
		t.Fatal("no /admin/storage answer was sampled under load: the bound below checks nothing")
	}
	if maxHot > 4*e2etest.LedgerBudget {
		t.Errorf("the hot log reached %d bytes under load, budget %d", maxHot, e2etest.LedgerBudget)
	}
	t.Logf("%d events, %d segments, hot %d bytes (at most %d under load), archived up to %d", st.Head, st.SegmentCount, st.HotBytes, maxHot, st.Archived)
	if st.Archived < st.Head/2 {
		t.Errorf("archived up to %d of %d: the budget did not make events leave", st.Archived, st.Head)
	}

	evs, raws := c.RawLog(t)
	if len(evs) != workers*perWorker {
		t.Errorf("the log holds %d events, %d were acknowledged", len(evs), workers*perWorker)
	}
	seen := map[string]bool{}
	for i, e := range evs {
		if seen[e.ID] {
			t.Errorf("event %s twice", e.ID)
		}
		seen[e.ID] = true
		if !bytes.Equal(raws[i], follower.Served(e.Position)) {
			t.Errorf("position %d reads\n%s\nwas served while hot as\n%s", e.Position, raws[i], follower.Served(e.Position))
		}
	}
	for id := range acked {
		if !seen[id] {
			t.Errorf("acknowledged event %s is not in the log", id)
		}
	}

	// An instance read says where its hot history begins.
	var inst struct {
		HotFrom int64 `json:"hotFrom"`
	}
	if r, err := c.GetJSON("/account/acc-00/events", &inst); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /account/acc-00/events: %v %v", r, err)
	}
	if inst.HotFrom <= 1 {
		t.Errorf("acc-00's hot history begins at %d: its first events should have left", inst.HotFrom)
	}

	// The history of an instance whose first events left replays from
	// its first event, as before they left.
	var his struct {
		Steps []struct{ Event logEvent }
	}
	if r, err := c.GetJSON("/account/acc-00/history", &his); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /account/acc-00/history: %v %v", r, err)
	}
	from := int64(0) // the first step's version (none: 0)
	if len(his.Steps) > 0 {
		from = his.Steps[0].Event.Version
	}
	if len(his.Steps) != workers*perWorker/12 || his.Steps[0].Event.Version != 1 {
		t.Errorf("acc-00's history has %d steps from version %d, want %d from 1", len(his.Steps), from, workers*perWorker/12)
	}

	e2etest.RebuildEquals(t, c.Client, adminToken, st.Head)

	// export reads the whole log too (archive included).
	out := filepath.Join(t.TempDir(), "log.ndjson")
	if _, stderr, code := runCLI(t, time.Minute, "export", ctx, "--url", srv.url, "-o", out); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	b, _ := os.ReadFile(out)
	if n := bytes.Count(b, []byte("\n")); n != len(evs) {
		t.Errorf("export wrote %d lines, the log holds %d", n, len(evs))
	}
	if stdout, stderr, code := runCLI(t, time.Minute, "archive", "verify", ctx, "--data", data, "--archive", arch); code != 0 {
		t.Errorf("archive verify: %s %s", stdout, stderr)
	}
}

// TestArchiveSIGKILL kills the server (SIGKILL, by itself, at the named
// point of an archive step) once a segment is written but not indexed,
// once it is indexed but nothing pruned, and once inside a prune's
// transaction, under load each time; then serves on. Nothing
// acknowledged is lost, nothing is in the log twice, the log reads whole
// from position 1, and archive verify finds the index agreeing with the
// segments and the hot store.
func TestArchiveSIGKILL(t *testing.T) {
	skipShort(t)
	ctx := contextPath(e2etest.Ledger)
	data, arch := t.TempDir(), t.TempDir()
	acked := map[string]bool{}
	unknown := 0
	seq := 0
	for _, crash := range []string{"written:3", "indexed:2", "pruning:2", ""} {
		t.Setenv("CUESOURCE_TEST_CRASH", crash)
		srv := startServer(t, ctx, data, "--archive", arch, "--archive-every", "20ms")
		c := newClient(srv.url)
		for n := 0; ; n++ {
			if crash == "" && n == 200 {
				break
			}
			if n == 5000 {
				t.Fatalf("the server did not crash at %s within 5000 commands", crash)
			}
			seq++
			status, ids := c.Deposit(fmt.Sprintf("acc-%02d", seq%12), seq)
			if status == 0 {
				unknown++ // the server died: it may or may not have committed
				break
			}
			if status/100 != 2 {
				t.Fatalf("deposit %d: status %d", seq, status)
			}
			for _, id := range ids {
				acked[id] = true
			}
		}
		c.Close()
		if crash != "" {
			select {
			case <-srv.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("the server did not die at %s", crash)
			}
			if !strings.Contains(srv.waitErr.Error(), "killed") {
				t.Fatalf("the server ended with %v, not SIGKILL", srv.waitErr)
			}
			continue
		}
		e2etest.WaitFor(t, 30*time.Second, "the hot log under its budget", func() bool {
			return storage(t, c).HotBytes <= e2etest.LedgerBudget
		})
		evs, _ := c.RawLog(t)
		seen := map[string]bool{}
		for _, e := range evs {
			if seen[e.ID] {
				t.Errorf("event %s twice", e.ID)
			}
			seen[e.ID] = true
		}
		for id := range acked {
			if !seen[id] {
				t.Errorf("acknowledged event %s lost", id)
			}
		}
		if len(evs) < len(acked) || len(evs) > len(acked)+unknown {
			t.Errorf("the log holds %d events: %d acknowledged, %d unanswered", len(evs), len(acked), unknown)
		}
		e2etest.RebuildEquals(t, c.Client, adminToken, int64(len(evs)))
		srv.kill()
	}
	stdout, stderr, code := runCLI(t, time.Minute, "archive", "verify", ctx, "--data", data, "--archive", arch, "--json")
	var v struct {
		Segments int  `json:"segments"`
		OK       bool `json:"ok"`
		Problems []struct {
			Leftover bool   `json:"leftover"`
			Problem  string `json:"problem"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(stdout, &v); err != nil || code != 0 || !v.OK {
		t.Fatalf("archive verify (exit %d): %s %s", code, stdout, stderr)
	}
	t.Logf("verify: %d segments, %d leftovers of interrupted steps", v.Segments, len(v.Problems))
}

// TestBadSegment: a damaged segment and a missing one are named by
// archive verify, and a read that needs either fails with a problem
// naming its positions, never with other events.
func TestBadSegment(t *testing.T) {
	skipShort(t)
	ctx := contextPath(e2etest.Ledger)
	data, arch := t.TempDir(), t.TempDir()
	srv := startServer(t, ctx, data, "--archive", arch, "--archive-every", "20ms")
	c := newClient(srv.url)
	for seq := range 2000 {
		if status, _ := c.Deposit(fmt.Sprintf("acc-%02d", seq%12), seq); status/100 != 2 {
			t.Fatalf("deposit %d: status %d", seq, status)
		}
	}
	var segs []struct {
		Name        string `json:"name"`
		First, Last int64
	}
	e2etest.WaitFor(t, 30*time.Second, "three segments", func() bool {
		var st struct {
			Segments []struct {
				Name        string `json:"name"`
				First, Last int64
			} `json:"segments"`
		}
		r, err := c.Request(http.MethodGet, "/admin/storage", nil, "Authorization", "Bearer "+adminToken)
		if err != nil || json.Unmarshal(r.Body, &st) != nil {
			return false
		}
		segs = st.Segments
		return len(segs) >= 3
	})
	bad, gone := segs[1], segs[2]
	path := filepath.Join(arch, bad.Name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(arch, gone.Name)); err != nil {
		t.Fatal(err)
	}

	// Restarted, the server reads the log from its store, not from the
	// recent commits it keeps in memory.
	srv.kill()
	t.Setenv("CUESOURCE_TEST_CRASH", "")
	srv = startServer(t, ctx, data, "--archive", arch, "--archive-every", "1h")
	c = newClient(srv.url)
	defer c.Close()

	stdout, stderr, code := runCLI(t, time.Minute, "archive", "verify", ctx, "--data", data, "--archive", arch)
	if code != 1 {
		t.Errorf("archive verify exited %d with a bad segment: %s %s", code, stdout, stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("segment %d-%d (%s): checksum mismatch", bad.First, bad.Last, bad.Name),
		fmt.Sprintf("segment %d-%d (%s): missing from", gone.First, gone.Last, gone.Name),
	} {
		if !strings.Contains(string(stdout), want) {
			t.Errorf("archive verify does not say %q:\n%s", want, stdout)
		}
	}

	for _, s := range []struct{ first, last int64 }{{bad.First, bad.Last}, {gone.First, gone.Last}} {
		r, err := c.Request(http.MethodGet, fmt.Sprintf("/events?after=%d&limit=10", s.first), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("positions %d-%d", s.first, s.last)
		if r.Status != http.StatusInternalServerError || !strings.Contains(string(r.Body), "archive_unreadable") || !strings.Contains(string(r.Body), want) {
			t.Errorf("GET /events after %d: want a 500 archive_unreadable naming %s, got %v", s.first, want, r)
		}
	}
	// The good segment before them still reads.
	if r, err := c.Request(http.MethodGet, "/events?after=0&limit=5", nil); err != nil || r.Status != http.StatusOK {
		t.Errorf("GET /events from the good segment: %v %v", r, err)
	}
	if _, stderr, code := runCLI(t, time.Minute, "export", ctx, "--url", srv.url, "-o", filepath.Join(t.TempDir(), "x")); code == 0 || !strings.Contains(string(stderr), "archive_unreadable") {
		t.Errorf("export over a bad segment exited %d: %s", code, stderr)
	}
}

// TestHistoryScansFromFirst: the history of an instance whose first
// events left reads the archive from the instance's first event, never
// the segments before its creation: with those segments gone, its
// history still answers, while an instance older than them cannot.
func TestHistoryScansFromFirst(t *testing.T) {
	skipShort(t)
	ctx := contextPath(e2etest.Ledger)
	data, arch := t.TempDir(), t.TempDir()
	srv := startServer(t, ctx, data, "--archive", arch, "--archive-every", "20ms")
	c := newClient(srv.url)
	defer c.Close()
	const late = 30
	seq := 0
	var first int64 // late's first event's position
	for _, run := range []struct {
		account string
		n       int
	}{{"early", 300}, {"late", late}, {"early", 300}} {
		for range run.n {
			if status, _ := c.Deposit(run.account, seq); status/100 != 2 {
				t.Fatalf("deposit %d: status %d", seq, status)
			}
			seq++
		}
		if run.account == "late" {
			var page struct{ Events []logEvent }
			if r, err := c.GetJSON("/account/late/events?limit=1", &page); err != nil || r.Status != http.StatusOK || len(page.Events) != 1 || page.Events[0].Version != 1 {
				t.Fatalf("GET /account/late/events: %v %v %+v", r, err, page.Events)
			}
			first = page.Events[0].Position
		}
	}
	e2etest.WaitFor(t, 30*time.Second, "late's first event archived", func() bool {
		return storage(t, c).Archived >= first
	})
	type history struct {
		Steps []struct{ Event logEvent }
	}
	var his history

	// Every segment that ends before late's first event goes.
	var st struct {
		Segments []struct {
			Name        string `json:"name"`
			First, Last int64
		} `json:"segments"`
	}
	r, err := c.Request(http.MethodGet, "/admin/storage", nil, "Authorization", "Bearer "+adminToken)
	if err != nil || json.Unmarshal(r.Body, &st) != nil {
		t.Fatalf("GET /admin/storage: %v %v", r, err)
	}
	removed := 0
	for _, g := range st.Segments {
		if g.Last < first {
			if err := os.Remove(filepath.Join(arch, g.Name)); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed == 0 {
		t.Fatalf("no segment ends before late's first event (position %d): %+v", first, st.Segments)
	}

	his = history{}
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
	// The rehydration of it reads as the history does.
	if r, err := c.Request(http.MethodPost, "/admin/rehydrate/account/late", nil, "Authorization", "Bearer "+adminToken); err != nil || r.Status != http.StatusOK {
		t.Errorf("rehydrate late: %v %v", r, err)
	}
	// early began in them: its history cannot be read.
	if r, err := c.Request(http.MethodGet, "/account/early/history", nil); err != nil || r.Status != http.StatusInternalServerError || !strings.Contains(string(r.Body), "archive_unreadable") {
		t.Errorf("GET /account/early/history: want 500 archive_unreadable, got %v %v", r, err)
	}
}

// snapshotContext keeps only what follows each instance's newest
// snapshot, taken every 5 events.
const snapshotContext = `package ledger

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "ledger"
	retention: {sinceSnapshot: true}
	snapshots: every: 5
	aggregates: account: {
		#state: {balance: int, n: int}
		initial: {balance: 0, n: 0}
		commands: Deposit: {
			instance: "any"
			#payload: {amount: int & >0, note: string}
			emit: [{event: "Deposited", payload: {amount: "cmd.amount", note: "cmd.note"}}]
		}
		events: Deposited: {
			#payload: {amount: int, note: string}
			apply: {balance: "state.balance + event.amount", n: "state.n + 1"}
		}
	}
}
`

// stoppedLedger writes snapshotContext, serves it without --archive
// (every event stays hot), deposits 46 events (a: 23, with a snapshot at
// 20; b: 23) and stops the server: the data of the offline commands'
// tests. It returns the context's path and the data directory.
func stoppedLedger(t *testing.T) (ctx, data string) {
	t.Helper()
	ctx = filepath.Join(t.TempDir(), "ledger.cue")
	if err := os.WriteFile(ctx, []byte(snapshotContext), 0o644); err != nil {
		t.Fatal(err)
	}
	data = t.TempDir()
	srv := startServer(t, ctx, data)
	c := newClient(srv.url)
	for seq := range 46 {
		if status, _ := c.Deposit([]string{"a", "b"}[seq%2], seq); status/100 != 2 {
			t.Fatalf("deposit %d: %d", seq, status)
		}
	}
	c.Close()
	srv.kill()
	return ctx, data
}

// exportLog is what `cuesource export ctx args...` writes.
func exportLog(t *testing.T, ctx string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "log.ndjson")
	if _, stderr, code := runCLI(t, time.Minute, append([]string{"export", ctx, "-o", out}, args...)...); code != 0 {
		t.Fatalf("export %v: %s", args, stderr)
	}
	b, _ := os.ReadFile(out)
	return b
}

// TestArchiveCommands runs the offline commands on a stopped server's
// data: archive run lets go what precedes each instance's newest snapshot
// (sinceSnapshot), storage status shows the segments and the hot log,
// export and rehydrate still read every event, and archive restore
// rebuilds a fresh store whose export is the original's.
func TestArchiveCommands(t *testing.T) {
	skipShort(t)
	ctx, data := stoppedLedger(t)
	arch := t.TempDir()
	export := func(args ...string) []byte { return exportLog(t, ctx, args...) }
	before := export("--data", data)

	stdout, stderr, code := runCLI(t, time.Minute, "archive", "run", ctx, "--data", data, "--archive", arch)
	if code != 0 {
		t.Fatalf("archive run: %s %s", stdout, stderr)
	}
	if want := "pruned 40 from the hot store"; !strings.Contains(string(stdout), want) {
		t.Errorf("archive run: want %q (versions 1-20 of both accounts), got %s", want, stdout)
	}
	stdout, stderr, code = runCLI(t, time.Minute, "storage", "status", ctx, "--data", data, "--archive", arch, "--json")
	var st struct {
		Head, Archived int64
		SegmentCount   int
		Segments       []struct{ First, Last, Count, Hot int64 }
	}
	if err := json.Unmarshal(stdout, &st); err != nil || code != 0 {
		t.Fatalf("storage status: %s %s", stdout, stderr)
	}
	if st.SegmentCount == 0 || st.Archived < 40 || st.Head != 46 {
		t.Errorf("storage status: %s", stdout)
	}

	if _, stderr, code := runCLI(t, time.Minute, "export", ctx, "--data", data, "-o", filepath.Join(t.TempDir(), "x")); code == 0 || !strings.Contains(string(stderr), "--archive") {
		t.Errorf("export without --archive over a pruned store: exit %d, %s", code, stderr)
	}
	if after := export("--data", data, "--archive", arch); !bytes.Equal(before, after) {
		t.Errorf("export after archiving differs:\n%s\nbefore:\n%s", after, before)
	}
	if stdout, stderr, code := runCLI(t, time.Minute, "rehydrate", ctx, "--data", data, "--archive", arch, "--json"); code != 0 {
		t.Errorf("rehydrate over archived history: exit %d %s %s", code, stdout, stderr)
	}

	// A live stream from the start catches up through the archive: a
	// server started afresh has no recent commits in memory to serve it.
	srv := startServer(t, ctx, data, "--archive", arch)
	// A stream that comes up short fails at the deadline, not at go
	// test's timeout.
	streamCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(streamCtx, http.MethodGet, srv.url+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	for len(ids) < 46 && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	resp.Body.Close()
	srv.kill()
	for i, id := range ids {
		if id != fmt.Sprint(i+1) {
			t.Fatalf("the stream's ids: %v", ids)
		}
	}
	if len(ids) != 46 {
		t.Fatalf("the stream gave %d events of 46", len(ids))
	}

	into := t.TempDir()
	if stdout, stderr, code := runCLI(t, time.Minute, "archive", "restore", ctx, "--data", data, "--archive", arch, "--into", into); code != 0 {
		t.Fatalf("archive restore: %s %s", stdout, stderr)
	}
	restored := export("--data", into)
	if n := int64(bytes.Count(restored, []byte("\n"))); n != st.Archived || !bytes.HasPrefix(before, restored) {
		t.Errorf("restore wrote %d events, the archive holds %d; the first lines of the log: %v", n, st.Archived, bytes.HasPrefix(before, restored))
	}
	if _, _, code := runCLI(t, time.Minute, "archive", "restore", ctx, "--data", data, "--archive", arch, "--into", into); code == 0 {
		t.Error("restore into a store that exists succeeded")
	}
}

// TestArchiveToS3 keeps the archive in an S3-compatible bucket (an S3
// server over HTTP in this process, gofakes3): archive run writes its
// segments there, verify re-reads them, export reads the log whole
// through the bucket, and a bucket that does not exist stops the command
// at its start, named.
func TestArchiveToS3(t *testing.T) {
	skipShort(t)
	be := s3mem.New()
	if err := be.CreateBucket("logs"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(be).Server())
	defer s3srv.Close()
	t.Setenv(s3.EndpointVar, s3srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")

	ctx, data := stoppedLedger(t)
	export := func(args ...string) []byte { return exportLog(t, ctx, args...) }
	before := export("--data", data)
	const bucket = "s3://logs/ledger"
	if stdout, stderr, code := runCLI(t, time.Minute, "archive", "run", ctx, "--data", data, "--archive", bucket); code != 0 || !strings.Contains(string(stdout), "pruned 40 from the hot store") {
		t.Fatalf("archive run to %s: exit %d %s %s", bucket, code, stdout, stderr)
	}
	objects, err := be.ListBucket("logs", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(objects.Contents) == 0 || !strings.HasPrefix(objects.Contents[0].Key, "ledger/") {
		t.Fatalf("the bucket holds %+v (%v), want the segments under ledger/", objects, err)
	}
	if stdout, stderr, code := runCLI(t, time.Minute, "archive", "verify", ctx, "--data", data, "--archive", bucket); code != 0 {
		t.Errorf("archive verify: exit %d %s %s", code, stdout, stderr)
	}
	if after := export("--data", data, "--archive", bucket); !bytes.Equal(before, after) {
		t.Errorf("export through the bucket differs:\n%s\nbefore:\n%s", after, before)
	}
	if _, stderr, code := runCLI(t, time.Minute, "archive", "verify", ctx, "--data", data, "--archive", "s3://nope/ledger"); code == 0 || !strings.Contains(string(stderr), "s3://nope/ledger/: no such bucket") {
		t.Errorf("a missing bucket: exit %d %s", code, stderr)
	}
}
