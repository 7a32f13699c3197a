//go:build unix

package workerd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	// root is the module root (where go.mod is).
	root string
	// binary is the cuesource executable TestMain builds; engineWasm the
	// engine's wasm build (-trimpath -s -w), with wasm_exec.js beside it.
	binary, engineWasm string
	// nodeScript is scripts/node (the pinned Node 22), harness the
	// Miniflare harness it runs.
	nodeScript, harness string
	// noWorkerd, when set, says why the workerd tests skip.
	noWorkerd string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test skips; building would only cost time.
		os.Exit(m.Run())
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/workerd:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if root, err = e2etest.ModuleRoot(); err != nil {
		return 0, err
	}
	nodeScript = filepath.Join(root, "scripts", "node")
	harness = filepath.Join(root, "e2e", "workerd", "harness.mjs")
	stamp := filepath.Join(root, "node_modules", ".stamp")
	if _, err := os.Stat(stamp); err != nil {
		if os.Getenv("CI") != "" {
			return 0, fmt.Errorf("%s is missing: the JavaScript toolchain is not installed (`make npm`), and CI is set", stamp)
		}
		noWorkerd = fmt.Sprintf("%s is missing: run `make npm` to install Node 22, wrangler and Miniflare for the workerd tests", stamp)
		fmt.Fprintln(os.Stderr, "e2e/workerd: skipping the workerd tests:", noWorkerd)
	}

	dir, err := os.MkdirTemp("", "cuesource-workerd-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "cuesource")
	engineWasm = filepath.Join(dir, "engine.wasm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The two builds run side by side.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	builds := []struct {
		env  []string
		args []string
	}{
		{nil, []string{"build", "-o", binary, "./cmd/cuesource"}},
		{[]string{"GOOS=js", "GOARCH=wasm"}, append(append([]string{"build", "-trimpath", "-ldflags=-s -w"}, wasmGCFlags...), "-o", engineWasm, "./worker")},
	}
	for i, b := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, "go", b.args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), b.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%s go %s: %v\n%s", strings.Join(b.env, " "), strings.Join(b.args, " "), err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return 0, fmt.Errorf("go env GOROOT: %v", err)
	}
	wasmExec, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), wasmExec, 0o644); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: builds cuesource and its wasm engine and runs workerd; skipped under -short")
	}
}

// needWorkerd skips a test that runs workerd when the toolchain is not
// installed (TestMain fails instead under CI).
func needWorkerd(t *testing.T) {
	t.Helper()
	skipShort(t)
	if noWorkerd != "" {
		t.Skip(noWorkerd)
	}
}

// contextPath is the absolute path of a context in the repository.
func contextPath(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

// runCLI runs the cuesource binary with args from the module root.
func runCLI(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	return e2etest.RunCLI(t, binary, root, timeout, args...)
}

// ------------------------------------------------------------- the Worker

// buildWorker writes the Worker of a context to a new directory with
// `cuesource worker build` and returns the directory.
func buildWorker(t *testing.T, ctxRel string, flags ...string) string {
	t.Helper()
	return buildWorkerAt(t, contextPath(ctxRel), flags...)
}

// buildWorkerAt is buildWorker of the context at path.
func buildWorkerAt(t *testing.T, path string, flags ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "worker")
	_, stderr, code := runCLI(t, time.Minute, append([]string{"worker", "build", path, "-o", dir, "--wasm", engineWasm}, flags...)...)
	if code != 0 {
		t.Fatalf("cuesource worker build %s: exit %d\n%s", path, code, stderr)
	}
	return dir
}

// edited writes a variant of the context at ctxRel, each old of the
// old, new pairs replaced once by its new (each must be there), and
// returns its path.
func edited(t *testing.T, ctxRel string, pairs ...string) string {
	t.Helper()
	src, err := os.ReadFile(contextPath(ctxRel))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%s has no %q to edit", ctxRel, pairs[i])
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(ctxRel))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// worker is one harness process serving a built Worker under workerd.
type worker struct {
	t       *testing.T
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	url     string
	logPath string
	done    chan struct{} // closed when the harness has exited
	waitErr error
}

