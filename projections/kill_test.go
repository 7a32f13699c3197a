package projections_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/projections"
)

// TestHelperProcess is the process TestKill9 kills: it catches up (or
// rebuilds by_tag) on the database named by PROJECTION_HELPER_DB in
// batches of 50, printing a line per batch, until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("PROJECTION_HELPER_DB")
	if path == "" {
		t.Skip("only run by TestKill9")
	}
	p := compile(t, bank)
	st := openStore(t, path)
	projections.SetTestHookBatch(func(name string, last int64) { fmt.Printf("batch %s %d\n", name, last) })
	r, err := projections.New(p, st, projections.Options{BatchSize: 50})
	require.NoError(t, err)
	ctx := context.Background()
	switch os.Getenv("PROJECTION_HELPER_MODE") {
	case "catchup":
		require.NoError(t, r.Start(ctx))
		fmt.Println("started")
	case "rebuild":
		fmt.Println("started")
		require.NoError(t, r.RebuildProgress(ctx, "by_tag", nil))
	}
	// TestKill9 kills this process long before; the minute only bounds its
	// life should the parent die first.
	time.Sleep(time.Minute)
	fmt.Println("not killed")
}

// TestKill9 kills a process with SIGKILL while it catches up or rebuilds,
// then restarts on its database: the projections converge and every row
// applied each of its events exactly once.
func TestKill9(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	p := compile(t, bank)
	for _, mode := range []string{"catchup", "rebuild"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bank.db")
			st := openStore(t, path)
			fill(t, st, 6000, 100)
			if mode == "rebuild" {
				r := newRunner(t, p, st, projections.Options{})
				caughtUp(t, r)
				r.Close()
			}
			require.NoError(t, st.Close())

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PROJECTION_HELPER_DB="+path, "PROJECTION_HELPER_MODE="+mode)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			lines := bufio.NewScanner(out)
			batches := 0
			for batches < 40 && lines.Scan() {
				if strings.HasPrefix(lines.Text(), "batch ") {
					batches++
				}
			}
			require.NoError(t, cmd.Process.Kill()) // SIGKILL, mid-transaction more often than not
			_ = cmd.Wait()
			require.Equal(t, 40, batches, "the helper did not get going")

			st = openStore(t, path)
			defer st.Close()
			off, err := projections.New(p, st, projections.Options{})
			require.NoError(t, err)
			killed := false
			for _, s := range mustStatus(t, off) {
				t.Logf("after the kill: %s %s at %d of %d", s.Name, s.State, s.Position, s.Head)
				killed = killed || s.Position < s.Head
			}
			assert.True(t, killed, "the helper finished before it was killed")
			r := newRunner(t, p, st, projections.Options{})
			caughtUp(t, r)
			checkCounts(t, st)
		})
	}
}
