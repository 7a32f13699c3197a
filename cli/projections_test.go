package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

const projectionsContext = `package pc

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "pc"
	aggregates: ping: {
		#state: n: int
		initial: n: 0
		commands: Ping: {instance: "any", #payload: by: int, emit: [{event: "Pinged", payload: by: "cmd.by"}]}
		events: Pinged: {#payload: by: int, apply: n: "state.n + event.by"}
	}
	projections: {
		pings: {
			mode: "inline"
			columns: {applied: "INTEGER", total: "INTEGER"}
			on: "ping.Pinged": upsert: {applied: "(row.applied ?? 0) + 1", total: "(row.total ?? 0) + event.by"}
		}
		by_amount: {
			key: "event.by"
			columns: applied: "INTEGER"
			on: "ping.Pinged": upsert: applied: "(row.applied ?? 0) + 1"
		}
	}
}
`

// cuesource projections status and rebuild work on a stopped server's
// database.
func TestProjections(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pc.cue")
	require.NoError(t, os.WriteFile(src, []byte(projectionsContext), 0o644))
	data := filepath.Join(dir, "data")

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := (&command{stdout: &out, stderr: &errb}).projections(args)
		return code, out.String(), errb.String()
	}

	// No database yet: an error, and none is created.
	code, _, errs := run("status", src, "--data", data)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no database of pc at")
	assert.NoFileExists(t, filepath.Join(data, "pc.db"))

	// A log written by a server that never ran the projections.
	require.NoError(t, os.MkdirAll(data, 0o755))
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "pc.db"), sqlite.Options{})
	require.NoError(t, err)
	for i := range 1200 {
		_, err := st.Append(context.Background(), store.Commit{Aggregate: "ping", Instance: fmt.Sprint("p", i%10), ExpectedVersion: int64(i / 10),
			Events: []store.Event{{ID: fmt.Sprint("e", i), Type: "Pinged", Time: time.Now(), CommandID: fmt.Sprint("c", i), Payload: json.RawMessage(fmt.Sprintf(`{"by":%d}`, i%3))}}})
		require.NoError(t, err)
	}
	require.NoError(t, st.Close())

	status := func() map[string]cuesource.ProjectionStatus {
		t.Helper()
		code, out, errs := run("status", src, "--data", data, "--json")
		require.Equal(t, 0, code, errs)
		var got struct{ Projections []cuesource.ProjectionStatus }
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		m := map[string]cuesource.ProjectionStatus{}
		for _, s := range got.Projections {
			m[s.Name] = s
		}
		return m
	}
	s := status()
	require.Len(t, s, 2)
	assert.Equal(t, "new", s["pings"].State)
	assert.Equal(t, int64(1200), s["pings"].Lag)

	code, _, errs = run("rebuild", src, "by_amount", "--data", data)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "\rrebuilding by_amount [")
	assert.Regexp(t, `\rrebuilt by_amount: 1200 events in \d+\.\ds( \(.* events/s\))? *\n$`, errs)
	s = status()
	assert.Equal(t, cuesource.ProjectionStatus{Name: "by_amount", Mode: "async", State: "running", Position: 1200, Head: 1200, Hash: s["by_amount"].Hash}, s["by_amount"])
	// Only the named projection is built; the others now have their
	// (empty) tables, and the server builds them when it starts.
	assert.Equal(t, "rebuilding", s["pings"].State)
	assert.Equal(t, int64(0), s["pings"].Position)

	code, out, _ := run("status", src, "--data", data)
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?m)^NAME +MODE +STATE +POSITION +HEAD +LAG +HASH$`, out)
	assert.Regexp(t, `(?m)^by_amount +async +running +1200 +1200 +0 +[0-9a-f]+$`, out)
	assert.Regexp(t, `(?m)^pings +inline +rebuilding +0 +1200 +1200 +[0-9a-f]+$`, out)

	// The rebuilt table holds what the log says.
	st, err = sqlite.Open(context.Background(), filepath.Join(data, "pc.db"), sqlite.Options{})
	require.NoError(t, err)
	rows, err := st.Read().Query(`SELECT key, applied FROM by_amount ORDER BY key`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var k string
		var n int
		require.NoError(t, rows.Scan(&k, &n))
		got = append(got, fmt.Sprintf("%s=%d", k, n))
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.NoError(t, st.Close())
	assert.Equal(t, []string{"0=400", "1=400", "2=400"}, got)

	code, _, errs = run("rebuild", src, "nope", "--data", data)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, `pc has no projection "nope" (it has by_amount, pings)`)

	code, _, errs = run("rebuild", src, "--data", data)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "expected 2 argument(s), got 1")
	code, _, _ = run("frob", src)
	assert.Equal(t, 2, code)
	code, _, _ = run()
	assert.Equal(t, 2, code)
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := newProgressBar(&out, "p", clock)
	b.update(0, 1000)
	now = now.Add(time.Second)
	b.update(250, 1000)
	now = now.Add(50 * time.Millisecond)
	b.update(260, 1000) // too soon: not drawn
	now = now.Add(time.Second)
	b.update(1000, 1000)
	b.finish()
	lines := strings.Split(out.String(), "\r")
	require.Len(t, lines, 5, "%q", out.String())
	assert.Equal(t, "rebuilding p [------------------------] 0/1000 events   0% 0 events/s ETA ?", lines[1])
	assert.Equal(t, "rebuilding p [######------------------] 250/1000 events  25% 250 events/s ETA 3.0s", lines[2])
	assert.Contains(t, lines[3], "1000/1000 events 100%")
	final := "rebuilt p: 1000 events in 2.0s (488 events/s)"
	assert.Equal(t, final+strings.Repeat(" ", len(lines[3])-len(final))+"\n", lines[4])
	assert.Equal(t, "1:01:05", durationText(time.Hour+65*time.Second))
	assert.Equal(t, "1.5M", rateText(1.5e6))
}
