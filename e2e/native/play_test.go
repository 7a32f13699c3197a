//go:build unix

package native_e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestPlay runs `cuesource play`: the playground page with its admin
// token, the API beside it, a reset that empties the store even with a
// live stream open, and nothing left on disk after SIGTERM.
func TestPlay(t *testing.T) {
	skipShort(t)
	tmp := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t))
	cmd := exec.Command(binary, "play", contextPath("contexts/example.cue"), "--addr", addr)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	s := &server{t: t, cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	if err := s.waitHealthy(30 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	c := newClient(s.url)

	page, err := c.Request(http.MethodGet, "/", nil)
	if err != nil || page.Status != 200 || !strings.Contains(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %v %v", page, err)
	}
	m := regexp.MustCompile(`name="cuesource-admin-token" content="([0-9a-f]{32})"`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("the page carries no admin token:\n%s", page.Body)
	}
	token := string(m[1])

	if r, err := c.Post("/cart/c1/Open", "", []byte(`{"customer":"ada"}`)); err != nil || r.Status != 201 {
		t.Fatalf("Open: %v %v", r, err)
	}
	// A live stream holds a request open across the reset.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	streamDone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stream.Body); close(streamDone) }()

	if r, _ := c.Request(http.MethodPost, "/admin/reset", nil); r.Status != 401 {
		t.Errorf("reset without the token: %v, want 401", r)
	}
	r, err := c.Request(http.MethodPost, "/admin/reset", nil, "Authorization", "Bearer "+token)
	if err != nil || r.Status != 204 {
		t.Fatalf("reset: %v %v", r, err)
	}
	select {
	case <-streamDone:
	case <-time.After(5 * time.Second):
		t.Error("the live stream outlived the reset")
	}
	if r, _ := c.Request(http.MethodGet, "/cart/c1", nil); r.Status != 404 {
		t.Errorf("after the reset, cart c1: %v, want 404", r)
	}
	if r, _ := c.Post("/cart/c1/Open", "", []byte(`{"customer":"bob"}`)); r.Status != 201 {
		t.Errorf("after the reset, Open again: %v", r)
	}

	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("play exited with %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("play did not stop on SIGTERM")
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "cuesource-play-*"))
	if len(left) > 0 {
		t.Errorf("play left %v behind", left)
	}
	if !strings.Contains(out.String(), "cuesource: playing shop at http://"+addr) {
		t.Errorf("play said:\n%s", out.String())
	}
}
