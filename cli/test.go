package cli

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"time"

	"github.com/cuesource/cuesource/scenario"
)

func (c *command) test(args []string) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	run := fs.String("run", "", "run only scenarios whose name matches `REGEXP`")
	verbose := fs.Bool("v", false, "print every scenario, not only failures")
	asJSON := fs.Bool("json", false, "print results as JSON")
	target := scenario.Target{}
	fs.StringVar(&target.URL, "url", "", "play the scenarios over HTTP against the server at `URL` (native or Workers)")
	fs.StringVar(&target.Token, "token", env("CUESOURCE_TOKEN", ""), "bearer `token` for --url (CUESOURCE_TOKEN)")
	fs.StringVar(&target.AdminToken, "admin-token", env("CUESOURCE_ADMIN_TOKEN", ""), "admin `token` for --url, to seed given events and read projection rows (CUESOURCE_ADMIN_TOKEN)")
	fs.BoolVar(&target.KeepIDs, "keep-ids", false, "with --url, play each scenario on its instance id as written (no random suffix); the instances must not exist yet")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	var re *regexp.Regexp
	if *run != "" {
		var err error
		if re, err = regexp.Compile(*run); err != nil {
			fmt.Fprintf(c.stderr, "cuesource test: -run: %v\n", err)
			return 2
		}
	}
	p, ok := c.load(pos[0], *asJSON)
	if !ok {
		return 1
	}
	var results []scenario.Result
	failed := 0
	for _, s := range p.Manifest.Scenarios {
		if re != nil && !re.MatchString(s.Name) {
			continue
		}
		var r scenario.Result
		if target.URL != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			r = scenario.RunHTTP(ctx, target, s)
			cancel()
		} else {
			r = scenario.Run(p, s)
		}
		results = append(results, r)
		if !r.Pass {
			failed++
		}
		if *asJSON {
			continue
		}
		switch {
		case !r.Pass:
			fmt.Fprintf(c.stdout, "--- FAIL: %s (%s)\n", r.Name, r.Pos)
			for _, f := range r.Failures {
				fmt.Fprintf(c.stdout, "    %s\n", f)
			}
		case *verbose:
			fmt.Fprintf(c.stdout, "--- PASS: %s\n", r.Name)
		}
	}
	if *asJSON {
		if results == nil {
			results = []scenario.Result{}
		}
		c.json(map[string]any{"ok": failed == 0, "passed": len(results) - failed, "failed": failed, "scenarios": results})
	} else {
		status := "ok"
		if failed > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(c.stdout, "%s\t%s\t%s, %d passed, %d failed\n", status, manifestName(p.Manifest), plural(len(results), "scenario"), len(results)-failed, failed)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
