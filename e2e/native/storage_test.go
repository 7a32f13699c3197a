//go:build linux

package native_e2e

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"

	_ "modernc.org/sqlite" // to find a table's page in a real store file
)

// tmpfs mounts a tmpfs of size bytes on a fresh directory and unmounts it
// when the test ends. It skips the test where mounting is not allowed:
// the storage faults these tests cause need a small file system of their
// own, which only root can mount (CI runs as root).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	skipShort(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs to fill up or make read-only (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); these tests need one", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into dir until the file system is full and returns
// its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 20 {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatalf("filling %s: %v", dir, err)
		}
	}
	t.Fatalf("filling %s: never full", dir)
	return ""
}

// problemOf decodes a problem+json answer.
func problemOf(t *testing.T, r reply) (kind string) {
	t.Helper()
	var p struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("answer %s: not problem+json: %v", r, err)
	}
	return p.Kind
}

type healthBody struct {
	Status  string `json:"status"`
	Storage struct {
		Failing     bool   `json:"failing"`
		Faults      int64  `json:"faults"`
		LastFault   string `json:"lastFault"`
		LastFaultAt string `json:"lastFaultAt"`
	} `json:"storage"`
}

func (c *client) health(t *testing.T) (reply, healthBody) {
	t.Helper()
	r, err := c.Request(http.MethodGet, "/healthz", nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	var h healthBody
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatalf("GET /healthz: %s: %v", r, err)
	}
	return r, h
}

