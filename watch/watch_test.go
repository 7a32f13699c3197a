package watch_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/watch"
)

// waitChange fails unless a change arrives; a change that never comes is
// the failure this bound turns into a message rather than a hang.
func waitChange(t *testing.T, w *watch.Watcher, what string) {
	t.Helper()
	select {
	case <-w.Changes():
	case err := <-w.Errors():
		t.Fatalf("%s: %v", what, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no change", what)
	}
}

// noChange checks that nothing is pending once the watcher had its
// debounce and more to report: events are delivered within it.
func noChange(t *testing.T, w *watch.Watcher, d time.Duration, what string) {
	t.Helper()
	select {
	case <-w.Changes():
		t.Fatalf("%s: a change was reported", what)
	case <-time.After(d):
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
}

func TestEverySaveStyleIsOneChange(t *testing.T) {
	dir := t.TempDir()
	ctx := filepath.Join(dir, "ctx.cue")
	write(t, ctx, "package c\n")
	const debounce = 50 * time.Millisecond
	w, err := watch.New([]watch.Set{{Dir: dir}}, debounce)
	require.NoError(t, err)
	defer w.Close()

	// In place, several writes in a burst: one change.
	for i := range 5 {
		write(t, ctx, "package c\n// "+string(rune('a'+i))+"\n")
	}
	waitChange(t, w, "writes in place")
	noChange(t, w, 4*debounce, "the same burst")

	// A temporary file renamed over the context, as most editors save.
	tmp := filepath.Join(dir, ".ctx.cue.swp")
	write(t, tmp, "package c\n// renamed\n")
	require.NoError(t, os.Rename(tmp, ctx))
	waitChange(t, w, "rename over")

	// Deleted, then created again.
	require.NoError(t, os.Remove(ctx))
	write(t, ctx, "package c\n// again\n")
	waitChange(t, w, "delete and create")

	// A new file of the package counts; a file of another kind does not.
	write(t, filepath.Join(dir, "more.cue"), "package c\n")
	waitChange(t, w, "a new .cue file")
	write(t, filepath.Join(dir, "notes.txt"), "x")
	noChange(t, w, 4*debounce, "a .txt file")
}

func TestOneFileOfADirectory(t *testing.T) {
	dir := t.TempDir()
	ctx := filepath.Join(dir, "shop.cue")
	write(t, ctx, "package c\n")
	w, err := watch.New([]watch.Set{{Dir: dir, Files: []string{"shop.cue"}}}, 20*time.Millisecond)
	require.NoError(t, err)
	defer w.Close()
	write(t, filepath.Join(dir, "other.cue"), "package d\n")
	noChange(t, w, 200*time.Millisecond, "another context's file")
	write(t, ctx, "package c\n// edited\n")
	waitChange(t, w, "the context's file")
}
