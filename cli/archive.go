package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/archive/remote"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// archiveCmd runs one archive pass, verifies the archive, or restores a
// range of it into a fresh store (a running server archives by itself
// with --archive). Verify and restore read a stopped server's store and
// its archive, or a running server's or Worker's through its admin
// routes (--url): they do the work on this machine either way.
//
//	cuesource archive run CONTEXT --archive DIR [--data DIR]
//	cuesource archive verify CONTEXT (--archive DIR [--data DIR] | --url URL [--admin-token T]) [--json]
//	cuesource archive restore CONTEXT (--archive DIR [--data DIR] | --url URL [--admin-token T]) --into DIR [--from P] [--to P]
func (c *command) archiveCmd(args []string) int {
	const use = "usage: cuesource archive run CONTEXT --archive DIR [--data DIR]\n" +
		"       cuesource archive verify CONTEXT (--archive DIR [--data DIR] | --url URL [--admin-token T]) [--json]\n" +
		"       cuesource archive restore CONTEXT (--archive DIR [--data DIR] | --url URL [--admin-token T]) --into DIR [--from P] [--to P]\n"
	sub, code, ok := c.subcommand("archive", use, args, "run", "verify", "restore")
	if !ok {
		return code
	}
	fs := flag.NewFlagSet("archive "+sub, flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	into := fs.String("into", "", "restore: the data `directory` of the fresh store to write")
	from := fs.Int64("from", 1, "restore: the first `position` to restore")
	to := fs.Int64("to", 0, "restore: the last `position` to restore (0: the archive's last)")
	remoteURL := fs.String("url", "", "verify, restore: read the archive of the server or Worker at `URL` through its admin routes (needs --admin-token), instead of --archive and --data")
	pos, ok := c.parse(fs, args[1:], 1)
	if !ok {
		return 2
	}
	rc, ok := c.remote("archive "+sub, fs, *remoteURL, f.adminToken)
	if !ok {
		return 2
	}
	if rc != nil && sub == "run" {
		fmt.Fprintln(c.stderr, "cuesource archive run: --url: a running server archives by itself (serve --archive); run works on a stopped server's store")
		return 2
	}
	if rc == nil && f.archive == "" {
		fmt.Fprintf(c.stderr, "cuesource archive %s: --archive DIR (or s3://bucket/prefix) is required, or --url of a running server\n", sub)
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	ctx := context.Background()
	var target archive.Target
	var idx archive.Index
	if rc != nil {
		target, idx = remote.Target{C: rc}, remote.Index{C: rc}
	} else {
		st, err := f.openExisting(ctx, p.Manifest.Name, sub == "run")
		if err != nil {
			fmt.Fprintf(c.stderr, "cuesource archive %s: %v\n", sub, err)
			return 1
		}
		defer st.Close()
		target, idx = f.target(), st
		if sub == "run" {
			return c.archiveRun(ctx, p, st, target, *asJSON)
		}
	}
	if sub == "verify" {
		return c.verify(ctx, target, idx, *asJSON)
	}
	return c.restore(ctx, p, idx, target, f, *into, *from, *to)
}

// remote is the client of --url, checked against the flags it excludes
// (nil without --url); ok=false: a usage error, reported.
func (c *command) remote(name string, fs *flag.FlagSet, rawURL, adminToken string) (*remote.Client, bool) {
	var local []string
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "archive" || fl.Name == "data" {
			local = append(local, "--"+fl.Name)
		}
	})
	if rawURL == "" {
		return nil, true
	}
	u, err := url.Parse(rawURL)
	switch {
	case len(local) > 0:
		fmt.Fprintf(c.stderr, "cuesource %s: --url reads a running server; %s reads a stopped one's files: give one or the other\n", name, strings.Join(local, " and "))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		fmt.Fprintf(c.stderr, "cuesource %s: --url %q is not an http(s):// URL\n", name, rawURL)
	case adminToken == "":
		fmt.Fprintf(c.stderr, "cuesource %s: --url needs the server's admin token: --admin-token T or CUESOURCE_ADMIN_TOKEN\n", name)
	default:
		return remote.New(rawURL, adminToken), true
	}
	return nil, false
}

