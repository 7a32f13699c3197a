//go:build unix

package playground_e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestIdentities: `cuesource play` of the owned context (whose HS256
// secret is not set here: the page's identities are minted with the
// play session's own key) in Chromium (identity.mjs). The page acts as
// ada, then as bob, who is refused with the rule's name; the scenarios it
// exports carry as: and pass `cuesource test`; the Storage tab shows the
// log's head after the commands.
func TestIdentities(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and drives Chromium; skipped under -short")
	}
	t.Setenv("OWNED_JWT_SECRET", "")
	root := moduleRoot(t)
	bin := setup(t, root)
	owned := filepath.Join(root, "contexts", "owned")
	url := start(t, bin, root, "cuesource: playing owned at ", "play", owned)
	artifacts := browse(t, root, "identity", "identity.mjs", url+"/")

	exported, err := os.ReadFile(filepath.Join(artifacts, "scenarios.cue"))
	if err != nil {
		t.Fatalf("the exported scenarios: %v", err)
	}
	for _, want := range []string{`as: {sub: "bob", roles: ["customer"]}`, `then: error: "owner acts"`, `as: {sub: "ada", roles: ["customer"]}`} {
		if !bytes.Contains(exported, []byte(want)) {
			t.Errorf("the exported scenarios lack %s:\n%s", want, exported)
		}
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(owned, "owned.cue"))
	if err != nil {
		t.Fatal(err)
	}
	pasted := "package owned\n\nscenarios: {\n" + string(exported) + "}\n"
	for name, data := range map[string][]byte{"owned.cue": src, "playground.cue": []byte(pasted)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := e2etest.RunTests(t, bin, dir, dir, "--json", "-run", "^playground: ")
	ran := 0
	for _, s := range rep.Scenarios {
		ran++
		if !s.Pass {
			t.Errorf("scenario %q fails: %s", s.Name, strings.Join(s.Failures, "; "))
		}
	}
	if ran != 2 || !rep.OK {
		t.Errorf("cuesource test ran %d exported scenarios (want 2), ok %v:\n%s", ran, rep.OK, pasted)
	}
}

// TestStorageView: `cuesource serve --archive DIR --dev-tokens` of the
// owned context keeping one event hot per instance, in Chromium
// (storage.mjs): through Connect the page gets the admin token, acts as a
// minted identity to write events, and its Storage tab shows the
// segments the archiver wrote, as GET /admin/storage reports them.
func TestStorageView(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and drives Chromium; skipped under -short")
	}
	t.Setenv("OWNED_JWT_SECRET", "the owned context's own secret, over 32 bytes")
	root := moduleRoot(t)
	bin := setup(t, root)
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "contexts", "owned", "owned.cue"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"owned.cue": src, "retention.cue": []byte("package owned\n\nretention: keepLast: 1\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	url := start(t, bin, dir, "cuesource: owned at ", "serve", dir, "--data", t.TempDir(),
		"--archive", t.TempDir(), "--archive-every", "200ms", "--admin-token", "admin-token", "--dev-tokens")
	browse(t, root, "storage", "storage.mjs", url+"/", "admin-token")
}

// TestInspectAs: `cuesource inspect URL --as CLAIMS` in front of `serve
// --dev-tokens` (inspect.mjs): the page starts acting as that identity,
// whose tokens the server mints, and its rules apply.
func TestInspectAs(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: builds cuesource and drives Chromium; skipped under -short")
	}
	t.Setenv("OWNED_JWT_SECRET", "the owned context's own secret, over 32 bytes")
	root := moduleRoot(t)
	bin := setup(t, root)
	owned := filepath.Join(root, "contexts", "owned")
	server := start(t, bin, root, "cuesource: owned at ", "serve", owned, "--data", t.TempDir(), "--admin-token", "admin-token", "--dev-tokens")
	// Cart k1 is ada's.
	tok := postJSON(t, server+"/admin/dev-token", "admin-token", `{"sub": "ada", "roles": ["customer"]}`, http.StatusOK)["token"].(string)
	postJSON(t, server+"/cart/k1/Open", tok, `{}`, http.StatusCreated)
	page := start(t, bin, root, "cuesource: inspecting "+server+" at ", "inspect", server, "--admin-token", "admin-token", "--as", `{"sub": "bob", "roles": ["customer"]}`)
	browse(t, root, "inspect", "inspect.mjs", page+"/")
}

func postJSON(t *testing.T, url, token, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d: %v", url, resp.StatusCode, want, out)
	}
	return out
}