const readyTimeout = 30 * time.Second

// startWorker serves the Worker in dir with the harness on a free port,
// with the admin token and the test switches on, and waits for its ready
// line. persist, when set, keeps the Durable Object and D1 state there.
// The harness stops when the test ends: its stdin is closed, and its
// process group (workerd with it) is killed if it has not exited 10s
// later.
func startWorker(t *testing.T, dir, persist string, vars ...string) *worker {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "harness-*.log")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{harness, dir, "--port", "0",
		"--var", "CUESOURCE_ADMIN_TOKEN=" + adminToken, "--var", "CUESOURCE_TEST_FAULTS=1"}
	if persist != "" {
		args = append(args, "--persist", persist)
	}
	for _, v := range vars {
		args = append(args, "--var", v)
	}
	cmd := exec.Command(nodeScript, args...)
	cmd.Dir = root
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting the harness: %v", err)
	}
	w := &worker{t: t, cmd: cmd, stdin: stdin, logPath: logf.Name(), done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		// The ready line, then anything else (there should be nothing).
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			} else {
				fmt.Fprintf(logf, "harness stdout: %s\n", sc.Text())
			}
		}
		close(lines)
		w.waitErr = cmd.Wait()
		logf.Close()
		close(w.done)
	}()
	t.Cleanup(func() {
		w.stop(10 * time.Second)
		if t.Failed() {
			t.Logf("harness log (%s), last lines but request lines:\n%s", w.logPath, w.logTail(60))
		}
	})
	select {
	case line, ok := <-lines:
		if !ok {
			<-w.done
			t.Fatalf("the harness exited before it was ready (%v):\n%s", w.waitErr, w.logTail(40))
		}
		var ready struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(line), &ready); err != nil || !strings.HasPrefix(ready.URL, "http://127.0.0.1:") {
			t.Fatalf("the harness's first stdout line is not its ready line: %q (%v)\n%s", line, err, w.logTail(40))
		}
		w.url = ready.URL
	case <-time.After(readyTimeout):
		t.Fatalf("the harness was not ready within %v:\n%s", readyTimeout, w.logTail(40))
	}
	t.Logf("workerd ready at %s in %v", w.url, time.Since(start).Round(time.Millisecond))
	return w
}

// stop closes the harness's stdin and waits up to timeout for it to exit;
// then (or at once, if it has not exited) it kills the process group, so
// that no workerd is left behind. It returns the exit code, -1 when the
// harness had to be killed.
func (w *worker) stop(timeout time.Duration) int {
	_ = w.stdin.Close()
	code := -1
	select {
	case <-w.done:
		code = w.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		w.t.Errorf("the harness (pid %d) did not exit %v after its stdin closed", w.cmd.Process.Pid, timeout)
	}
	// Sweep the group: workerd must not outlive its harness.
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.t.Errorf("the harness (pid %d) did not exit 10s after SIGKILL", w.cmd.Process.Pid)
	}
	return code
}

