package workerd

import (
	"bufio"
	"context"
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

// TestInspectWorker: `cuesource inspect` serves the playground on this
// machine over a Worker: the page with the admin token, and every API
// request forwarded (with the token the Worker requires), the live stream
// included; then the page in Chromium sends commands from its form, and
// shows them in the timeline and the Worker's projections.
func TestInspectWorker(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "", "CUESOURCE_TOKEN=user-token")
	addr := inspect(t, w, "--token", "user-token")
	c := newClient("http://" + addr)
	defer c.Close()

	// The live stream through the proxy sees a command sent through it.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("the stream through inspect: %v %v", stream, err)
	}
	defer stream.Body.Close()
	frames := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				frames <- strings.TrimPrefix(sc.Text(), "event: ")
			}
		}
	}()
	if r, err := c.Post("/cart/i1/Open", "", []byte(`{"customer":"ada"}`)); err != nil || r.Status != 201 {
		t.Fatalf("Open through inspect: %v %v", r, err)
	}
	select {
	case name := <-frames:
		if name != "cart.CartOpened" {
			t.Errorf("first frame: %q", name)
		}
	case <-time.After(15 * time.Second):
		t.Error("no frame through inspect within 15s")
	}
	for _, path := range []string{"/context", "/diagram.svg", "/cart/i1/history", "/projections"} {
		if r, err := c.Request(http.MethodGet, path, nil); err != nil || r.Status != 200 {
			t.Errorf("GET %s through inspect: %v %v", path, r, err)
		}
	}
	if r, _ := c.Request(http.MethodGet, "/admin/dead-letters", nil, "Authorization", "Bearer "+adminToken); r.Status != 200 {
		t.Errorf("an admin route through inspect: %v", r)
	}
	// Without --token's help a request that names another token is refused
	// by the Worker, as directly.
	if r, _ := c.Request(http.MethodGet, "/context", nil, "Authorization", "Bearer nope"); r.Status != 401 {
		t.Errorf("a wrong token through inspect: %v, want 401", r)
	}

	// The page itself, in Chromium, over the Worker.
	browse(t, "inspect.mjs", "http://"+addr, filepath.Join(root, ".bin", "artifacts", "inspect-worker"))
}

// inspect runs `cuesource inspect` over w with the admin token (and
// args), and returns its address once it serves the page with that token.
func inspect(t *testing.T, w *worker, args ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t))
	cmd := exec.Command(binary, append([]string{"inspect", w.url, "--addr", addr, "--admin-token", adminToken}, args...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	c := newClient("http://" + addr)
	defer c.Close()
	var page e2etest.Reply
	var err error
	if !e2etest.Until(20*time.Second, 100*time.Millisecond, func() bool {
		page, err = c.Request(http.MethodGet, "/", nil)
		return err == nil
	}) {
		t.Fatalf("inspect did not answer: %v\n%s", err, out.String())
	}
	if page.Status != 200 || !strings.Contains(string(page.Body), `name="cuesource-admin-token" content="`+adminToken+`"`) {
		t.Fatalf("GET /: %v", page)
	}
	return addr
}

// browse runs the page script e2e/workerd/SCRIPT with args (its URL
// first, its artifacts' directory last) in Debian's Chromium.
func browse(t *testing.T, script string, args ...string) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("/usr/bin/chromium is missing, and CI is set (`make chromium`)")
		}
		t.Skip("Debian's Chromium is not installed (`make chromium`)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, nodeScript, append([]string{filepath.Join(root, "e2e", "workerd", script)}, args...)...)
	run.Dir = root
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("%s over the Worker: %v\n%s", script, err, b)
	}
}
