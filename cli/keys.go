package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
)

// keys reports on and rebuilds the unique keys of a stopped server's data
// directory:
//
//	cuesource keys status CONTEXT [--data DIR] [--json]
//	cuesource keys rebuild CONTEXT [--aggregate A] [--data DIR] [--json]
//
// status changes nothing: for each aggregate with unique constraints,
// whether its keys were built for the constraints the context declares
// now (a server rebuilds them when it starts if not) and the conflicts
// the last rebuild found. rebuild recomputes them from the log whatever
// their status, and reports the keys held and the conflicts; it exits 1
// when there are conflicts.
func (c *command) keys(args []string) int {
	const use = "usage: cuesource keys status CONTEXT [--data DIR] [--json]\n" +
		"       cuesource keys rebuild CONTEXT [--aggregate A] [--data DIR] [--json]\n"
	sub, code, ok := c.subcommand("keys", use, args, "status", "rebuild")
	if !ok {
		return code
	}
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	only := fs.String("aggregate", "", "only this `aggregate`")
	pos, ok := c.parse(fs, args[1:], 1)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "cuesource keys %s: %v\n", sub, err)
		return 1
	}
	var names []string
	for name, a := range p.Aggregates {
		if (*only == "" && len(a.Unique) > 0) || name == *only {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if *only != "" && len(names) == 0 {
		return fail(fmt.Errorf("%s has no aggregate %q", p.Manifest.Name, *only))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := f.openExisting(ctx, p.Manifest.Name, sub == "rebuild")
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	type report struct {
		Aggregate string              `json:"aggregate"`
		Current   bool                `json:"current"` // built for the constraints declared now
		Held      *int                `json:"held,omitempty"`
		Conflicts []store.KeyConflict `json:"conflicts"`
	}
	var reports []report
	conflicts := 0
	for _, name := range names {
		r := report{Aggregate: name, Conflicts: []store.KeyConflict{}}
		if sub == "rebuild" {
			rb, err := native.RebuildKeys(ctx, p, st, name)
			if err != nil {
				return fail(err)
			}
			n := len(rb.Holds)
			r.Current, r.Held = true, &n
			if rb.Conflicts != nil {
				r.Conflicts = rb.Conflicts
			}
		} else {
			ks, err := st.KeyStatus(ctx, name)
			if err != nil {
				return fail(err)
			}
			r.Current = ks.Hash == interpreter.UniqueHash(p.Manifest.Aggregates[name])
			if ks.Conflicts != nil {
				r.Conflicts = ks.Conflicts
			}
		}
		conflicts += len(r.Conflicts)
		reports = append(reports, r)
	}
	if *asJSON {
		if reports == nil {
			reports = []report{}
		}
		c.json(map[string]any{"aggregates": reports, "conflicts": conflicts})
	} else {
		if len(reports) == 0 {
			fmt.Fprintln(c.stdout, "no unique constraints")
		}
		for _, r := range reports {
			state := "current"
			if !r.Current {
				state = "stale (rebuilt when the server starts)"
			}
			if r.Held != nil {
				state = fmt.Sprintf("rebuilt, %d key(s) held", *r.Held)
			}
			fmt.Fprintf(c.stdout, "%s\t%s, %d conflict(s)\n", r.Aggregate, state, len(r.Conflicts))
			for _, k := range r.Conflicts {
				fmt.Fprintf(c.stdout, "    %s\n", conflictLine(k))
			}
		}
	}
	if sub == "rebuild" && conflicts > 0 {
		return 1
	}
	return 0
}

func conflictLine(k store.KeyConflict) string {
	if k.Holder == "" {
		return fmt.Sprintf("%s: the event at position %d of %s claims no valid key %q", k.Constraint, k.Position, k.Instance, k.Key)
	}
	return fmt.Sprintf("%s: key %q stays with %s; the claim of %s at position %d is ignored", k.Constraint, k.Key, k.Holder, k.Instance, k.Position)
}

// logRebuilds logs the key rebuilds a start or a swap ran.
func logRebuilds(log *slog.Logger, rebuilt []*cuesource.KeyRebuild) {
	for _, rb := range rebuilt {
		log.Info("unique keys rebuilt from the log", slog.String("aggregate", rb.Aggregate),
			slog.Int("held", len(rb.Holds)), slog.Int("conflicts", len(rb.Conflicts)), slog.Int64("through", rb.Through))
		for _, k := range rb.Conflicts {
			log.Warn("unique key conflict in the log", slog.String("aggregate", rb.Aggregate), slog.String("conflict", conflictLine(k)))
		}
	}
}