// archiveRun runs archive steps until nothing is left to do.
func (c *command) archiveRun(ctx context.Context, p *interpreter.Program, st *sqlite.Store, target archive.Target, asJSON bool) int {
	defined(p, st)
	if !policies(p).Active() {
		fmt.Fprintln(c.stderr, "cuesource archive run: the context declares no retention: every event stays hot")
		return 0
	}
	program := func() *interpreter.Program { return p }
	rep, err := archive.New(st, target, policies(p), archive.Options{Snapshots: snapshotsOf(program, st), Snapshot: snapshotBefore(program, st)}).Run(ctx)
	if asJSON {
		c.json(map[string]any{"archived": rep.Archived, "segments": rep.Segments, "pruned": rep.Pruned})
	} else {
		fmt.Fprintf(c.stdout, "archived %d events in %d segments, pruned %d from the hot store\n", rep.Archived, rep.Segments, rep.Pruned)
	}
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource archive run:", err)
		return 1
	}
	return 0
}

// verify checks every segment idx names against target, and lists what
// is wrong: 1 when a segment is bad (a leftover is not).
func (c *command) verify(ctx context.Context, target archive.Target, idx archive.Index, asJSON bool) int {
	n, problems, err := archive.Verify(ctx, target, idx)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource archive verify:", err)
		return 1
	}
	bad := 0
	for _, pr := range problems {
		if !pr.Leftover {
			bad++
		}
	}
	if asJSON {
		if problems == nil {
			problems = []archive.Problem{}
		}
		c.json(map[string]any{"segments": n, "ok": bad == 0, "problems": problems})
	} else {
		for _, pr := range problems {
			fmt.Fprintln(c.stdout, pr.String())
		}
		fmt.Fprintf(c.stdout, "%d segments checked, %d bad\n", n, bad)
	}
	if bad > 0 {
		return 1
	}
	return 0
}

// restore reads positions from..to from the archive (each segment
// checked) into a fresh store in the data directory into. An instance
// whose whole history is in the range gets its state rebuilt; one whose
// earlier events are outside it keeps no state.
func (c *command) restore(ctx context.Context, p *interpreter.Program, idx archive.Index, target archive.Target, f serverFlags, into string, from, to int64) int {
	if into == "" {
		fmt.Fprintln(c.stderr, "cuesource archive restore: --into DIR is required (a data directory without this context's database)")
		return 2
	}
	path := filepath.Join(into, p.Manifest.Name+".db")
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(c.stderr, "cuesource archive restore: %s exists: restore writes a fresh store only\n", path)
		return 1
	}
	if from < 1 || (to != 0 && to < from) {
		fmt.Fprintf(c.stderr, "cuesource archive restore: --from %d --to %d is not a range of positions\n", from, to)
		return 2
	}
	r := archive.NewReader(target, idx)
	var evs []store.Event
	for after := from - 1; to == 0 || after < to; {
		page, err := r.ReadAll(ctx, after, 1000)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource archive restore:", err)
			return 1
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if to != 0 && e.Position > to {
				break
			}
			evs = append(evs, e)
		}
		after = page[len(page)-1].Position
	}
	if len(evs) == 0 {
		fmt.Fprintf(c.stderr, "cuesource archive restore: the archive holds no event from position %d\n", from)
		return 1
	}
	byInstance := map[[2]string][]store.Event{}
	for _, e := range evs {
		k := [2]string{e.Aggregate, e.Instance}
		byInstance[k] = append(byInstance[k], e)
	}
	states := map[[2]string]json.RawMessage{}
	partial := 0
	for k, his := range byInstance {
		if his[0].Version != 1 {
			partial++
			continue
		}
		d := cuesource.Compare(p, store.Instance{Aggregate: k[0], ID: k[1]}, his)
		if d.Error != "" {
			fmt.Fprintf(c.stderr, "cuesource archive restore: %s/%s: %s\n", k[0], k[1], d.Error)
			return 1
		}
		states[k] = d.Rebuilt
	}
	g := f
	g.data, g.archive = into, ""
	out, _, err := g.openStore(ctx, p.Manifest.Name, true)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource archive restore:", err)
		return 1
	}
	defer out.Close()
	if err := out.Import(ctx, evs, states); err != nil {
		fmt.Fprintln(c.stderr, "cuesource archive restore:", err)
		return 1
	}
	fmt.Fprintf(c.stdout, "restored positions %d-%d (%d events, %d instances, %d without their earlier history) into %s\n",
		evs[0].Position, evs[len(evs)-1].Position, len(evs), len(byInstance), partial, path)
	return 0
}

