package edge

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate is a shell whose operations wait until the test lets them finish,
// so scripts can be held in flight at once; it counts each caller's
// operations.
type gate struct {
	mu    sync.Mutex
	ops   map[string]int
	first chan struct{} // closed when the first operation arrives
	once  sync.Once
	open  chan struct{} // closed to let operations finish
}

func newGate() *gate {
	return &gate{ops: map[string]int{}, first: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) perform(who string) Perform {
	return func(op Op) Result {
		g.mu.Lock()
		g.ops[who]++
		g.mu.Unlock()
		g.once.Do(func() { close(g.first) })
		<-g.open
		if op.Kind == "d1" {
			return Result{OK: json.RawMessage(`{"columns":[],"rows":[]}`)}
		}
		return Result{OK: json.RawMessage(`null`)}
	}
}

// Catch-ups asked for while one runs wait for the next run, and share it:
// three callers make two runs, not three (the projector object's
// coalescing, now Go's).
func TestCatchUpsJoin(t *testing.T) {
	c := exampleCore(t)
	c.proj.cps = []Checkpoint{} // kept checkpoints: no read of them
	g := newGate()
	in := []byte(`{"call":"catchUp","now":"2026-12-07T12:00:00Z"}`)
	var wg sync.WaitGroup
	run := func(who string) {
		defer wg.Done()
		out := c.Run("projector", in, g.perform(who))
		assert.NotContains(t, string(out), "fault", "%s: %s", who, out)
	}
	wg.Add(1)
	go run("a")
	<-g.first // a runs and waits for its operation
	wg.Add(2)
	go run("b")
	// b waits for a; c joins b's run, which has not started yet.
	require.Eventually(t, func() bool {
		c.proj.mu.Lock()
		defer c.proj.mu.Unlock()
		return c.proj.next[0] != nil
	}, 5*time.Second, time.Millisecond)
	go run("c")
	require.Eventually(t, func() bool {
		c.proj.mu.Lock()
		defer c.proj.mu.Unlock()
		return c.proj.next[0] != nil && c.proj.next[0].joined == 1
	}, 5*time.Second, time.Millisecond)
	close(g.open)
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	assert.NotZero(t, g.ops["a"])
	assert.NotZero(t, g.ops["b"], "b ran after a: %v", g.ops)
	assert.Zero(t, g.ops["c"], "c joined b's run: %v", g.ops)
}

// Commands on one object that finish at once forward one after the other:
// the second finds its events forwarded by the first and sends nothing
// (the object's forwarding, shared as the shell used to share it).
func TestForwardingOfOneObjectIsShared(t *testing.T) {
	c := coreOf(t, "../../bench/workers/cart.cue", Config{})
	ev := `{"version":2,"id":"e2","type":"ItemAdded","schema_version":2,"time":"2026-12-07T12:00:00.000Z","command_id":"k","payload":"{}","position":null}`
	in := []byte(`{"aggregate":"cart","id":"c1","now":"2026-12-07T12:00:00Z","rid":"r","commit":{"version":2,"state":"{}","events":[` + ev + `],"effects":[]},"response":{"status":200,"headers":[],"body":""}}`)
	var mu sync.Mutex
	forwarded := false // the object's storage: is e2 forwarded?
	batches := map[string]int{}
	started := make(chan struct{})
	release := make(chan struct{})
	perform := func(who string) Perform {
		return func(op Op) Result {
			switch op.Kind {
			case "sql":
				mu.Lock()
				defer mu.Unlock()
				if forwarded {
					return Result{OK: json.RawMessage(`[]`)}
				}
				return Result{OK: json.RawMessage(`[` + ev + `]`)}
			case "batch":
				mu.Lock()
				batches[who]++
				mu.Unlock()
				close(started)
				<-release
				return Result{OK: json.RawMessage(`[[],[{"id":"e2","position":2}]]`)}
			case "tx":
				mu.Lock()
				forwarded = true
				mu.Unlock()
			}
			return Result{OK: json.RawMessage(`null`)}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.Run("committed", in, perform("a")) }()
	<-started // a holds the object's forwarding, in its batch
	go func() { defer wg.Done(); c.Run("committed", in, perform("b")) }()
	require.Eventually(t, func() bool {
		c.objects.mu.Lock()
		defer c.objects.mu.Unlock()
		l := c.objects.forwarding["cart/c1"]
		return l != nil && l.n == 2 // a holds it, b waits
	}, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, map[string]int{"a": 1}, batches)
	assert.Empty(t, c.objects.forwarding, "no lock is kept once no one forwards")
}
