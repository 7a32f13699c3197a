package e2etest

import (
	"testing"
	"time"
)

// Until calls ok every tick until it holds or d has passed, and reports
// whether it held. It is the one poll of the end-to-end tests: what they
// wait for (a server that answers, an event forwarded to the log, a
// webhook called) is seen only from outside the process, over HTTP or in
// its output. Unlike require.Eventually it calls ok on the caller's
// goroutine, so ok may use helpers that call t.Fatal, and a caller may
// stop early when the process it waits for has exited.
func Until(d, tick time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(tick)
	}
	return true
}

// WaitFor fails t unless ok holds within d, polled every 50ms; what names
// what is awaited.
func WaitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	if !Until(d, 50*time.Millisecond, ok) {
		t.Fatalf("no %s within %v", what, d)
	}
}
