package native_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/interpreter"
)

// exampleWithRename is the example context with one more cart command.
func exampleWithRename(t *testing.T) *interpreter.Program {
	t.Helper()
	src, err := os.ReadFile("../contexts/example.cue")
	require.NoError(t, err)
	edited := bytes.Replace(src, []byte("\t\t\tCheckOut: {"), []byte("\t\t\tRename: {\n\t\t\t\t#payload: customer: string\n\t\t\t\temit: [{event: \"CartOpened\", payload: customer: \"cmd.customer\"}]\n\t\t\t}\n\t\t\tCheckOut: {"), 1)
	require.NotEqual(t, src, edited)
	path := filepath.Join(t.TempDir(), "example.cue")
	require.NoError(t, os.WriteFile(path, edited, 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

// TestSetProgram swaps the program under a stream of commands: none
// fails, none commits while the swap runs, a failed swap keeps the old
// program, and the new one decides the commands after it.
func TestSetProgram(t *testing.T) {
	st := openSQLite(t)
	b := newBackend(t, st)
	next := exampleWithRename(t)
	execute(t, b, command("cart", "c1", "Open", `{"customer":"ada"}`), 201)

	var failed atomic.Value
	calling := make(chan struct{}, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			select {
			case calling <- struct{}{}:
			default:
			}
			req := command("cart", fmt.Sprintf("load%d", i), "Open", `{"customer":"ada"}`)
			a, err := b.Execute(t.Context(), req)
			if r := api.Answer(a, "cart", req.ID); err != nil || r.Status != 201 {
				failed.CompareAndSwap(nil, fmt.Sprintf("%v %d %s", err, r.Status, r.Body))
			}
		}
	}()

	head := func() int {
		evs, err := st.ReadAll(t.Context(), 0, 100000)
		require.NoError(t, err)
		return len(evs)
	}
	execute(t, b, command("cart", "c1", "Rename", `{"customer":"bob"}`), 404)
	require.Error(t, b.SetProgram(next, func() error { return errors.New("no") }))
	require.Same(t, example(t), b.Program(), "a failed swap keeps the old program")

	<-calling // the writer is about to run a command
	require.NoError(t, b.SetProgram(next, func() error {
		before := head()
		for range 100 {
			runtime.Gosched() // give a write the chance it must not get
		}
		require.Equal(t, before, head(), "a command committed during the swap")
		return nil
	}))
	require.Same(t, next, b.Program())
	d := execute(t, b, command("cart", "c1", "Rename", `{"customer":"bob"}`), 200)
	require.Equal(t, "bob", d.State["customer"])
	<-calling
	close(stop)
	<-done
	require.Nil(t, failed.Load(), "a command failed across the swap")
}
