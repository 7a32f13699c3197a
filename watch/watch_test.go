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

// trace is what a watcher's loop decided, in order: each event's file
// and whether it counted, and "" for a burst that ended in a change.
type trace chan [2]any

func watcher(t *testing.T, sets []watch.Set, debounce time.Duration) (*watch.Watcher, trace) {
	tr := make(trace, 1000)
	w, err := watch.NewSeen(sets, debounce, func(name string, relevant bool) { tr <- [2]any{name, relevant} })
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	return w, tr
}

// noChange checks that no change is coming: it writes a file no set
// watches (in dir) and waits for the loop to have decided on its event;
// the loop sees events in order, so by then it has decided on every
// earlier one. No event that counted may have come after the last
// change, none ignored may have counted, and no change may be pending.
func noChange(t *testing.T, w *watch.Watcher, tr trace, dir, what string, ignored ...string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "marker-*.txt") // a new name: no earlier marker's event is taken for it
	require.NoError(t, err)
	marker := f.Name()
	require.NoError(t, f.Close())
	var counted []string
	for {
		select {
		case d := <-tr:
			name, relevant := d[0].(string), d[1].(bool)
			switch {
			case name == marker:
				require.False(t, relevant, "%s: the marker counted", what)
				require.Empty(t, counted, "%s: events that counted after the last change", what)
				select {
				case <-w.Changes():
					t.Fatalf("%s: a change was reported", what)
				default:
				}
				return
			case name == "":
				counted = nil
			case relevant:
				for _, i := range ignored {
					require.NotEqual(t, i, name, "%s: counted", what)
				}
				counted = append(counted, name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the watcher never saw the marker", what)
		}
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
	w, tr := watcher(t, []watch.Set{{Dir: dir}}, debounce)

	// In place, several writes in a burst: one change.
	for i := range 5 {
		write(t, ctx, "package c\n// "+string(rune('a'+i))+"\n")
	}
	waitChange(t, w, "writes in place")
	noChange(t, w, tr, dir, "the same burst")

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
	notes := filepath.Join(dir, "notes.txt")
	write(t, notes, "x")
	noChange(t, w, tr, dir, "a .txt file", notes)
}

func TestOneFileOfADirectory(t *testing.T) {
	dir := t.TempDir()
	ctx := filepath.Join(dir, "shop.cue")
	write(t, ctx, "package c\n")
	w, tr := watcher(t, []watch.Set{{Dir: dir, Files: []string{"shop.cue"}}}, 20*time.Millisecond)
	other := filepath.Join(dir, "other.cue")
	write(t, other, "package d\n")
	noChange(t, w, tr, dir, "another context's file", other)
	write(t, ctx, "package c\n// edited\n")
	waitChange(t, w, "the context's file")
}
