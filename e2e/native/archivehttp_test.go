//go:build unix

package native_e2e

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

// TestArchiveOverHTTP: archive verify, archive restore and storage
// status read a running server's archive through its admin routes
// (--url): verify finds it clean, then names a damaged segment and a
// missing one (exit 1) and lists a leftover file; restore writes a fresh
// store whose events are GET /events' byte for byte.
func TestArchiveOverHTTP(t *testing.T) {
	skipShort(t)
	ctx := contextPath(e2etest.Ledger)
	data, arch := t.TempDir(), t.TempDir()
	srv := startServer(t, ctx, data, "--archive", arch, "--archive-every", "20ms")
	c := newClient(srv.url)
	defer c.Close()
	for seq := range 1000 {
		if status, _ := c.Deposit(fmt.Sprintf("acc-%02d", seq%12), seq); status/100 != 2 {
			t.Fatalf("deposit %d: status %d", seq, status)
		}
	}
	var segs []struct {
		Name        string `json:"name"`
		First, Last int64
	}
	e2etest.WaitFor(t, 30*time.Second, "three segments, the hot log under its budget", func() bool {
		var st struct {
			HotBytes int64 `json:"hotBytes"`
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
		return len(segs) >= 3 && st.HotBytes <= e2etest.LedgerBudget
	})
	remote := []string{"--url", srv.url, "--admin-token", adminToken}

	stdout, stderr, code := runCLI(t, time.Minute, append([]string{"archive", "verify", ctx, "--json"}, remote...)...)
	var v struct {
		Segments int  `json:"segments"`
		OK       bool `json:"ok"`
		Problems []struct {
			Segment  string `json:"segment"`
			Problem  string `json:"problem"`
			Leftover bool   `json:"leftover"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(stdout, &v); err != nil || code != 0 || !v.OK || v.Segments < len(segs) {
		t.Fatalf("archive verify --url (exit %d): %s %s", code, stdout, stderr)
	}

	stdout, stderr, code = runCLI(t, time.Minute, append([]string{"storage", "status", ctx, "--json"}, remote...)...)
	var st struct {
		Archived     int64 `json:"archived"`
		SegmentCount int   `json:"segmentCount"`
	}
	if err := json.Unmarshal(stdout, &st); err != nil || code != 0 || st.SegmentCount < len(segs) || st.Archived < segs[len(segs)-1].Last {
		t.Fatalf("storage status --url (exit %d): %s %s", code, stdout, stderr)
	}

	// Restored from the archive served, the fresh store's log is GET
	// /events' as far as the archive goes.
	into := t.TempDir()
	if stdout, stderr, code := runCLI(t, time.Minute, append([]string{"archive", "restore", ctx, "--into", into}, remote...)...); code != 0 {
		t.Fatalf("archive restore --url: %s %s", stdout, stderr)
	}
	restored := bytes.Split(bytes.TrimSuffix(exportLog(t, ctx, "--data", into), []byte("\n")), []byte("\n"))
	_, served := c.RawLog(t)
	if int64(len(restored)) < st.Archived || len(restored) > len(served) {
		t.Fatalf("restore wrote %d events; the archive holds %d, the log %d", len(restored), st.Archived, len(served))
	}
	for i, line := range restored {
		if !bytes.Equal(line, served[i]) {
			t.Fatalf("position %d restored as\n%s\nGET /events serves\n%s", i+1, line, served[i])
		}
	}

	// A damaged segment, a missing one and a leftover file.
	bad, gone := segs[0], segs[1]
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
	leftover := fmt.Sprintf("%020d-%020d.ndjson.gz", 1<<40, 1<<40+1)
	if err := os.WriteFile(filepath.Join(arch, leftover), []byte("left by a step"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runCLI(t, time.Minute, append([]string{"archive", "verify", ctx}, remote...)...)
	if code != 1 {
		t.Errorf("archive verify --url exited %d with a bad segment: %s %s", code, stdout, stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("segment %d-%d (%s): checksum mismatch", bad.First, bad.Last, bad.Name),
		fmt.Sprintf("segment %d-%d (%s): missing from %s/admin/archive", gone.First, gone.Last, gone.Name, srv.url),
		leftover + ": not in the index",
		"2 bad",
	} {
		if !strings.Contains(string(stdout), want) {
			t.Errorf("archive verify --url does not say %q:\n%s", want, stdout)
		}
	}
	if _, stderr, code := runCLI(t, time.Minute, append([]string{"archive", "restore", ctx, "--into", t.TempDir()}, remote...)...); code != 1 || !strings.Contains(string(stderr), bad.Name) {
		t.Errorf("archive restore --url over a damaged segment: exit %d, %s", code, stderr)
	}

	// Usage: --url excludes the local files and needs the admin token.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"archive", "verify", ctx, "--url", srv.url, "--admin-token", adminToken, "--archive", arch}, "give one or the other"},
		{[]string{"archive", "verify", ctx, "--url", srv.url, "--admin-token", adminToken, "--data", data}, "give one or the other"},
		{[]string{"storage", "status", ctx, "--url", srv.url, "--admin-token", ""}, "needs the server's admin token"},
		{[]string{"archive", "run", ctx, "--url", srv.url, "--admin-token", adminToken}, "a running server archives by itself"},
		{[]string{"archive", "verify", ctx, "--url", "ftp://x", "--admin-token", adminToken}, "not an http(s):// URL"},
	} {
		if _, stderr, code := runCLI(t, time.Minute, tc.args...); code != 2 || !strings.Contains(string(stderr), tc.want) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if _, stderr, code := runCLI(t, time.Minute, "archive", "verify", ctx, "--url", srv.url, "--admin-token", "wrong"); code != 1 || !strings.Contains(string(stderr), "401 unauthorized") {
		t.Errorf("archive verify --url with a wrong token: exit %d, %s", code, stderr)
	}
}
