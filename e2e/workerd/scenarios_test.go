//go:build unix

package workerd

import (
	"slices"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

func runTests(t *testing.T, args ...string) e2etest.TestReport {
	t.Helper()
	return e2etest.RunTests(t, binary, root, args...)
}

// TestScenariosOnWorkerd plays every scenario of the repository's contexts
// against their Worker under workerd with `cuesource test --url`: the same
// scenarios pass as in process.
func TestScenariosOnWorkerd(t *testing.T) {
	needWorkerd(t)
	for _, tc := range []struct{ name, path string }{
		{"example", "contexts/example.cue"},
		{"tickets", "contexts/tickets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := contextPath(tc.path)
			local := runTests(t, path, "--json")
			if len(local.Scenarios) == 0 {
				t.Fatalf("%s has no scenarios", tc.path)
			}
			var want []string
			for _, s := range local.Scenarios {
				want = append(want, s.Name)
			}

			w := startWorker(t, buildWorker(t, tc.path), "")
			start := time.Now()
			rep := runTests(t, path, "--url", w.url, "--admin-token", adminToken, "--json")
			t.Logf("%s: %d scenarios on workerd in %v", tc.path, len(rep.Scenarios), time.Since(start).Round(time.Millisecond))

			if !rep.OK || rep.Failed != 0 || rep.Passed != len(want) || len(rep.Scenarios) != len(want) {
				t.Errorf("report: ok %v, passed %d, failed %d, %d scenarios; want ok true, passed %d, failed 0 (as in process)",
					rep.OK, rep.Passed, rep.Failed, len(rep.Scenarios), len(want))
			}
			var got []string
			for _, s := range rep.Scenarios {
				got = append(got, s.Name)
				if !s.Pass {
					t.Errorf("scenario %q failed on workerd:\n%v", s.Name, s.Failures)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("scenarios run on workerd %q, want %q", got, want)
			}
		})
	}
}
