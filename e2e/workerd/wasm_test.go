//go:build unix

package workerd

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxGzip is the engine's budget: 2.5 MB gzipped, half a megabyte under the
// Workers free plan's script limit, which keeps cold starts short and
// every plan open.
const maxGzip = 2_500_000

// wasmGCFlags are the Makefile's WASM_GCFLAGS (TestWasmBuild checks that
// they agree): packages on no command's path, and the glue around a
// command's I/O, are built without inlining.
var wasmGCFlags = func() []string {
	var out []string
	for _, p := range []string{
		"github.com/cuesource/cuesource/api/openapi", "github.com/cuesource/cuesource/diagram",
		"github.com/cuesource/cuesource/api", "github.com/cuesource/cuesource/internal/edge",
		"github.com/cuesource/cuesource/store/d1", "github.com/cuesource/cuesource/effect/egress",
		"github.com/cuesource/cuesource/internal/effect/rules", "github.com/cuesource/cuesource/manifest",
		"github.com/cuesource/cuesource/diag", "github.com/cuesource/cuesource/route",
		"github.com/cuesource/cuesource/internal/lens", "github.com/cuesource/cuesource/internal/projections/rows",
		"github.com/cuesource/cuesource/archive", "github.com/cuesource/cuesource/retention",
		"github.com/cuesource/cuesource/auth",
		"github.com/cuesource/cuesource",
		"github.com/expr-lang/expr/ast", "github.com/expr-lang/expr/conf", "github.com/expr-lang/expr/parser",
		"github.com/expr-lang/expr/parser/lexer", "github.com/expr-lang/expr/checker", "github.com/expr-lang/expr/checker/nature",
		"github.com/expr-lang/expr/patcher", "github.com/expr-lang/expr/optimizer", "github.com/expr-lang/expr/compiler",
		"regexp/syntax", "mime", "text/tabwriter", "net/netip", "net/url", "fmt", "time",
	} {
		out = append(out, "-gcflags="+p+"=-l")
	}
	return out
}()

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

	// The Makefile's engine.wasm is built as this one.
	mk := exec.Command("make", "-n", "-B", filepath.Join(root, ".bin", "engine.wasm"))
	mk.Dir = root
	recipe, err := mk.Output()
	if err != nil {
		t.Fatalf("make -n engine.wasm: %v", err)
	}
	if flags := strings.Join(wasmGCFlags, " "); !strings.Contains(string(recipe), " "+flags+" ") {
		t.Errorf("the Makefile builds engine.wasm with other flags than this test (%s):\n%s", flags, recipe)
	}

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
	t.Logf("engine.wasm (-trimpath -s -w, %d packages without inlining): %d bytes raw, %d bytes gzipped (level 9); limit %d gzipped", len(wasmGCFlags), len(raw), gz.Len(), maxGzip)
	if gz.Len() >= maxGzip {
		t.Errorf("engine.wasm is %d bytes gzipped, want under %d", gz.Len(), maxGzip)
	}
}
