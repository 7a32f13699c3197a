package cli

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// The server prunes idempotency records older than --idempotency-ttl.
func TestPruneIdempotency(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	now := time.Now().UTC()
	for i, age := range []time.Duration{2 * time.Hour, time.Minute} {
		_, err := st.Append(ctx, store.Commit{Aggregate: "a", Instance: "i", ExpectedVersion: int64(i),
			Events:      []store.Event{{ID: "e" + string(rune('0'+i)), Type: "T", Time: now, Payload: []byte(`{}`)}},
			State:       []byte(`{}`),
			Idempotency: &store.Idempotency{Key: "k" + string(rune('0'+i)), RequestHash: "h", Response: []byte(`{}`), Time: now.Add(-age)}})
		require.NoError(t, err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { prune(pctx, st, time.Hour, slog.New(slog.DiscardHandler)); close(done) }()
	require.Eventually(t, func() bool {
		_, ok, err := st.Idempotency(ctx, "k0")
		return err == nil && !ok
	}, 5*time.Second, 10*time.Millisecond, "the two-hour-old record is pruned")
	cancel()
	<-done
	_, ok, err := st.Idempotency(ctx, "k1")
	require.NoError(t, err)
	require.True(t, ok, "the recent record stays")
}
