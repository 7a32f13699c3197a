//go:build unix

package native_e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestExport writes the log as NDJSON from a running server (--url) and
// from its data directory once it stopped (--data): the same bytes, one
// stored event per line, as GET /events gives them, in position order.
func TestExport(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	ctx := contextPath("contexts/example.cue")
	srv := startServer(t, ctx, data)
	c := newClient(srv.url)
	for _, cmd := range []struct{ path, body string }{
		{"/cart/x1/Open", `{"customer":"a <b> & c"}`},
		{"/cart/x1/AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`},
		{"/cart/x2/Open", `{"customer":"é"}`},
		{"/cart/x1/CheckOut", `{}`}, // and the order its effect places
	} {
		if r, err := c.Post(cmd.path, "", []byte(cmd.body)); err != nil || r.Status/100 != 2 {
			t.Fatalf("%s: %v %v", cmd.path, r, err)
		}
	}
	c.Close()
	dir := t.TempDir()
	fromURL, fromData := filepath.Join(dir, "url.ndjson"), filepath.Join(dir, "data.ndjson")
	// The place_order effect runs after the answer: wait for its event.
	e2etest.Until(10*time.Second, 100*time.Millisecond, func() bool {
		if _, stderr, code := runCLI(t, time.Minute, "export", ctx, "--url", srv.url, "-o", fromURL); code != 0 {
			t.Fatalf("export --url: %s", stderr)
		}
		b, _ := os.ReadFile(fromURL)
		return bytes.Count(b, []byte("\n")) >= 5
	})
	if err := syscall.Kill(srv.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not stop")
	}
	if _, stderr, code := runCLI(t, time.Minute, "export", ctx, "--data", data, "-o", fromData); code != 0 {
		t.Fatalf("export --data: %s", stderr)
	}
	a, _ := os.ReadFile(fromURL)
	b, _ := os.ReadFile(fromData)
	if !bytes.Equal(a, b) {
		t.Fatalf("the exports differ:\n--url:\n%s\n--data:\n%s", a, b)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(lines) != 5 { // the commands' 4 events and the placed order's
		t.Fatalf("%d events exported, want 5:\n%s", len(lines), b)
	}
	for i, l := range lines {
		var e struct {
			Position int64           `json:"position"`
			Type     string          `json:"type"`
			Payload  json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(l, &e); err != nil || e.Position != int64(i+1) {
			t.Fatalf("line %d is %s (%v), want the event at position %d", i+1, l, err, i+1)
		}
	}
	// A later export resumes after a position.
	stdout, _, code := runCLI(t, time.Minute, "export", ctx, "--data", data, "--after", "2")
	if code != 0 || !bytes.Equal(stdout, bytes.Join(append(lines[2:], nil), []byte("\n"))) {
		t.Fatalf("export --after 2 gave:\n%s", stdout)
	}
}
