package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// discard is a live stream's writer that keeps nothing: what a stream
// costs the server apart from the network.
type discard struct{ n *atomic.Int64 }

func (discard) Open() error               { return nil }
func (d discard) Event(store.Event) error { d.n.Add(1); return nil }
func (discard) KeepAlive() error          { return nil }

// logReads counts a store's reads of the global log.
type logReads struct {
	*sqlite.Store
	reads atomic.Int64
}

func (s *logReads) ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	s.reads.Add(1)
	return s.Store.ReadAll(ctx, after, limit)
}

// BenchmarkStreamFanOut decides commands (each opening a new cart) while
// 0, 100 or 600 live streams follow the log: streams read new events from
// the backend's tail of recent commits, so the store does the same work
// for commands whatever their number. reads/op is the store's log reads
// per command.
func BenchmarkStreamFanOut(b *testing.B) {
	p := compile(b)
	for _, streams := range []int{0, 100, 600} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "shop.db"), sqlite.Options{Sync: sqlite.SyncNormal})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cs := &logReads{Store: st}
			backend := native.New(p, cs, engine.Options{})
			defer backend.Close()
			svc := api.New(p, backend, api.Options{MaxStreams: -1})
			ctx, cancel := context.WithCancel(context.Background())
			var got atomic.Int64
			done := make(chan struct{}, streams)
			for range streams {
				go func() {
					defer func() { done <- struct{}{} }()
					svc.Stream(ctx, &api.Request{Method: http.MethodGet, Path: "/events", Header: api.Header{"Accept": {"text/event-stream"}}}, discard{&got})
				}()
			}
			var id atomic.Int64
			reads := cs.reads.Load()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp := svc.Serve(ctx, &api.Request{Method: http.MethodPost, Path: "/cart/f" + strconv.FormatInt(id.Add(1), 10) + "/Open",
						Header: api.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"customer":"ada"}`)})
					if resp.Status != http.StatusCreated {
						b.Errorf("%d %s", resp.Status, resp.Body)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
			b.ReportMetric(float64(cs.reads.Load()-reads)/float64(b.N), "reads/op")
			cancel()
			for range streams {
				<-done
			}
		})
	}
}
