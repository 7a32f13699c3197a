//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile takes an exclusive flock on path (created if missing) and
// writes this process's id into it, for the message of the next process
// that finds it taken. The kernel releases the lock when the process
// dies, so a crash leaves no stale lock; the file itself stays.
func lockFile(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			held := &LockedError{Lock: path}
			if b, rerr := os.ReadFile(path); rerr == nil {
				held.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			return nil, held
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	// Closing the file releases the flock.
	return f.Close, nil
}
