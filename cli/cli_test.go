package cli_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cuesource/cuesource/cli"
)

// TestMain registers the cuesource command: testscript puts a copy of the
// test binary on $PATH under that name, so scripts run the real CLI with
// `exec cuesource ...`.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cuesource": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs every script in testdata/script. Set CUESOURCE_UPDATE=1
// to rewrite the files that `cmp` compares against from the actual output,
// then review the diff.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("CUESOURCE_UPDATE") != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exitcode": exitCode,
		},
	})
}

// exitCode implements `exitcode N PROGRAM [ARGS...]`: it runs PROGRAM like
// exec, keeping its stdout and stderr for the next commands, and fails
// unless the exit status is N. Scripts use it where 1 (the context or the
// command failed) and 2 (the command line was wrong) must be told apart.
func exitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
