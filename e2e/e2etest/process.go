package e2etest

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

// Output is a process's output, written by the process while the test
// reads it.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Save writes a file the way most editors do: a new file renamed over the
// old one (what a watcher must follow).
func Save(t testing.TB, path string, src []byte) {
	t.Helper()
	tmp := path + ".swp"
	if err := os.WriteFile(tmp, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
