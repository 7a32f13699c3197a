package native_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// readCounter is a SQLite store that counts reads of the global log.
type readCounter struct {
	*sqlite.Store
	reads atomic.Int64
}

func (r *readCounter) ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	r.reads.Add(1)
	return r.Store.ReadAll(ctx, after, limit)
}

// What ReadAll answers from the tail of recent commits is what the store
// holds, also with a second writer on the same database (another process):
// its commits show as a gap, and the tail starts over.
func TestTailReadsAsTheStore(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			b1, b2 := newBackend(t, st), newBackend(t, st)
			for i, b := range []*native.Backend{b1, b1, b2, b1, b2, b2, b1, b1} {
				id := "t" + strconv.Itoa(i)
				execute(t, b, command("cart", id, "Open", `{"customer":"ada"}`), http.StatusCreated)
				execute(t, b, command("cart", id, "AddItem", `{"sku":"TEA-01","qty":1,"price":2}`), http.StatusOK)
				all, err := st.ReadAll(t.Context(), 0, 1000)
				require.NoError(t, err)
				// b wrote last: it knows the head, and answers every page as the store.
				for after := range int64(len(all)) + 1 {
					for _, limit := range []int{1, 3, 1000} {
						want, err := st.ReadAll(t.Context(), after, limit)
						require.NoError(t, err)
						got, err := b.ReadAll(t.Context(), after, limit)
						require.NoError(t, err)
						assert.Equal(t, want, got, "after %d limit %d", after, limit)
					}
				}
			}
		})
	}
}

// streamWriter reports every event a stream writes on a channel.
type streamWriter struct{ got chan<- int64 }

func (w streamWriter) Open() error { return nil }
func (w streamWriter) Event(e store.Event) error {
	w.got <- e.Position
	return nil
}
func (w streamWriter) KeepAlive() error { return nil }

// Live streams read new events from the tail of recent commits, not from
// the store: commands cost the same whether 0 or 100 streams follow them.
func TestStreamsDoNotReadTheStorePerCommit(t *testing.T) {
	st := &readCounter{Store: openSQLite(t)}
	b := newBackend(t, st)
	svc := api.New(example(t), b, api.Options{})
	const streams, commands = 100, 20
	got := make(chan int64, streams*(commands+1))
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan struct{}, streams)
	for range streams {
		go func() {
			defer func() { ended <- struct{}{} }()
			svc.Stream(ctx, &api.Request{Method: http.MethodGet, Path: "/events", Header: api.Header{"Accept": {"text/event-stream"}}}, streamWriter{got})
		}()
	}
	defer func() {
		cancel()
		for range streams {
			<-ended
		}
	}()
	execute(t, b, command("cart", "s0", "Open", `{"customer":"ada"}`), http.StatusCreated)
	for range streams {
		require.Equal(t, int64(1), <-got)
	}
	// Every stream has its first event and waits for the next: from here
	// on, what they read comes from memory.
	st.reads.Store(0)
	for i := range commands {
		execute(t, b, command("cart", "s"+strconv.Itoa(i+1), "Open", `{"customer":"ada"}`), http.StatusCreated)
	}
	last := map[int64]int{}
	for range streams * commands {
		last[<-got]++
	}
	for pos := int64(2); pos <= commands+1; pos++ {
		assert.Equal(t, streams, last[pos], "streams that got position %d", pos)
	}
	assert.Zero(t, st.reads.Load(), "reads of the store's log while %d streams followed %d commands", streams, commands)
}
