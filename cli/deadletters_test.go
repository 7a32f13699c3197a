package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/effect"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store/sqlite"
)

const deadLettersContext = `package dl

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "dl"
	env: HOOK_URL: default: ""
	aggregates: ping: {
		#state: n: int
		initial: n: 0
		commands: Ping: {instance: "any", emit: [{event: "Pinged"}]}
		events: Pinged: apply: n: "state.n + 1"
	}
	effects: announce: {
		on: "ping.Pinged"
		delivery: "queue"
		retry: {max: 1, backoff: "10ms"}
		http: url: env: "HOOK_URL"
	}
}
`

// cuesource deadletters lists, retries and discards the dead letters of a
// stopped server's database.
func TestDeadLetters(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dl.cue")
	require.NoError(t, os.WriteFile(src, []byte(deadLettersContext), 0o644))
	data := filepath.Join(dir, "data")

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := (&command{stdout: &out, stderr: &errb}).deadletters(args)
		return code, out.String(), errb.String()
	}

	// No database yet: an error, and none is created.
	code, _, stderr := run("list", src, "--data", data)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no database of dl")
	assert.NoFileExists(t, filepath.Join(data, "dl.db"))

	// A "server" runs: the webhook has no URL, so its delivery is
	// dead-lettered.
	m, err := compiler.Compile(src)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(data, 0o755))
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "dl.db"), sqlite.Options{})
	require.NoError(t, err)
	be := native.New(p, st, engine.Options{})
	d, err := effect.New(ctx, p, st, be, effect.Options{Poll: 5 * time.Millisecond})
	require.NoError(t, err)
	for _, id := range []string{"p1", "p2"} {
		a, err := be.Execute(ctx, &cuesource.CommandRequest{Aggregate: "ping", ID: id, Command: "Ping",
			CommandID: cuesource.NewID(), Time: time.Now().UTC(), ExpectedVersion: engine.AnyVersion})
		require.NoError(t, err)
		resp := api.Answer(a, "ping", id)
		require.Equal(t, 201, resp.Status)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(rctx); close(done) }()
	require.Eventually(t, func() bool {
		l, err := d.DeadLetters().List(ctx)
		return err == nil && len(l) == 2
	}, 10*time.Second, 5*time.Millisecond)
	stop()
	<-done
	be.Close()
	require.NoError(t, st.Close())

	code, stdout, stderr := run("list", src, "--data", data)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "ID  EFFECT")
	assert.Contains(t, stdout, "announce")
	assert.Contains(t, stdout, "CUESOURCE_ENV_HOOK_URL")
	assert.Contains(t, stdout, "2 dead letter(s)")

	code, stdout, _ = run("list", src, "--data", data, "--json")
	require.Equal(t, 0, code)
	var list struct {
		DeadLetters []cuesource.DeadLetter `json:"deadLetters"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &list))
	require.Len(t, list.DeadLetters, 2)
	first, second := list.DeadLetters[0], list.DeadLetters[1]
	assert.Equal(t, "announce", first.Effect)
	assert.Equal(t, 1, first.Attempts)

	code, stdout, stderr = run("retry", src, "--data", data, "1")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "back in the outbox")
	code, stdout, stderr = run("discard", src, "2", "--data", data)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "discarded")
	code, _, stderr = run("discard", src, "2", "--data", data)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no dead letter 2")

	code, stdout, _ = run("list", src, "--data", data)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "no dead letters")

	// The retried letter is owed again, from the start.
	st, err = sqlite.Open(ctx, filepath.Join(data, "dl.db"), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	var eventID string
	var attempts int
	require.NoError(t, st.Read().QueryRow(`SELECT event_id, attempts FROM outbox`).Scan(&eventID, &attempts))
	assert.Equal(t, first.EventID, eventID)
	assert.Equal(t, 0, attempts)
	assert.NotEqual(t, second.EventID, eventID)
	var n int
	require.NoError(t, st.Read().QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n))
	assert.Equal(t, 1, n)

	// Command-line mistakes.
	code, _, _ = run()
	assert.Equal(t, 2, code)
	code, _, _ = run("purge", src)
	assert.Equal(t, 2, code)
	code, _, stderr = run("retry", src, "x", "--data", data)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "not \"x\"")
	code, _, _ = run("retry", src, "--data", data)
	assert.Equal(t, 2, code)
}
