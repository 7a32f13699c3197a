package watch

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Set is what is watched in one directory: every .cue file in it (Files
// empty), or only the named files.
type Set struct {
	Dir   string
	Files []string // base names
}

func (s Set) matches(name string) bool {
	if filepath.Dir(name) != filepath.Clean(s.Dir) {
		return false
	}
	base := filepath.Base(name)
	if len(s.Files) == 0 {
		return strings.HasSuffix(base, ".cue")
	}
	for _, f := range s.Files {
		if f == base {
			return true
		}
	}
	return false
}

// DefaultDebounce is how long a burst of saves must be quiet before it
// counts as one change: long enough for an editor's several writes, short
// enough for the loop from save to a running program to stay under a
// second.
const DefaultDebounce = 100 * time.Millisecond

// Watcher sends on Changes once per burst of changes to its sets.
type Watcher struct {
	w        *fsnotify.Watcher
	sets     []Set
	debounce time.Duration
	changes  chan struct{}
	errs     chan error
	done     chan struct{}
	wg       sync.WaitGroup
	// seen, when set (by tests), hears each event's file and whether it
	// counted, and "" when a burst ends in a change, as the loop decides.
	seen func(name string, relevant bool)
}

// New watches sets; debounce 0 means DefaultDebounce.
func New(sets []Set, debounce time.Duration) (*Watcher, error) {
	return newWatcher(sets, debounce, nil)
}

func newWatcher(sets []Set, debounce time.Duration, trace func(string, bool)) (*Watcher, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{w: fw, sets: sets, debounce: debounce, changes: make(chan struct{}, 1), errs: make(chan error, 1), done: make(chan struct{}), seen: trace}
	seen := map[string]bool{}
	for _, s := range sets {
		dir := filepath.Clean(s.Dir)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := fw.Add(dir); err != nil {
			fw.Close()
			return nil, fmt.Errorf("watch %s: %w", dir, err)
		}
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// Changes receives once per burst of changes; a change that comes while
// the previous one is not yet received is merged into it.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Errors receives what the watcher could not watch (the directory removed,
// the kernel's queue overflowed); the caller decides whether to go on.
func (w *Watcher) Errors() <-chan error { return w.errs }

// Close stops watching.
func (w *Watcher) Close() error {
	close(w.done)
	err := w.w.Close()
	w.wg.Wait()
	return err
}

func (w *Watcher) loop() {
	defer w.wg.Done()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-w.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			relevant := ev.Op != fsnotify.Chmod && w.relevant(ev.Name)
			if w.seen != nil {
				w.seen(ev.Name, relevant)
			}
			if !relevant {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(w.debounce)
			} else {
				timer.Reset(w.debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			if w.seen != nil {
				w.seen("", true)
			}
			select {
			case w.changes <- struct{}{}:
			default: // one is pending: this burst joins it
			}
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			select {
			case w.errs <- err:
			default:
			}
		}
	}
}

func (w *Watcher) relevant(name string) bool {
	for _, s := range w.sets {
		if s.matches(name) {
			return true
		}
	}
	return false
}