// TestDiskFull fills the file system under a running server: commands get
// 507 storage_full with Retry-After and write nothing, /healthz says the
// storage fails; once space is freed the server takes commands again by
// itself and the log is whole, before and after a restart.
func TestDiskFull(t *testing.T) {
	data := tmpfs(t, "2m")
	shop := contextPath("contexts/example.cue")
	srv := startServer(t, shop, data)
	c := newClient(srv.url)
	defer c.Close()
	customer := strings.Repeat("x", 3000) // each command writes a few pages
	open := func(id string) reply {
		t.Helper()
		r, err := c.Post(instancePath("cart", id)+"/Open", "open-"+id, []byte(`{"customer":"`+customer+`"}`))
		if err != nil {
			t.Fatalf("Open %s: %v", id, err)
		}
		return r
	}
	opened := 0
	for i := range 5 {
		if r := open(fmt.Sprintf("before-%d", i)); r.Status != http.StatusCreated {
			t.Fatalf("Open before-%d: %s", i, r)
		}
		opened++
	}

	filler := fill(t, data)
	var refused []string
	for i := range 10 {
		id := fmt.Sprintf("full-%d", i)
		r := open(id)
		if r.Status != http.StatusInsufficientStorage {
			t.Fatalf("Open %s on a full disk: %s, want 507", id, r)
		}
		if got := r.Header.Get("Retry-After"); got == "" {
			t.Errorf("Open %s: 507 without Retry-After", id)
		}
		if kind := problemOf(t, r); kind != "storage_full" {
			t.Errorf("Open %s: kind %q, want storage_full", id, kind)
		}
		refused = append(refused, id)
	}
	for _, id := range refused {
		if v := c.instanceVersion(t, "cart", id); v != 0 {
			t.Errorf("%s was refused but is at version %d", id, v)
		}
	}
	r, h := c.health(t)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !h.Storage.Failing ||
		h.Storage.Faults < int64(len(refused)) || !strings.Contains(h.Storage.LastFault, "full") || h.Storage.LastFaultAt == "" {
		t.Errorf("GET /healthz on a full disk: %s, want 503 with Retry-After, failing, at least %d faults, the last one", r, len(refused))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// /healthz tries a write once a second while failing: wait for it to
	// see the space.
	if !e2etest.Until(15*time.Second, 100*time.Millisecond, func() bool {
		r, h = c.health(t)
		return r.Status == http.StatusOK
	}) {
		t.Fatalf("GET /healthz 15s after space was freed: %s", r)
	}
	if h.Storage.Failing || h.Storage.Faults < int64(len(refused)) {
		t.Errorf("GET /healthz after recovery: %s, want not failing, the faults kept", r)
	}
	for _, id := range refused {
		if r := open(id); r.Status != http.StatusCreated {
			t.Fatalf("Open %s after space was freed: %s", id, r)
		}
		opened++
	}

	check := func(when string) {
		t.Helper()
		log := c.readLog(t)
		if len(log) != opened {
			t.Fatalf("%s: the log has %d events, want %d (one per answered command)", when, len(log), opened)
		}
		for i, e := range log {
			if e.Position != int64(i+1) || e.Version != 1 || e.Type != "CartOpened" {
				t.Fatalf("%s: event %d is %+v, want position %d, version 1, CartOpened", when, i, e, i+1)
			}
		}
		for _, e := range log {
			if drifted, replayErr, v := c.rehydrate(t, "cart", e.Instance); drifted || replayErr != "" || v != 1 {
				t.Errorf("%s: rehydrate %s: drifted %v, error %q, version %d", when, e.Instance, drifted, replayErr, v)
			}
		}
	}
	check("after recovery")
	srv.kill()
	srv = startServer(t, shop, data)
	c = newClient(srv.url)
	defer c.Close()
	check("after a restart")
}

// TestDamagedStore writes garbage over a table's page of a stopped
// server's database: serve refuses it, naming the file and what the check
// found; with --skip-integrity-check it serves, reads of the damaged table
// get 503 storage_failed and /healthz counts the fault.
func TestDamagedStore(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	shop := contextPath("contexts/example.cue")
	srv := startServer(t, shop, data)
	c := newClient(srv.url)
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		if r, err := c.Post(instancePath("cart", id)+"/Open", "", []byte(`{"customer":"ada"}`)); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("Open %s: %v %v", id, r, err)
		}
	}
	c.Close()
	// SIGTERM: the server closes the store, which checkpoints the WAL into
	// the database file.
	if err := syscall.Kill(srv.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, ok := srv.exited(20 * time.Second); !ok || code != 0 {
		t.Fatalf("the server did not stop cleanly (exited %v, code %d)", ok, code)
	}

	path := filepath.Join(data, "shop.db")
	damagePage(t, path, "instances")

	_, stderr, code := runCLI(t, 15*time.Second, "serve", shop, "--data", data, "--addr", "127.0.0.1:0")
	msg := string(stderr)
	if code == 0 || !strings.Contains(msg, path) || !strings.Contains(msg, "PRAGMA quick_check: ") ||
		!strings.Contains(msg, "--skip-integrity-check") {
		t.Fatalf("serve on a damaged database: exit %d, stderr:\n%s\nwant a non-zero exit naming %s, what quick_check found and the way out", code, msg, path)
	}
	t.Logf("serve refused:\n%s", msg)

	srv = startServer(t, shop, data, "--skip-integrity-check")
	c = newClient(srv.url)
	defer c.Close()
	r, err := c.Request(http.MethodGet, instancePath("cart", "c1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusServiceUnavailable || problemOf(t, r) != "storage_failed" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("GET a cart in the damaged table: %s, want 503 storage_failed with Retry-After", r)
	}
	_, h := c.health(t)
	if h.Storage.Faults < 1 || !strings.Contains(h.Storage.LastFault, "malformed") {
		t.Fatalf("GET /healthz after a damaged read: %+v, want the fault counted and named", h)
	}
}

// damagePage overwrites the root page of table in the SQLite file at path
// with garbage. It checkpoints the WAL first, so the page is read from
// the file and not from a newer copy in the WAL.
func damagePage(t *testing.T, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if err == nil {
		err = db.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&root)
	}
	if err == nil {
		err = db.QueryRow(`PRAGMA page_size`).Scan(&pageSize)
	}
	db.Close()
	if err != nil {
		t.Fatalf("finding table %s in %s: %v", table, path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", int(pageSize/4)))
	if _, err := f.WriteAt(garbage, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// TestSecondServerRefused starts two servers on one data directory: the
// second exits at once, naming the first's pid. Offline commands that
// write are refused the same way; those that only read run beside it.
func TestSecondServerRefused(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	shop := contextPath("contexts/example.cue")
	srv := startServer(t, shop, data)
	pid := strconv.Itoa(srv.cmd.Process.Pid)
	for _, args := range [][]string{
		{"serve", shop, "--data", data, "--addr", "127.0.0.1:0"},
		{"rehydrate", shop, "--data", data, "--fix"},
		{"projections", "rebuild", shop, "cart_summary", "--data", data},
	} {
		_, stderr, code := runCLI(t, 15*time.Second, args...)
		if code == 0 || !strings.Contains(string(stderr), "pid "+pid) || !strings.Contains(string(stderr), "in use") {
			t.Errorf("%s beside a running server: exit %d, stderr:\n%s\nwant a non-zero exit naming pid %s", strings.Join(args[:2], " "), code, stderr, pid)
		}
	}
	for _, args := range [][]string{
		{"rehydrate", shop, "--data", data},
		{"export", shop, "--data", data},
		{"projections", "status", shop, "--data", data},
	} {
		if _, stderr, code := runCLI(t, 15*time.Second, args...); code != 0 {
			t.Errorf("%s (reads only) beside a running server: exit %d, stderr:\n%s", strings.Join(args[:2], " "), code, stderr)
		}
	}
	// The lock goes with the process, however it ends.
	srv.kill()
	startServer(t, shop, data)
}

// TestReadOnlyData starts a server on a data directory that is mounted
// read-only: it exits at once, saying so and naming the directory.
func TestReadOnlyData(t *testing.T) {
	data := tmpfs(t, "4m")
	shop := contextPath("contexts/example.cue")
	srv := startServer(t, shop, data)
	srv.kill()
	if out, err := exec.Command("mount", "-o", "remount,ro", data).CombinedOutput(); err != nil {
		t.Fatalf("remount %s read-only: %v: %s", data, err, out)
	}
	_, stderr, code := runCLI(t, 15*time.Second, "serve", shop, "--data", data, "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(string(stderr), "read-only") || !strings.Contains(string(stderr), data) {
		t.Fatalf("serve on a read-only data directory: exit %d, stderr:\n%s\nwant a non-zero exit saying %s is read-only", code, stderr, data)
	}
	t.Logf("serve refused:\n%s", stderr)
}
