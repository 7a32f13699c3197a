package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/native"
)

// rehydrate rebuilds instance states from their events in a server's data
// directory (with the server stopped, or through the admin endpoint while it
// runs) and reports every instance whose stored state drifted.
func (c *command) rehydrate(args []string) int {
	fs := flag.NewFlagSet("rehydrate", flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	agg := fs.String("aggregate", "", "only this `aggregate` (with --id)")
	id := fs.String("id", "", "only this instance `id`")
	fix := fs.Bool("fix", false, "store the rebuilt state where it drifted")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if (*agg == "") != (*id == "") {
		fmt.Fprintln(c.stderr, "cuesource rehydrate: --aggregate and --id go together")
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	ctx := context.Background()
	st, err := f.openExisting(ctx, p.Manifest.Name, *fix)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource rehydrate:", err)
		return 1
	}
	defer st.Close()
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	type key struct{ agg, id string }
	var targets []key
	if *agg != "" {
		targets = []key{{*agg, *id}}
	} else {
		seen := map[key]bool{}
		for after := int64(0); ; {
			evs, err := st.ReadAll(ctx, after, 1000)
			if err != nil {
				fmt.Fprintln(c.stderr, "cuesource rehydrate:", err)
				return 1
			}
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				if k := (key{e.Aggregate, e.Instance}); !seen[k] {
					seen[k] = true
					targets = append(targets, k)
				}
			}
			after = evs[len(evs)-1].Position
		}
		sort.Slice(targets, func(i, j int) bool {
			if targets[i].agg != targets[j].agg {
				return targets[i].agg < targets[j].agg
			}
			return targets[i].id < targets[j].id
		})
	}
	var reports []*cuesource.Drift
	drifted, failed := 0, 0
	for _, t := range targets {
		d, err := b.Rehydrate(ctx, t.agg, t.id, *fix)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource rehydrate:", err)
			return 1
		}
		reports = append(reports, d)
		switch {
		case d.Error != "":
			failed++
			if !*asJSON {
				fmt.Fprintf(c.stdout, "FAIL\t%s %s: %s\n", d.Aggregate, d.ID, d.Error)
			}
		case d.Drifted:
			drifted++
			if !*asJSON {
				action := "drifted"
				if d.Fixed {
					action = "fixed"
				}
				from := ""
				if d.FromSnapshot > 0 {
					from = fmt.Sprintf(", rebuilt from the snapshot at version %d", d.FromSnapshot)
				}
				fmt.Fprintf(c.stdout, "%s\t%s %s (version %d%s)\n    stored:  %s\n    rebuilt: %s\n", action, d.Aggregate, d.ID, d.Version, from, d.Stored, d.Rebuilt)
			}
		}
	}
	if *asJSON {
		if reports == nil {
			reports = []*cuesource.Drift{}
		}
		c.json(map[string]any{"instances": len(reports), "drifted": drifted, "failed": failed, "reports": reports})
	} else {
		fmt.Fprintf(c.stdout, "%d instances, %d drifted, %d failed to replay\n", len(reports), drifted, failed)
	}
	if failed > 0 || (drifted > 0 && !*fix) {
		return 1
	}
	return 0
}
