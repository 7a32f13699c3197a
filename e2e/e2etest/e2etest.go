// Package e2etest holds what the end-to-end tests of both runtimes share:
// finding the module, a free port, running the cuesource binary and its
// scenario report, comparing JSON, an error reporter that stays quiet
// after the first few dozen, the one poll the tests wait with (poll.go),
// and the hostile-HTTP table (hostile.go) both runtimes must answer alike.
package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ModuleRoot is the directory holding go.mod, above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// RunCLI runs binary with args in dir and returns its output and exit
// code; it fails the test when the binary does not end within timeout or
// does not start.
func RunCLI(t testing.TB, binary, dir string, timeout time.Duration, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cuesource %s: no answer within %v", strings.Join(args, " "), timeout)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("cuesource %s: %v", strings.Join(args, " "), err)
	}
	return o.Bytes(), e.Bytes(), cmd.ProcessState.ExitCode()
}

// TestReport is what `cuesource test --json` prints.
type TestReport struct {
	OK        bool `json:"ok"`
	Passed    int  `json:"passed"`
	Failed    int  `json:"failed"`
	Scenarios []struct {
		Name     string   `json:"name"`
		Pass     bool     `json:"pass"`
		Failures []string `json:"failures"`
	} `json:"scenarios"`
}

// RunTests runs `cuesource test ARGS` (ARGS with --json) and returns its
// report; a non-zero exit is a test error.
func RunTests(t testing.TB, binary, dir string, args ...string) TestReport {
	t.Helper()
	stdout, stderr, code := RunCLI(t, binary, dir, 2*time.Minute, append([]string{"test"}, args...)...)
	var rep TestReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		t.Fatalf("cuesource test %v: exit %d, output is not the JSON report: %v\nstdout:\n%s\nstderr:\n%s", args, code, err, stdout, stderr)
	}
	if code != 0 {
		t.Errorf("cuesource test %v: exit %d, want 0\nstderr:\n%s", args, code, stderr)
	}
	return rep
}

// SameJSON reports whether two JSON texts hold the same value.
func SameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// Errs reports test errors: the first MaxErrors in full, then only how
// many more there were, so that a broken runtime does not drown the log.
type Errs struct {
	t  *testing.T
	mu sync.Mutex
	n  int
}

// MaxErrors is how many errors Errs reports in full.
const MaxErrors = 40

// NewErrs returns the error reporter of t.
func NewErrs(t *testing.T) *Errs {
	e := &Errs{t: t}
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.n > MaxErrors {
			t.Logf("... and %d more errors", e.n-MaxErrors)
		}
	})
	return e
}

// Errorf is t.Errorf, quiet after MaxErrors; safe for concurrent use.
func (e *Errs) Errorf(format string, args ...any) {
	e.t.Helper()
	e.mu.Lock()
	e.n++
	n := e.n
	e.mu.Unlock()
	if n <= MaxErrors {
		e.t.Errorf(format, args...)
	} else {
		e.t.Fail()
	}
}

// T is the test e reports to.
func (e *Errs) T() *testing.T { return e.t }

// SameScenarios plays a context's scenarios in process and against the
// server or Worker at url (`cuesource test --url`): the same scenarios must
// run, and all pass, in both. where names the target in messages.
func SameScenarios(t *testing.T, binary, dir, ctx, url, adminToken, where string, args ...string) {
	t.Helper()
	local := RunTests(t, binary, dir, ctx, "--json")
	if len(local.Scenarios) == 0 {
		t.Fatalf("%s has no scenarios", ctx)
	}
	var want []string
	for _, s := range local.Scenarios {
		want = append(want, s.Name)
	}
	start := time.Now()
	rep := RunTests(t, binary, dir, append([]string{ctx, "--url", url, "--admin-token", adminToken, "--json"}, args...)...)
	t.Logf("%s: %d scenarios %s in %v", ctx, len(rep.Scenarios), where, time.Since(start).Round(time.Millisecond))
	if !rep.OK || rep.Failed != 0 || rep.Passed != len(want) || len(rep.Scenarios) != len(want) {
		t.Errorf("report: ok %v, passed %d, failed %d, %d scenarios; want ok true, passed %d, failed 0 (as in process)",
			rep.OK, rep.Passed, rep.Failed, len(rep.Scenarios), len(want))
	}
	var got []string
	for _, s := range rep.Scenarios {
		got = append(got, s.Name)
		if !s.Pass {
			t.Errorf("scenario %q failed %s:\n%v", s.Name, where, s.Failures)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("scenarios run %s %q, want %q", where, got, want)
	}
}

// Soak tells whether the tests run at full size (`make soak` sets
// CUESOURCE_SOAK=1): longer loads and larger hostile inputs. `make test`
// runs them at CI size.
func Soak() bool { return os.Getenv("CUESOURCE_SOAK") != "" }
