package native

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// The tail keeps at most tailEvents events and about tailBytes, the most
// recent ones, across many commits; what it dropped is read from the store.
func TestTailKeepsItsBounds(t *testing.T) {
	var tl tail
	pos := int64(0)
	commit := func(n int, payload string) {
		evs := make([]store.Event, n)
		for i := range evs {
			pos++
			evs[i] = store.Event{Position: pos, Payload: []byte(payload)}
		}
		tl.add(evs)
	}
	for range 3 * tailEvents / 7 {
		commit(7, `{}`)
	}
	kept := tl.evs[tl.start:]
	assert.Len(t, kept, tailEvents, "the bound on events")
	assert.Equal(t, pos, kept[len(kept)-1].Position)
	assert.LessOrEqual(t, len(tl.evs), 2*tailEvents, "dropped events are compacted away")
	evs, ok := tl.read(pos-10, 100)
	require.True(t, ok)
	assert.Len(t, evs, 10)
	_, ok = tl.read(pos-tailEvents-1, 100)
	assert.False(t, ok, "older than the tail: the store answers")

	// Big events: the byte bound keeps fewer, the newest one always.
	big := `"` + strings.Repeat("x", tailBytes/4) + `"`
	for range 6 {
		commit(1, big)
	}
	kept = tl.evs[tl.start:]
	assert.LessOrEqual(t, tl.bytes, tailBytes)
	assert.Len(t, kept, 3)
	assert.Equal(t, pos, kept[len(kept)-1].Position)

	// A gap (another writer's commit) starts the tail over.
	pos++
	commit(1, `{}`)
	kept = tl.evs[tl.start:]
	assert.Len(t, kept, 1)
	_, ok = tl.read(pos-2, 10)
	assert.False(t, ok)
}
