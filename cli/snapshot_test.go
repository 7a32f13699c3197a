package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// The archiver of serve --watch snapshots under the definition serving
// when it prunes, not the one it started with: a state is stored under
// the hash of the definition that folded it.
func TestSnapshotBeforeFollowsTheProgram(t *testing.T) {
	src, err := os.ReadFile("../testdata/snapshots/counter.cue")
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, s string) *interpreter.Program {
		path := filepath.Join(dir, name, "counter.cue")
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
		p, err := compileProgram(path)
		require.NoError(t, err)
		return p
	}
	before := write("before", string(src))
	edited := strings.Replace(string(src), `count: "state.count + 1"`, `count: "state.count + 2"`, 1)
	require.NotEqual(t, string(src), edited)
	after := write("after", edited)
	require.NotEqual(t, before.Aggregates["counter"].Hash, after.Aggregates["counter"].Hash)

	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "db"), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Append(t.Context(), store.Commit{Aggregate: "counter", Instance: "c1", State: json.RawMessage(`{"n":1,"last":1,"count":1}`),
		Events: []store.Event{{ID: "e1", Type: "Added", Time: time.Now(), CommandID: "k1", Payload: json.RawMessage(`{"by":1}`)}}})
	require.NoError(t, err)

	cur := before
	snapshot := snapshotBefore(func() *interpreter.Program { return cur }, st)
	cur = after // a save swapped the program
	require.NoError(t, snapshot(t.Context(), "counter", "c1", 1))
	_, ok, err := st.Snapshot(t.Context(), "counter", "c1", after.Aggregates["counter"].Hash)
	require.NoError(t, err)
	require.True(t, ok, "a snapshot under the serving definition's hash")
	_, ok, err = st.Snapshot(t.Context(), "counter", "c1", before.Aggregates["counter"].Hash)
	require.NoError(t, err)
	require.False(t, ok, "none under the starting one's")
}
