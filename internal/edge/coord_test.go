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
