//go:build unix

package native_e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// client is the shared client with this package's helpers.
type client struct{ *e2etest.Client }

func newClient(base string) *client { return &client{e2etest.NewClient(base)} }

type (
	reply    = e2etest.Reply
	logEvent = e2etest.LogEvent
)

var instancePath = e2etest.InstancePath

const adminToken = "T"

var (
	// binary is the cuesource executable TestMain builds.
	binary string
	// root is the module root (where go.mod is).
	root string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test skips; building would only cost time.
		os.Exit(m.Run())
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/native:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if root, err = e2etest.ModuleRoot(); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "cuesource-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "cuesource")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/cuesource")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/cuesource: %v\n%s", err, out)
	}
	return m.Run(), nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: builds the cuesource binary and runs servers as processes; skipped under -short")
	}
}

// contextPath is the absolute path of a context in the repository.
func contextPath(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

// server is one `cuesource serve` process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// startServer runs `cuesource serve ctxPath --data dataDir --admin-token T`
// on a free port and waits for /healthz. The process is killed (SIGKILL to
// its group) when the test ends if it still runs.
func startServer(t *testing.T, ctxPath, dataDir string, extra ...string) *server {
	t.Helper()
	var lastErr error
	// The port is free when chosen but another process may take it before
	// the server binds it: try a few.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStart(t, ctxPath, dataDir, e2etest.FreePort(t), extra)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting the server: %v", lastErr)
	return nil
}

func tryStart(t *testing.T, ctxPath, dataDir string, port int, extra []string) (*server, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", ctxPath, "--addr", addr, "--data", dataDir, "--admin-token", adminToken}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{t: t, cmd: cmd, url: "http://" + addr, logPath: logf.Name(), done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server log (%s), last lines:\n%s", s.logPath, s.logTail(40))
		}
	})
	if err := s.waitHealthy(30 * time.Second); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

func (s *server) waitHealthy(timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	exited := false
	healthy := e2etest.Until(timeout, 20*time.Millisecond, func() bool {
		select {
		case <-s.done:
			exited = true
			return true
		default:
		}
		resp, err := c.Get(s.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if exited {
		return fmt.Errorf("the server exited before it was healthy (%v):\n%s", s.waitErr, s.logTail(20))
	}
	if healthy {
		return nil
	}
	return fmt.Errorf("the server was not healthy within %v:\n%s", timeout, s.logTail(20))
}

// kill sends SIGKILL to the server's process group and waits for the
// process to exit.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("the server (pid %d) did not exit 10s after SIGKILL", s.cmd.Process.Pid)
	}
}

// exited waits up to timeout for the process to exit and returns its exit
// code (-1 if it was killed by a signal).
func (s *server) exited(timeout time.Duration) (int, bool) {
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

func (s *server) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runCLI runs the cuesource binary with args from the module root.
func runCLI(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	return e2etest.RunCLI(t, binary, root, timeout, args...)
}

// decision is the body of a command's 2xx answer.
type decision struct {
	Events []struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Version int64           `json:"version"`
		Time    time.Time       `json:"time"`
		Payload json.RawMessage `json:"payload"`
	} `json:"events"`
	State   json.RawMessage `json:"state"`
	Version int64           `json:"version"`
}

// readLog pages through GET /events.
func (c *client) readLog(t *testing.T) []logEvent {
	t.Helper()
	var all []logEvent
	after := int64(0)
	for range 100000 {
		var page struct {
			Events []logEvent `json:"events"`
			Next   int64      `json:"next"`
		}
		r, err := c.GetJSON(fmt.Sprintf("/events?after=%d&limit=1000", after), &page)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET /events?after=%d: %d %v", after, r.Status, err)
		}
		if len(page.Events) == 0 {
			return all
		}
		all = append(all, page.Events...)
		if page.Next <= after {
			t.Fatalf("GET /events?after=%d: next %d does not move on", after, page.Next)
		}
		after = page.Next
	}
	t.Fatal("GET /events: too many pages")
	return nil
}

// instanceEvents is GET /{agg}/{id}/events.
func (c *client) instanceEvents(t *testing.T, agg, id string) []logEvent {
	t.Helper()
	var body struct {
		Events []logEvent `json:"events"`
	}
	r, err := c.GetJSON(instancePath(agg, id)+"/events", &body)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET %s/events: %d %v", instancePath(agg, id), r.Status, err)
	}
	return body.Events
}

// instanceVersion is the version GET /{agg}/{id} reports; 0 on 404.
func (c *client) instanceVersion(t *testing.T, agg, id string) int64 {
	t.Helper()
	var body struct {
		Version int64 `json:"version"`
	}
	r, err := c.GetJSON(instancePath(agg, id), &body)
	switch {
	case err != nil:
		t.Fatalf("GET %s: %v", instancePath(agg, id), err)
	case r.Status == http.StatusNotFound:
		return 0
	case r.Status != http.StatusOK:
		t.Fatalf("GET %s: %d", instancePath(agg, id), r.Status)
	}
	return body.Version
}

// rehydrate is POST /admin/rehydrate/{agg}/{id} (without fix).
func (c *client) rehydrate(t *testing.T, agg, id string) (drifted bool, replayErr string, version int64) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+"/admin/rehydrate"+instancePath(agg, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("rehydrate %s %s: %v", agg, id, err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("rehydrate %s %s: %d %s", agg, id, r.Status, r.Body)
	}
	var d struct {
		Version int64  `json:"version"`
		Drifted bool   `json:"drifted"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatalf("rehydrate %s %s: %v: %s", agg, id, err, r.Body)
	}
	return d.Drifted, d.Error, d.Version
}