// logTail is the end of the harness's log without Miniflare's request
// lines ("[mf:info] GET /x 200 OK (1ms)"), which drown the errors.
func (w *worker) logTail(n int) string {
	data, err := os.ReadFile(w.logPath)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if !requestLine.MatchString(l) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var requestLine = regexp.MustCompile(`^\[mf:info\] [A-Z]+ \S+ \d{3} `)

// log is the harness's whole log.
func (w *worker) log() string {
	data, _ := os.ReadFile(w.logPath)
	return string(data)
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ------------------------------------------------------ the native server

// server is one `cuesource serve` process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	logPath string
	done    chan struct{}
	waitErr error
}

// startServer runs `cuesource serve ctxPath --data dataDir --admin-token T`
// on a free port and waits for /healthz. The process group is killed when
// the test ends.
func startServer(t *testing.T, ctxPath, dataDir string) *server {
	t.Helper()
	var lastErr error
	// The port is free when chosen but another process may take it before
	// the server binds it: try a few.
	for range 3 {
		s, err := tryStartServer(t, ctxPath, dataDir, e2etest.FreePort(t))
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting the native server: %v", lastErr)
	return nil
}

func tryStartServer(t *testing.T, ctxPath, dataDir string, port int) (*server, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "serve", ctxPath, "--addr", addr, "--data", dataDir, "--admin-token", adminToken)
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
			t.Logf("native server log (%s), last lines:\n%s", s.logPath, tail(s.logPath, 40))
		}
	})
	c := &http.Client{Timeout: time.Second}
	exited := false
	healthy := e2etest.Until(30*time.Second, 20*time.Millisecond, func() bool {
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
		return nil, fmt.Errorf("the server exited before it was healthy (%v):\n%s", s.waitErr, tail(s.logPath, 20))
	}
	if healthy {
		return s, nil
	}
	s.kill()
	return nil, fmt.Errorf("the server was not healthy within 30s:\n%s", tail(s.logPath, 20))
}

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

// ------------------------------------------------------------- the client

// tb is what the checks need of a test: *testing.T, or a pending subtest's
// recorder (see pending).
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// command sends a command and fails the test unless it is answered with
// want.
func (c *client) command(t tb, want int, agg, id, name, body string) decision {
	t.Helper()
	r, err := c.Post(instancePath(agg, id)+"/"+name, "", []byte(body))
	if err != nil {
		t.Fatalf("%s %s %s %s: %v", agg, id, name, body, err)
	}
	if r.Status != want {
		t.Fatalf("%s %s %s %s: %v, want %d", agg, id, name, body, r, want)
	}
	var d decision
	if r.Status < 300 {
		if err := json.Unmarshal(r.Body, &d); err != nil {
			t.Fatalf("%s %s %s: the answer is not a decision: %v: %s", agg, id, name, err, r.Body)
		}
	}
	return d
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

// readLog pages through GET /events. It returns the reply that ended it
// when that is not a 200.
func (c *client) readLog() ([]logEvent, *reply, error) {
	var all []logEvent
	after := int64(0)
	for range 10000 {
		var page struct {
			Events []logEvent `json:"events"`
			Next   int64      `json:"next"`
		}
		// As the admin: a context with auth reads its log to no one else
		// without a rule.
		r, err := c.Request(http.MethodGet, fmt.Sprintf("/events?after=%d&limit=1000", after), nil, "Authorization", "Bearer "+adminToken)
		if err == nil && r.Status == http.StatusOK {
			err = json.Unmarshal(r.Body, &page)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("GET /events?after=%d: %v", after, err)
		}
		if r.Status != http.StatusOK {
			return nil, &r, nil
		}
		if len(page.Events) == 0 {
			return all, nil, nil
		}
		all = append(all, page.Events...)
		if page.Next <= after {
			return nil, nil, fmt.Errorf("GET /events?after=%d: next %d does not move on", after, page.Next)
		}
		after = page.Next
	}
	return nil, nil, errors.New("GET /events: too many pages")
}

// mustLog is readLog that fails the test on anything but a whole log.
func (c *client) mustLog(t tb) []logEvent {
	t.Helper()
	evs, r, err := c.readLog()
	if err != nil {
		t.Fatalf("%v", err)
	}
	if r != nil {
		t.Fatalf("GET /events: %v", *r)
	}
	return evs
}

// waitLog polls GET /events until it holds at least n events (a Worker
// forwards events to D1 after the command's answer) and returns the log.
func (c *client) waitLog(t tb, n int, timeout time.Duration) []logEvent {
	t.Helper()
	var last string
	var log []logEvent
	if e2etest.Until(timeout, 50*time.Millisecond, func() bool {
		evs, r, err := c.readLog()
		switch {
		case err != nil:
			last = err.Error()
		case r != nil:
			last = "GET /events: " + r.String()
		case len(evs) >= n:
			log = evs
			return true
		default:
			last = fmt.Sprintf("%d events", len(evs))
		}
		return false
	}) {
		return log
	}
	t.Fatalf("the global log did not reach %d events within %v: last read: %s", n, timeout, last)
	return nil
}

// instance is GET /{agg}/{id}: version 0 on 404.
type instanceBody struct {
	Version int64           `json:"version"`
	State   json.RawMessage `json:"state"`
}

func (c *client) instance(t tb, agg, id string) instanceBody {
	t.Helper()
	var b instanceBody
	r, err := c.GetJSON(instancePath(agg, id), &b)
	switch {
	case err != nil:
		t.Fatalf("GET %s: %v", instancePath(agg, id), err)
	case r.Status == http.StatusNotFound:
		return instanceBody{}
	case r.Status != http.StatusOK:
		t.Fatalf("GET %s: %v", instancePath(agg, id), r)
	}
	return b
}

// instanceEvents is GET /{agg}/{id}/events.
func (c *client) instanceEvents(t tb, agg, id string) []logEvent {
	t.Helper()
	var body struct {
		Events []logEvent `json:"events"`
	}
	r, err := c.GetJSON(instancePath(agg, id)+"/events", &body)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET %s/events: %v %v", instancePath(agg, id), r, err)
	}
	return body.Events
}

