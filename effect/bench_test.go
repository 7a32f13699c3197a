package effect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/effect"
)

// BenchmarkDispatch measures delivery throughput: b.N outbox rows are
// written first (one checked-out cart each, the loop stopped), then the
// loop delivers them all; rows/s is the rate.
func BenchmarkDispatch(b *testing.B) {
	b.Run("send", func(b *testing.B) {
		h := newHarness(b, compile(b, fmt.Sprintf(placeOrder, "queue")), effect.Options{})
		benchDispatch(b, h, func() {
			evs, err := h.st.ReadAll(context.Background(), 0, 0)
			require.NoError(b, err)
			placed := 0
			for _, e := range evs {
				if e.Type == "Placed" {
					placed++
				}
			}
			require.Equal(b, b.N, placed, "one order per cart")
		})
	})
	b.Run("webhook", func(b *testing.B) {
		var calls atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		h := newHarness(b, compile(b, fmt.Sprintf(notifyHook, "queue", 3)),
			effect.Options{Vars: map[string]string{"HOOK_URL": srv.URL}, Egress: loopback})
		benchDispatch(b, h, func() { require.Equal(b, int64(b.N), calls.Load()) })
	})
}

func benchDispatch(b *testing.B, h *harness, check func()) {
	ctx := context.Background()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				h.command("cart", fmt.Sprint("c", i), "CheckOut", `{"total":5}`)
			}
		}()
	}
	for i := range b.N {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	count := func() int {
		var n int
		require.NoError(b, h.st.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n))
		return n
	}
	require.Equal(b, b.N, count())

	b.ResetTimer()
	start := time.Now()
	h.start()
	require.Eventually(b, func() bool { return count() == 0 }, 5*time.Minute, time.Millisecond, "the loop empties the outbox")
	elapsed := time.Since(start)
	b.StopTimer()
	h.stop()
	check()
	require.Empty(b, h.deadLetters())
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
}
