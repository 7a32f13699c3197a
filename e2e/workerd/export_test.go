package workerd

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestExportFromWorker: `cuesource export --url` reads a Worker's log (D1)
// a page at a time, one stored event per line, in position order.
func TestExportFromWorker(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "")
	c := newClient(w.url)
	defer c.Close()
	c.command(t, 201, "cart", "x1", "Open", `{"customer":"a <b> & c"}`)
	c.command(t, 200, "cart", "x1", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`)
	c.command(t, 201, "cart", "x2", "Open", `{"customer":"é"}`)
	log := c.waitLog(t, 3, 20*time.Second)
	stdout, stderr, code := runCLI(t, time.Minute, "export", contextPath("contexts/example.cue"), "--url", w.url)
	if code != 0 {
		t.Fatalf("export --url: %s", stderr)
	}
	lines := bytes.Split(bytes.TrimSuffix(stdout, []byte("\n")), []byte("\n"))
	if len(lines) != len(log) {
		t.Fatalf("%d lines exported, the log has %d events:\n%s", len(lines), len(log), stdout)
	}
	for i, l := range lines {
		var e logEvent
		if err := json.Unmarshal(l, &e); err != nil || e.ID != log[i].ID || e.Position != int64(i+1) {
			t.Fatalf("line %d is %s (%v), want event %s at %d", i+1, l, err, log[i].ID, i+1)
		}
	}
	if !bytes.Contains(stdout, []byte(`"customer":"a <b> & c"`)) {
		t.Fatalf("the payload is not as stored:\n%s", stdout)
	}
}
