package cli

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
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

// rehydrate reports a drifted instance (exit 1), fixes it with --fix, and
// refuses a data directory without a database.
func TestRehydrateCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "shop.db"), sqlite.Options{})
	require.NoError(t, err)
	now := time.Now().UTC()
	_, err = st.Append(ctx, store.Commit{Aggregate: "cart", Instance: "c1", ExpectedVersion: 0,
		Events: []store.Event{{ID: "e1", Type: "CartOpened", Time: now, Payload: []byte(`{"customer":"ada"}`)}},
		State:  []byte(`{"customer":"ada","discount":0,"items":{},"status":"open","total":0}`)})
	require.NoError(t, err)
	// A snapshot that no longer matches its events.
	_, err = st.Append(ctx, store.Commit{Aggregate: "cart", Instance: "c1", ExpectedVersion: 1,
		State: []byte(`{"customer":"bob","discount":0,"items":{},"status":"open","total":0}`)})
	require.NoError(t, err)
	require.NoError(t, st.Close())

	run := func(args ...string) (int, string) {
		var out, errb strings.Builder
		code := Run(append([]string{"rehydrate", "../contexts/example.cue", "--data"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := run(data)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "drifted\tcart c1 (version 1)")
	require.Contains(t, out, "1 instances, 1 drifted, 0 failed to replay")
	code, out = run(data, "--fix")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "fixed\tcart c1")
	code, out = run(data)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "1 instances, 0 drifted, 0 failed to replay")
	code, out = run(filepath.Join(data, "elsewhere"))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "no database of shop")
}
