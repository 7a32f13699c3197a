package watch

import "time"

// NewSeen is New whose loop tells seen each event's file and whether it
// counted: tests wait for the watcher to have decided, not for time.
func NewSeen(sets []Set, debounce time.Duration, seen func(name string, relevant bool)) (*Watcher, error) {
	return newWatcher(sets, debounce, seen)
}
