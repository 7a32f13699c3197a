package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lines hands out what a writer gets, line by line.
func lines(t *testing.T) (io.Writer, <-chan string) {
	r, w := io.Pipe()
	ch := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	t.Cleanup(func() { w.Close() })
	return w, ch
}

// next waits for a line holding want; a vet that never reports is the
// failure the bound turns into a message.
func next(t *testing.T, ch <-chan string, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-ch:
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q", want)
		}
	}
}

func TestVetWatch(t *testing.T) {
	src, err := os.ReadFile("../contexts/example.cue")
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.cue")
	require.NoError(t, os.WriteFile(path, src, 0o644))

	stdout, out := lines(t)
	stderr, errs := lines(t)
	c := &command{stdout: stdout, stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- c.vetWatch(ctx, path, false) }()
	next(t, out, "ok\t"+path)

	// A broken save: every error, positioned.
	broken := strings.Replace(string(src), `"len(state.items) > 0"`, `"len(state.itms) > 0"`, 1)
	require.NotEqual(t, string(src), broken)
	require.NoError(t, os.WriteFile(path, []byte(broken), 0o644))
	l := next(t, errs, "state has no field itms")
	require.Contains(t, l, "shop.cue:65:", "positioned")

	// Fixed, saved as editors do: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".shop.cue.tmp")
	require.NoError(t, os.WriteFile(tmp, src, 0o644))
	require.NoError(t, os.Rename(tmp, path))
	next(t, out, "ok\t"+path)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("vet --watch did not stop")
	}
}
