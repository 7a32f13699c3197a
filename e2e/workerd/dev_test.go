package workerd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestWorkerDev runs `cuesource worker dev` as a user does: it builds the
// Worker, applies the D1 migration and serves it under the pinned
// wrangler's `wrangler dev` (workerd). The scenarios pass against it, its
// state is persisted, and SIGTERM stops it with no workerd left behind.
func TestWorkerDev(t *testing.T) {
	needWorkerd(t)
	tmp := t.TempDir()
	port := e2etest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// A copy of the example, which the watch test below edits.
	src, err := os.ReadFile(contextPath("contexts/example.cue"))
	if err != nil {
		t.Fatal(err)
	}
	ctxFile := filepath.Join(tmp, "ctx", "example.cue")
	if err := os.MkdirAll(filepath.Dir(ctxFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ctxFile, src, 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() (*exec.Cmd, *e2etest.Output) {
		cmd := exec.Command(binary, "worker", "dev", ctxFile,
			"--port", fmt.Sprint(port), "--dir", filepath.Join(tmp, "build"), "--persist", filepath.Join(tmp, "state"),
			"--wasm", engineWasm, "--var", "CUESOURCE_ADMIN_TOKEN="+adminToken)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "CUESOURCE_WRANGLER="+filepath.Join(root, "scripts", "wrangler"))
		var out e2etest.Output
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		if !e2etest.Until(60*time.Second, 200*time.Millisecond, func() bool {
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		}) {
			t.Fatalf("worker dev did not serve within 60s:\n%s", out.String())
		}
		return cmd, &out
	}
	stop := func(cmd *exec.Cmd, out *e2etest.Output) {
		// SIGTERM to cuesource alone: it passes the signal to wrangler's
		// process group.
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("worker dev did not stop on SIGTERM:\n%s", out.String())
		}
		// Nothing listens any more: workerd went with it.
		if !e2etest.Until(10*time.Second, 200*time.Millisecond, func() bool {
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				return true
			}
			resp.Body.Close()
			return false
		}) {
			t.Fatal("something still serves the port after worker dev stopped")
		}
	}

	cmd, out := start()
	stdout, stderr, code := runCLI(t, 2*time.Minute, "test", contextPath("contexts/example.cue"), "--url", base, "--admin-token", adminToken)
	if code != 0 || !strings.Contains(string(stdout), "0 failed") {
		t.Fatalf("scenarios under worker dev: exit %d\n%s%s\n%s", code, stdout, stderr, out.String())
	}
	c := newClient(base)
	defer c.Close()
	c.command(t, 201, "cart", "dev-1", "Open", `{"customer":"ada"}`)
	stop(cmd, out)

	// State persists across a restart of wrangler dev.
	cmd, out = start()
	if got := c.instance(t, "cart", "dev-1"); got.Version != 1 {
		t.Fatalf("after a restart cart dev-1 is at version %d, want 1", got.Version)
	}
	c.command(t, 200, "cart", "dev-1", "AddItem", `{"sku":"SKU-1","qty":1,"price":2}`)

	// --watch (on by default): a saved edit that adds a guard is live
	// without a restart, and the objects and D1 keep their data.
	edited := strings.Replace(string(src), `"cart is empty":    "len(state.items) > 0"`,
		`"cart is empty":    "len(state.items) > 0"
					"no checkout on Sunday": "cmd.sunday != true"`, 1)
	edited = strings.Replace(edited, "\t\t\tCheckOut: {\n\t\t\t\trequire: {", "\t\t\tCheckOut: {\n\t\t\t\t#payload: sunday?: bool\n\t\t\t\trequire: {", 1)
	if edited == string(src) {
		t.Fatal("the edit changed nothing")
	}
	// Each save is timed to the first answer of the saved definition: with
	// the guard, CheckOut {sunday: true} is refused by it; without it, the
	// field is undeclared (400). CUESOURCE_WATCH_EDITS=10 makes more saves,
	// alternating, for BENCHMARKS.md §10; the test makes one.
	edits := 1
	if n, err := strconv.Atoi(os.Getenv("CUESOURCE_WATCH_EDITS")); err == nil && n > 0 {
		edits = n
	}
	saveAndWait := func(guarded bool) time.Duration {
		text := string(src)
		if guarded {
			text = edited
		}
		saved := time.Now()
		e2etest.Save(t, ctxFile, []byte(text))
		e2etest.WaitFor(t, 60*time.Second, "the edited Worker", func() bool {
			r, err := c.Post("/cart/dev-1/CheckOut", "", []byte(`{"sunday":true}`))
			if guarded {
				return err == nil && r.Status == 422 && strings.Contains(string(r.Body), "no checkout on Sunday")
			}
			return err == nil && r.Status == 400
		})
		return time.Since(saved).Round(time.Millisecond)
	}
	var took []time.Duration
	for i := range edits {
		took = append(took, saveAndWait(i%2 == 0)) // each save changes the file
	}
	if edits%2 == 0 {
		saveAndWait(true) // the steps below start from the guarded definition
	}
	slices.Sort(took)
	t.Logf("worker dev --watch: %d save(s) answered after %v (median %v)", len(took), took, took[len(took)/2])
	if got := c.instance(t, "cart", "dev-1"); got.Version != 2 {
		t.Fatalf("after the reload cart dev-1 is at version %d, want 2", got.Version)
	}
	var log struct{ Events []json.RawMessage }
	if r, err := c.GetJSON("/events?limit=1000", &log); err != nil || r.Status != 200 || len(log.Events) < 3 {
		t.Fatalf("the D1 log after the reload: %v %v, %d events", r, err, len(log.Events))
	}

	// An edit the stored events cannot follow (a lens says CartOpened's
	// first version had a name, which the stored events lack) vets, and is
	// refused with its lens check failures: the last good build keeps
	// serving.
	broken := strings.Replace(edited, "\t\t\tCartOpened: {\n\t\t\t\t#payload: customer: string\n",
		"\t\t\tCartOpened: {\n\t\t\t\t#payload: customer: string\n\t\t\t\tlenses: [{#from: {name: string}, up: customer: \"event.name\"}]\n", 1)
	if broken == edited {
		t.Fatal("the breaking edit changed nothing")
	}
	e2etest.Save(t, ctxFile, []byte(broken))
	e2etest.WaitFor(t, 60*time.Second, "the refusal", func() bool { return strings.Contains(out.String(), "refused:") })
	if o := out.String(); !strings.Contains(o, "cart.CartOpened") || !strings.Contains(o, "the last good build keeps serving") {
		t.Fatalf("the refusal does not list the failures:\n%s", o)
	}
	if r, err := c.Post("/cart/dev-1/CheckOut", "", []byte(`{"sunday":true}`)); err != nil || r.Status != 422 {
		t.Fatalf("after the refused edit: %v %v, want the last good build's guard", r, err)
	}
	stop(cmd, out)
}
