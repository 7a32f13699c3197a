package cli_test

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cuesource/cuesource/cli"
)

// TestMain registers the cuesource command so scripts run it with
// `exec cuesource ...`: the test binary re-executes itself as the command,
// which runs the CLI in-process of that binary (and counts for coverage).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cuesource": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs every script in testdata/script. Set CUESOURCE_UPDATE=1
// to rewrite the goldens that `cmp` compares against from the actual output.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("CUESOURCE_UPDATE") != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}
