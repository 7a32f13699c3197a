package cli_test

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestREADMETutorial keeps the README's tutorial true: its first listing is
// the tutorial's step 1, every output it shows is one the tutorial script
// checks (and so is its lens check output), and
// contexts/tickets/tickets.cue is the tutorial's final file.
func TestREADMETutorial(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ar, err := txtar.ParseFile("testdata/script/tutorial.txtar")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	for _, name := range []string{"step1.cue", "want-step2.txt", "want-failing.txt", "want-test.txt", "want-run1.txt", "want-run2.txt"} {
		if !strings.Contains(string(readme), files[name]) {
			t.Errorf("README.md does not show %s of testdata/script/tutorial.txtar verbatim:\n%s", name, files[name])
		}
	}
	lens, err := txtar.ParseFile("testdata/script/lens_check.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range lens.Files {
		if f.Name == "bad.txt" && !strings.Contains(string(readme), "$ cuesource lens check ctx.cue --events bad.ndjson\n"+string(f.Data)) {
			t.Errorf("README.md does not show the output of lens check in testdata/script/lens_check.txtar verbatim:\n%s", f.Data)
		}
	}
	final, err := os.ReadFile("../contexts/tickets/tickets.cue")
	if err != nil {
		t.Fatal(err)
	}
	if string(final) != files["final.cue"] {
		t.Errorf("contexts/tickets/tickets.cue differs from final.cue in testdata/script/tutorial.txtar")
	}
}
