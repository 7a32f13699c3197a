package edge

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the op and answer sections of testdata/*.txtar from what the core does")

// The transcripts in testdata/*.txtar show each flow of the core as the
// shell sees it, in the style of raft's datadriven tests. A file is a
// series of calls:
//
//	-- call NAME --      the input of a script (or of a function without I/O)
//	-- op --             an operation Go asks the shell to perform
//	-- result --         what the shell answers it ({"ok": ...} or {"error": ...})
//	-- end --            instead of a result: the Go runtime ends while the
//	                     operation is in flight (the script never continues)
//	-- answer --         what the call answers
//
// The results are written by hand; the ops and answers are checked, and
// `go test ./internal/edge/ -run TestTranscripts -update` rewrites them.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	cores := map[string]*Core{}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			require.NoError(t, err)
			c := transcriptCore(t, cores, a)
			out := runTranscript(t, c, a)
			if *update {
				require.NoError(t, os.WriteFile(file, txtar.Format(out), 0o644))
				return
			}
			for i := range max(len(a.Files), len(out.Files)) {
				var want, got txtar.File
				if i < len(a.Files) {
					want = a.Files[i]
				}
				if i < len(out.Files) {
					got = out.Files[i]
				}
				if want.Name != got.Name || !sameJSON(want.Data, got.Data) {
					t.Fatalf("%s: section %d: want\n-- %s --\n%s\ngot\n-- %s --\n%s\n(run with -update to accept)", file, i+1, want.Name, want.Data, got.Name, got.Data)
				}
			}
		})
	}
}

// transcriptCore is the core a file's comment names ("context: PATH",
// "token: T", "env: NAME=VALUE"), the example by default.
func transcriptCore(t *testing.T, cores map[string]*Core, a *txtar.Archive) *Core {
	ctx, cfg := "../../contexts/example.cue", Config{AdminToken: "adm", DeadLetterQueue: "shop-effects-dlq"}
	for _, line := range strings.Split(string(a.Comment), "\n") {
		if v, ok := strings.CutPrefix(line, "context: "); ok {
			ctx = v
		}
		if v, ok := strings.CutPrefix(line, "token: "); ok {
			cfg.Token = v
		}
		if v, ok := strings.CutPrefix(line, "env: "); ok {
			k, val, _ := strings.Cut(v, "=")
			cfg.Env = map[string]string{k: val}
		}
	}
	// Compiled once, but each file gets a core of its own: the state
	// that coordinates scripts starts empty, as in a new runtime.
	key := fmt.Sprint(ctx, cfg.Token, cfg.Env)
	if cores[key] == nil {
		cores[key] = coreOf(t, ctx, cfg)
	}
	c := *cores[key]
	c.objects = newObjects()
	c.proj = &projState{}
	if c.faults != nil {
		c.faults.state = faultState{} // the scripts' own, bound to the compiled core
	}
	return &c
}

// runTranscript runs a's calls and returns the archive as the core writes
// it: the same calls and results, the ops and answers it gave.
func runTranscript(t *testing.T, c *Core, a *txtar.Archive) *txtar.Archive {
	out := &txtar.Archive{Comment: a.Comment}
	fs := a.Files
	for len(fs) > 0 {
		call := fs[0]
		name, ok := strings.CutPrefix(call.Name, "call ")
		require.True(t, ok, "want a call section, got %q", call.Name)
		out.Files = append(out.Files, call)
		fs = fs[1:]
		// The results given to this call, up to the next call.
		var results []txtar.File
		for len(fs) > 0 && !strings.HasPrefix(fs[0].Name, "call ") {
			if fs[0].Name == "result" || fs[0].Name == "end" {
				results = append(results, fs[0])
			}
			fs = fs[1:]
		}
		if !c.IsScript(name) {
			require.Empty(t, results, "%s is a function without I/O", name)
			out.Files = append(out.Files, txtar.File{Name: "answer", Data: pretty(t, c.Call(name, bytes.TrimSpace(call.Data)))})
			continue
		}
		done := make(chan []byte, 1)
		go func() {
			// A script stopped by "-- end --" answers nothing.
			answered := false
			defer func() {
				if !answered {
					close(done)
				}
			}()
			b := c.Run(name, bytes.TrimSpace(call.Data), func(op Op) Result {
				b, err := json.Marshal(op)
				require.NoError(t, err)
				out.Files = append(out.Files, txtar.File{Name: "op", Data: pretty(t, b)})
				if len(results) == 0 {
					if !*update {
						t.Errorf("%s: no result for %s", name, b)
					}
					out.Files = append(out.Files, txtar.File{Name: "result", Data: []byte("{\"error\": \"the transcript has no result for this op\"}\n")})
					return Result{Error: "the transcript has no result for this op"}
				}
				r := results[0]
				results = results[1:]
				out.Files = append(out.Files, r)
				if r.Name == "end" {
					// Not a panic Run could recover: the goroutine stops
					// where it waits, as when the wasm program exits.
					runtime.Goexit()
				}
				var res Result
				require.NoError(t, json.Unmarshal(r.Data, &res), "%s", r.Data)
				return res
			})
			answered = true
			done <- b
		}()
		answer, ok := <-done
		if ok {
			out.Files = append(out.Files, txtar.File{Name: "answer", Data: pretty(t, answer)})
		}
		// Results the script did not ask for are kept when updating, so
		// the writer can see them.
		out.Files = append(out.Files, results...)
		if !*update {
			require.Empty(t, results, "%s: results the script did not ask for", name)
		}
	}
	return out
}

// pretty writes JSON for a transcript: one member per line, arrays and
// objects of scalars on one line, HTML characters as they are.
func pretty(t *testing.T, b []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	require.NoError(t, d.Decode(&v), "%s", b)
	var buf bytes.Buffer
	writePretty(&buf, v, "")
	buf.WriteByte('\n')
	return buf.Bytes()
}

func writePretty(buf *bytes.Buffer, v any, indent string) {
	scalar := func(v any) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		buf.Write(bytes.TrimSpace(b.Bytes()))
	}
	flat := func(vs []any) bool {
		for _, x := range vs {
			switch x.(type) {
			case map[string]any, []any:
				return false
			}
		}
		return true
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 || flat(x) {
			scalar(x)
			return
		}
		buf.WriteString("[\n")
		for i, e := range x {
			buf.WriteString(indent + "  ")
			writePretty(buf, e, indent+"  ")
			if i < len(x)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "]")
	case map[string]any:
		if len(x) == 0 {
			buf.WriteString("{}")
			return
		}
		keys := slices.Sorted(maps.Keys(x))
		buf.WriteString("{\n")
		for i, k := range keys {
			buf.WriteString(indent + "  ")
			scalar(k)
			buf.WriteString(": ")
			writePretty(buf, x[k], indent+"  ")
			if i < len(keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "}")
	default:
		scalar(x)
	}
}

func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
