package cli

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cuesource/cuesource/internal/lens/check"
	"github.com/cuesource/cuesource/store"
)

func (c *command) lens(args []string) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(c.stderr, "cuesource lens: check\n\n", usage)
		return 2
	}
	return c.lensCheck(args[1:])
}

// lensCheck replays a stored log (an export, or a server's or Worker's
// GET /events) through the context's lenses, reducers and projections,
// writing nothing, and lists every event it cannot read: the check to run
// in CI before deploying a new definition over old events.
func (c *command) lensCheck(args []string) int {
	fs := flag.NewFlagSet("lens check", flag.ContinueOnError)
	events := fs.String("events", "", "read the stored log from `FILE` (NDJSON, as `cuesource export` writes it; - for standard input)")
	from := fs.String("from", "", "read the stored log from the server or Worker at `URL` (GET /events?raw=true)")
	token := fs.String("token", env("CUESOURCE_TOKEN", ""), "bearer `token` for --from (CUESOURCE_TOKEN)")
	asJSON := fs.Bool("json", false, "write the failures and the summary as JSON")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if (*events == "") == (*from == "") {
		fmt.Fprintf(c.stderr, "cuesource lens check: give one of --events FILE and --from URL\n\n%s", usage)
		return 2
	}
	p, ok := c.load(pos[0], *asJSON)
	if !ok {
		return 1
	}
	ck := check.New(p)
	var err error
	if *from != "" {
		err = checkPages(ck, httpPages(*from, *token))
	} else {
		err = c.checkFile(ck, *events)
	}
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource lens check:", err)
		return 1
	}
	if *asJSON {
		failures := ck.Failures
		if failures == nil {
			failures = []check.Failure{}
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"events": ck.Events, "instances": ck.Instances(), "failures": failures})
	} else {
		for _, f := range ck.Failures {
			fmt.Fprintln(c.stdout, f)
		}
		fmt.Fprintf(c.stdout, "%d event(s) of %d instance(s) read, %d failed\n", ck.Events, ck.Instances(), len(ck.Failures))
	}
	if len(ck.Failures) > 0 {
		return 1
	}
	return 0
}

func (c *command) checkFile(ck *check.Checker, name string) error {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<30)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := checkLine(ck, sc.Bytes()); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	return sc.Err()
}

func checkPages(ck *check.Checker, page func(after int64) ([]json.RawMessage, int64, error)) error {
	for after := int64(0); ; {
		lines, next, err := page(after)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			return nil
		}
		for _, l := range lines {
			if err := checkLine(ck, l); err != nil {
				return err
			}
		}
		after = next
	}
}

// checkLine reads one stored event; a line that is not one stops the
// check, since what follows cannot be trusted to be the log.
func checkLine(ck *check.Checker, b []byte) error {
	var e store.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("not a stored event: %w", err)
	}
	if e.Aggregate == "" || e.Type == "" {
		return fmt.Errorf("not a stored event: no aggregate or type")
	}
	ck.Check(e)
	return nil
}
