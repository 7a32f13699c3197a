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

// maxGzip is the engine's budget: 2.5 MB gzipped, half a megabyte under the
// Workers free plan's script limit, which keeps cold starts short and
// every plan open.
const maxGzip = 2_500_000

// wasmGCFlags are the Makefile's WASM_GCFLAGS: the packages that only write
// documents are built without inlining (smaller, on no command's path).
var wasmGCFlags = []string{
	"-gcflags=github.com/cuesource/cuesource/api/openapi=-l",
	"-gcflags=github.com/cuesource/cuesource/diagram=-l",
}

// TestWasmBuild checks the engine's wasm build: it links no CUE (contexts
// are compiled at build time; the Worker gets the manifest) and, built
// as the Makefile builds it, is under 2.5 MB gzipped (level 9).
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
	t.Logf("engine.wasm (-trimpath -s -w, %s): %d bytes raw, %d bytes gzipped (level 9); limit %d gzipped", strings.Join(wasmGCFlags, " "), len(raw), gz.Len(), maxGzip)
	if gz.Len() >= maxGzip {
		t.Errorf("engine.wasm is %d bytes gzipped, want under %d", gz.Len(), maxGzip)
	}
}
