package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/projections"
)

// projections reports on and rebuilds the projections of a stopped
// server's data directory (a running server offers the same through
// /projections):
//
//	cuesource projections status CONTEXT [--data DIR] [--json]
//	cuesource projections rebuild CONTEXT NAME [--data DIR]
//
// status changes nothing: a projection never built shows as "new", one
// whose definition changed as "stale" (the server rebuilds both when it
// starts). rebuild replays the whole log into the projection, with a
// progress line on stderr; interrupted (Ctrl-C), it leaves the projection
// rebuilding from where it got to, and the server finishes it.
func (c *command) projections(args []string) int {
	const use = "usage: cuesource projections status CONTEXT [--data DIR] [--json]\n" +
		"       cuesource projections rebuild CONTEXT NAME [--data DIR]\n"
	sub, code, ok := c.subcommand("projections", use, args, "status", "rebuild")
	if !ok {
		return code
	}
	positional := 1
	if sub == "rebuild" {
		positional = 2
	}
	fs := flag.NewFlagSet("projections "+sub, flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	asJSON := false
	if sub == "status" {
		fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
	}
	pos, ok := c.parse(fs, args[1:], positional)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "cuesource projections %s: %v\n", sub, err)
		return 1
	}
	if sub == "rebuild" {
		if _, ok := p.Projections[pos[1]]; !ok {
			names := make([]string, 0, len(p.Projections))
			for n := range p.Projections {
				names = append(names, n)
			}
			sort.Strings(names)
			have := "none"
			if len(names) > 0 {
				have = strings.Join(names, ", ")
			}
			return fail(fmt.Errorf("%s has no projection %q (it has %s)", p.Manifest.Name, pos[1], have))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := f.openExisting(ctx, p.Manifest.Name, sub == "rebuild")
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	r, err := projections.New(p, st, projections.Options{})
	if err != nil {
		return fail(err)
	}
	if sub == "status" {
		list, err := r.Status(ctx)
		if err != nil {
			return fail(err)
		}
		c.printProjections(list, asJSON)
		return 0
	}
	name := pos[1]
	bar := newProgressBar(c.stderr, name, time.Now)
	err = r.RebuildProgress(ctx, name, bar.update)
	var fe *projections.FailedError
	switch {
	case err == nil:
		bar.finish()
		return 0
	case errors.As(err, &fe):
		bar.stop()
		fmt.Fprintf(c.stderr, "cuesource projections rebuild: %v\n  fix the definition and rebuild, or skip the event: POST /projections/%s/skip on the running server\n", fe, name)
		return 1
	case ctx.Err() != nil:
		bar.stop()
		fmt.Fprintf(c.stderr, "cuesource projections rebuild: interrupted at position %d of %d; %s stays rebuilding and the server finishes it when it starts\n", bar.done, bar.total, name)
		return 1
	}
	bar.stop()
	return fail(err)
}

func (c *command) printProjections(list []cuesource.ProjectionStatus, asJSON bool) {
	if asJSON {
		if list == nil {
			list = []cuesource.ProjectionStatus{}
		}
		c.json(map[string]any{"projections": list})
		return
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "no projections")
		return
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tMODE\tSTATE\tPOSITION\tHEAD\tLAG\tHASH")
	for _, s := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Name, s.Mode, s.State, s.Position, s.Head, s.Lag, s.Hash)
	}
	w.Flush()
	for _, s := range list {
		if s.Error != "" {
			fmt.Fprintf(c.stdout, "%s failed at position %d: %s\n", s.Name, s.ErrorPosition, strings.Join(strings.Fields(s.Error), " "))
		}
	}
}

// progressBar draws a rebuild's progress on one line, rewritten with \r:
// the bar, events done of total, the rate and the time left.
type progressBar struct {
	w           io.Writer
	name        string
	now         func() time.Time
	start, last time.Time
	done, total int64
	width       int // of the last line drawn, to blank what is left of it
}

func newProgressBar(w io.Writer, name string, now func() time.Time) *progressBar {
	t := now()
	return &progressBar{w: w, name: name, now: now, start: t}
}

// update records progress; it redraws at most ten times a second (and at
// the end).
func (b *progressBar) update(done, total int64) {
	b.done, b.total = done, total
	t := b.now()
	if !b.last.IsZero() && t.Sub(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = t
	const cells = 24
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	filled := int(frac * cells)
	elapsed := t.Sub(b.start).Seconds()
	rate, eta := 0.0, "?"
	if elapsed > 0 && done > 0 {
		rate = float64(done) / elapsed
		eta = durationText(time.Duration(float64(total-done) / rate * float64(time.Second)))
	}
	b.draw(fmt.Sprintf("rebuilding %s [%s%s] %d/%d events %3.0f%% %s events/s ETA %s",
		b.name, strings.Repeat("#", filled), strings.Repeat("-", cells-filled), done, total, frac*100, rateText(rate), eta))
}

func (b *progressBar) draw(line string) {
	pad := max(b.width-len(line), 0)
	fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
	b.width = len(line)
}

// finish replaces the bar with the totals.
func (b *progressBar) finish() {
	elapsed := b.now().Sub(b.start)
	rate := ""
	if s := elapsed.Seconds(); s > 0 && b.done > 0 {
		rate = fmt.Sprintf(" (%s events/s)", rateText(float64(b.done)/s))
	}
	b.draw(fmt.Sprintf("rebuilt %s: %d events in %s%s", b.name, b.done, durationText(elapsed), rate))
	fmt.Fprintln(b.w)
}

// stop ends the bar's line as it is.
func (b *progressBar) stop() {
	if b.width > 0 {
		fmt.Fprintln(b.w)
	}
}

// rateText writes a rate with a k or M suffix.
func rateText(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

// durationText writes d to a tenth of a second, or as h:mm:ss beyond a minute.
func durationText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	s := int64(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
