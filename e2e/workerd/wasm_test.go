//go:build unix

package workerd

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// maxGzip is the Workers free plan's script limit (3 MB gzipped): staying
// under it keeps cold starts short and every plan open.
const maxGzip = 3_000_000

// TestWasmBuild checks the engine's wasm build: it links no CUE (contexts
// are compiled at build time; the Worker gets the manifest) and, built
// with -trimpath -ldflags="-s -w", is under 3 MB gzipped (level 9).
func TestWasmBuild(t *testing.T) {
	skipShort(t)
	cmd := exec.Command("go", "list", "-deps", "./worker")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go list -deps ./worker: %v\n%s", err, stderr.Bytes())
	}
	var cue []string
	pkgs := strings.Fields(string(out))
	for _, p := range pkgs {
		if p == "cuelang.org" || strings.HasPrefix(p, "cuelang.org/") {
			cue = append(cue, p)
		}
	}
	if len(cue) > 0 {
		t.Errorf("the wasm engine (./worker) links %d CUE packages, want none:\n  %s", len(cue), strings.Join(cue, "\n  "))
	}
	t.Logf("./worker for js/wasm depends on %d packages, none from cuelang.org", len(pkgs))

	raw, err := os.ReadFile(engineWasm)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("engine.wasm (-trimpath -s -w): %d bytes raw, %d bytes gzipped (level 9); limit %d gzipped", len(raw), gz.Len(), maxGzip)
	if gz.Len() >= maxGzip {
		t.Errorf("engine.wasm is %d bytes gzipped, want under %d", gz.Len(), maxGzip)
	}
}
