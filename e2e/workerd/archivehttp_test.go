//go:build unix

package workerd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestArchiveOverHTTPFromWorker: archive verify, archive restore and
// storage status read the Worker's archive (D1's index, R2's objects)
// through its admin routes (--url): verify finds it clean after the
// Archiver object's steps, and names a segment deleted from R2 and one
// damaged there (exit 1), and lists an object no index entry names;
// reads that need the damaged segment fail naming its range; restore
// writes a fresh native store whose events are the Worker's GET /events
// byte for byte.
func TestArchiveOverHTTPFromWorker(t *testing.T) {
	needWorkerd(t)
	ctx := contextPath(e2etest.Ledger)
	w := startWorker(t, buildWorker(t, e2etest.Ledger), t.TempDir())
	c := newClient(w.url)
	defer c.Close()
	// Two loads, each archived before the next: two segments at least.
	const n = 240
	load(t, c, 0, n/2)
	var st storageStatus
	e2etest.WaitFor(t, 60*time.Second, "a segment", func() bool { return storageOf(t, c).SegmentCount >= 1 })
	load(t, c, 1000, n/2)
	if t.Failed() {
		return
	}
	if !e2etest.Until(60*time.Second, 50*time.Millisecond, func() bool {
		st = storageOf(t, c)
		return st.HotBytes <= e2etest.LedgerBudget && st.SegmentCount >= 2 && st.Head == n
	}) {
		t.Fatalf("D1's log is not under its budget with every event in it: %+v", st)
	}
	remote := []string{"--url", w.url, "--admin-token", adminToken}

	stdout, stderr, code := runCLI(t, time.Minute, append([]string{"archive", "verify", ctx, "--json"}, remote...)...)
	var v struct {
		Segments int  `json:"segments"`
		OK       bool `json:"ok"`
	}
	if err := json.Unmarshal(stdout, &v); err != nil || code != 0 || !v.OK || v.Segments < st.SegmentCount {
		t.Fatalf("archive verify --url of the Worker (exit %d): %s %s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, time.Minute, append([]string{"storage", "status", ctx, "--json"}, remote...)...)
	var got storageStatus
	if err := json.Unmarshal(stdout, &got); err != nil || code != 0 || got.Target != "R2 bucket ARCHIVE" || got.SegmentCount < st.SegmentCount {
		t.Fatalf("storage status --url of the Worker (exit %d): %s %s", code, stdout, stderr)
	}

	into := t.TempDir()
	if stdout, stderr, code := runCLI(t, time.Minute, append([]string{"archive", "restore", ctx, "--into", into}, remote...)...); code != 0 {
		t.Fatalf("archive restore --url of the Worker: %s %s", stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "log.ndjson")
	if _, stderr, code := runCLI(t, time.Minute, "export", ctx, "--data", into, "-o", out); code != 0 {
		t.Fatalf("export of the restored store: %s", stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	restored := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	_, served := c.RawLog(t)
	if int64(len(restored)) < st.Archived || len(restored) > len(served) {
		t.Fatalf("restore wrote %d events; the archive holds %d, the log %d", len(restored), st.Archived, len(served))
	}
	for i, line := range restored {
		if !bytes.Equal(line, served[i]) {
			t.Fatalf("position %d restored as\n%s\nthe Worker serves\n%s", i+1, line, served[i])
		}
	}

	// The oldest segment is damaged (its events left D1: a read needs
	// it), the next one deleted (verify names it, whether or not D1
	// still holds its events: a segment is archived ahead of the prune).
	bad, seg := st.Segments[0], st.Segments[1]
	if bad.Hot != 0 {
		t.Fatalf("D1 holds %d events of the oldest segment %s: the load left none hot there", bad.Hot, bad.Name)
	}
	if r, err := c.Request(http.MethodDelete, "/__test/r2/"+seg.Name, nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("deleting segment %s: %v %v", seg.Name, r, err)
	}
	leftover := fmt.Sprintf("%020d-%020d.ndjson.gz", n+1000, n+2000)
	for _, name := range []string{bad.Name, leftover} {
		if r, err := c.Request(http.MethodPut, "/__test/r2/"+name, []byte("not a segment")); err != nil || r.Status != http.StatusOK {
			t.Fatalf("writing %s: %v %v", name, r, err)
		}
	}
	stdout, stderr, code = runCLI(t, time.Minute, append([]string{"archive", "verify", ctx}, remote...)...)
	for _, want := range []string{
		fmt.Sprintf("segment %d-%d (%s): missing from %s/admin/archive", seg.First, seg.Last, seg.Name, w.url),
		fmt.Sprintf("segment %d-%d (%s): ", bad.First, bad.Last, bad.Name),
		leftover + ": not in the index",
		"2 bad",
	} {
		if code != 1 || !strings.Contains(string(stdout), want) {
			t.Errorf("archive verify --url with segment %s deleted from R2 and %s damaged: exit %d, want 1 and %q:\n%s %s", seg.Name, bad.Name, code, want, stdout, stderr)
		}
	}
	r, err := c.Request(http.MethodGet, fmt.Sprintf("/events?after=%d&limit=10", bad.First-1), nil)
	if want := fmt.Sprintf("%d-%d", bad.First, bad.Last); err != nil || r.Status != http.StatusInternalServerError || !strings.Contains(string(r.Body), "archive_unreadable") || !strings.Contains(string(r.Body), want) {
		t.Errorf("GET /events into the damaged segment %s: %v %v, want 500 archive_unreadable naming %s", bad.Name, r, err, want)
	}
}