// storage shows a context's storage: the hot log against its budget,
// the archive's segments and what each policy would let go next, of a
// stopped server's files or of a running server or Worker (--url: GET
// /admin/storage).
//
//	cuesource storage status CONTEXT [--data DIR] [--archive DIR | --url URL [--admin-token T]] [--json]
func (c *command) storage(args []string) int {
	const use = "usage: cuesource storage status CONTEXT [--data DIR] [--archive DIR | --url URL [--admin-token T]] [--json]\n"
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprint(c.stderr, use)
		return 2
	}
	fs := flag.NewFlagSet("storage status", flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON (as GET /admin/storage)")
	remoteURL := fs.String("url", "", "read the status of the server or Worker at `URL` (GET /admin/storage, needs --admin-token) instead of --data and --archive")
	pos, ok := c.parse(fs, args[1:], 1)
	if !ok {
		return 2
	}
	rc, ok := c.remote("storage status", fs, *remoteURL, f.adminToken)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	ctx := context.Background()
	var s archive.Status
	var err error
	if rc != nil {
		s, err = rc.Storage(ctx)
	} else {
		var st *sqlite.Store
		if st, err = f.openExisting(ctx, p.Manifest.Name, false); err == nil {
			defer st.Close()
			defined(p, st)
			s, err = archive.StatusOf(ctx, st, f.target(), policies(p), snapshotsOf(func() *interpreter.Program { return p }, st), time.Now())
		}
	}
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource storage status:", err)
		return 1
	}
	if *asJSON {
		c.json(s)
		return 0
	}
	c.printStatus(s)
	return 0
}

func (c *command) printStatus(s archive.Status) {
	budget := "no budget"
	if s.Budget > 0 {
		budget = fmt.Sprintf("budget %d bytes (%.0f%%)", s.Budget, 100*float64(s.HotBytes)/float64(s.Budget))
	}
	fmt.Fprintf(c.stdout, "hot log: %d bytes, %s; head position %d\n", s.HotBytes, budget, s.Head)
	fmt.Fprintf(c.stdout, "archive: %d segments, %d bytes, positions up to %d", s.SegmentCount, s.ArchivedBytes, s.Archived)
	if s.From != nil {
		fmt.Fprintf(c.stdout, ", %s to %s", s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
	}
	fmt.Fprintln(c.stdout)
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if len(s.Segments) > 0 {
		fmt.Fprintln(w, "SEGMENT\tPOSITIONS\tEVENTS\tHOT\tBYTES\tFROM\tTO")
		for _, g := range s.Segments {
			fmt.Fprintf(w, "%s\t%d-%d\t%d\t%d\t%d\t%s\t%s\n", g.Name, g.First, g.Last, g.Count, g.Hot, g.Bytes, g.FirstTime.Format(time.RFC3339), g.LastTime.Format(time.RFC3339))
		}
	}
	if len(s.Next) == 0 {
		fmt.Fprintln(w, "next: nothing to let go")
	}
	for _, n := range s.Next {
		state := "to archive first"
		if n.Archived {
			state = "archived"
		}
		fmt.Fprintf(w, "next by %s:\t%d events\t%d bytes\tpositions %d-%d\t%s\n", n.Policy, n.Events, n.Bytes, n.From, n.To, state)
	}
	_ = w.Flush()
}

// policies are the context's retention policies; the context compiled,
// so they hold (compiler.Compile checked them with their positions).
func policies(p *interpreter.Program) retention.Policies {
	ps, _ := retention.Of(p.Manifest)
	return ps
}

// defined tells st which projections the context defines, so that only
// their checkpoints hold pruning back.
func defined(p *interpreter.Program, st *sqlite.Store) {
	names := []string{}
	for name := range p.Projections {
		names = append(names, name)
	}
	st.SetProjections(names)
}
