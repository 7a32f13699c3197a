package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/watch"
)

// watchContext watches the files the context at path is read from, calls
// onChange once when the watch is in place and again after each burst of
// saves, until ctx ends. After a change
// the files to watch are listed again (the imports may have changed), and
// that watcher is in place before onChange runs, so no save during a run
// is missed.
func (c *command) watchContext(ctx context.Context, path string, onChange func()) error {
	w, err := watchSets(path)
	if err != nil {
		return err
	}
	onChange()
	for {
		select {
		case <-ctx.Done():
			return w.Close()
		case err := <-w.Errors():
			w.Close()
			return fmt.Errorf("watching %s: %w", path, err)
		case <-w.Changes():
		}
		next, err := watchSets(path)
		w.Close()
		if err != nil {
			return err
		}
		w = next
		onChange()
	}
}

func watchSets(path string) (*watch.Watcher, error) {
	dirs, err := compiler.Dirs(path)
	if err != nil {
		return nil, err
	}
	sets := make([]watch.Set, len(dirs))
	for i, d := range dirs {
		sets[i] = watch.Set{Dir: d.Path, Files: d.Files}
	}
	return watch.New(sets, 0)
}

// vetWatch vets the context, then again after every save, until ctx ends:
// errors as vet prints them, or "ok" with the time.
func (c *command) vetWatch(ctx context.Context, path string, asJSON bool) int {
	run := func() {
		if c.vetOnce(path, asJSON) == 0 && !asJSON {
			fmt.Fprintf(c.stdout, "ok\t%s\t%s\n", path, time.Now().Format("15:04:05"))
		}
	}
	if err := c.watchContext(ctx, path, run); err != nil {
		fmt.Fprintln(c.stderr, "cuesource vet:", err)
		return 1
	}
	return 0
}