// admin sends an admin request with the admin token.
func (c *client) admin(method, path string, body []byte) (reply, error) {
	h := []string{"Authorization", "Bearer " + adminToken}
	if body != nil {
		h = append(h, "Content-Type", "application/json")
	}
	return c.Request(method, path, body, h...)
}

// rehydrate is POST /admin/rehydrate/{agg}/{id} (without fix).
func (c *client) rehydrate(t tb, agg, id string) (drifted bool, replayErr string, version int64) {
	t.Helper()
	r, err := c.admin(http.MethodPost, "/admin/rehydrate"+instancePath(agg, id), nil)
	if err != nil {
		t.Fatalf("rehydrate %s %s: %v", agg, id, err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("rehydrate %s %s: %v", agg, id, r)
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

// checkLog checks a whole global log: positions 1..N without gaps, event
// ids unique, and each instance's versions 1..n in position order. It
// returns each instance's events.
func checkLog(t tb, evs []logEvent) map[[2]string][]logEvent {
	t.Helper()
	seen := map[string]bool{}
	per := map[[2]string][]logEvent{}
	for i, ev := range evs {
		if ev.Position != int64(i+1) {
			t.Errorf("the log has position %d at index %d: positions are not 1..N without gaps", ev.Position, i)
		}
		if seen[ev.ID] {
			t.Errorf("event id %s is twice in the log", ev.ID)
		}
		seen[ev.ID] = true
		k := [2]string{ev.Aggregate, ev.Instance}
		if want := int64(len(per[k]) + 1); ev.Version != want {
			t.Errorf("%s %s: the event at position %d has version %d, want %d (versions 1..n in position order)", ev.Aggregate, ev.Instance, ev.Position, ev.Version, want)
		}
		per[k] = append(per[k], ev)
	}
	return per
}

// kill ends the harness and workerd at once, as a crash does: nothing is
// disposed, and a request in flight gets no answer.
func (w *worker) kill(t *testing.T) {
	t.Helper()
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the harness (pid %d) did not exit 10s after SIGKILL", w.cmd.Process.Pid)
	}
}

// waitLog waits for the harness's log to hold s.
func (w *worker) waitLog(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	if !e2etest.Until(timeout, 20*time.Millisecond, func() bool { return strings.Contains(w.log(), s) }) {
		t.Fatalf("the harness's log has no %q after %v:\n%s", s, timeout, w.logTail(30))
	}
}
