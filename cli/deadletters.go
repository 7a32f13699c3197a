package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/effect"
)

// deadletters lists, retries and discards the effect deliveries that gave
// up, in a stopped server's data directory (a running server offers the
// same through /admin/dead-letters):
//
//	cuesource deadletters list CONTEXT [--data DIR] [--json]
//	cuesource deadletters retry CONTEXT ID [--data DIR]
//	cuesource deadletters discard CONTEXT ID [--data DIR]
//
// A retried letter goes back to the outbox, due at once with no attempts
// counted: the server delivers it when it next runs.
func (c *command) deadletters(args []string) int {
	const use = "usage: cuesource deadletters list CONTEXT [--data DIR] [--json]\n" +
		"       cuesource deadletters retry CONTEXT ID [--data DIR]\n" +
		"       cuesource deadletters discard CONTEXT ID [--data DIR]\n"
	sub, code, ok := c.subcommand("deadletters", use, args, "list", "retry", "discard")
	if !ok {
		return code
	}
	positional := 2
	if sub == "list" {
		positional = 1
	}
	fs := flag.NewFlagSet("deadletters "+sub, flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	asJSON := false
	if sub == "list" {
		fs.BoolVar(&asJSON, "json", false, "print the list as JSON")
	}
	pos, ok := c.parse(fs, args[1:], positional)
	if !ok {
		return 2
	}
	var id int64
	if sub != "list" {
		n, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil || n <= 0 {
			fmt.Fprintf(c.stderr, "cuesource deadletters %s: ID is a dead letter's number (see deadletters list), not %q\n", sub, pos[1])
			return 2
		}
		id = n
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "cuesource deadletters %s: %v\n", sub, err)
		return 1
	}
	ctx := context.Background()
	st, err := f.openExisting(ctx, p.Manifest.Name, sub != "list")
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	dl, err := effect.NewDeadLetters(ctx, st, time.Now)
	if err != nil {
		return fail(err)
	}
	switch sub {
	case "retry":
		err = dl.Retry(ctx, id)
	case "discard":
		err = dl.Discard(ctx, id)
	default:
		list, err := dl.List(ctx)
		if err != nil {
			return fail(err)
		}
		c.printDeadLetters(list, asJSON)
		return 0
	}
	if errors.Is(err, cuesource.ErrUnknown) {
		return fail(fmt.Errorf("no dead letter %d", id))
	}
	if err != nil {
		return fail(err)
	}
	if sub == "retry" {
		fmt.Fprintf(c.stdout, "dead letter %d is back in the outbox; the server delivers it when it runs\n", id)
	} else {
		fmt.Fprintf(c.stdout, "dead letter %d discarded\n", id)
	}
	return 0
}

func (c *command) printDeadLetters(list []cuesource.DeadLetter, asJSON bool) {
	if asJSON {
		if list == nil {
			list = []cuesource.DeadLetter{}
		}
		c.json(map[string]any{"deadLetters": list})
		return
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "no dead letters")
		return
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEFFECT\tEVENT\tATTEMPTS\tTIME\tERROR")
	for _, d := range list {
		msg := strings.Join(strings.Fields(d.Error), " ")
		if len(d.Rejection) > 0 {
			msg += " rejection=" + string(d.Rejection)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Effect, d.EventID, d.Attempts, d.Time.UTC().Format(time.RFC3339), msg)
	}
	w.Flush()
	fmt.Fprintf(c.stdout, "%d dead letter(s); retry one with: cuesource deadletters retry CONTEXT ID\n", len(list))
}
