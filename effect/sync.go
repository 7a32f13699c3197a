package effect

import (
	"context"
	"log/slog"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/internal/effect/rules"
	"github.com/cuesource/cuesource/store"
)

// Report is the outcome of one sync effect, as a command's response gives
// it in its "effects" member.
type Report = rules.Report

// pair names one outbox row: an event and an effect.
type pair struct{ event, effect string }

// AfterCommit is the backend's after-commit hook (native.Backend's
// SetAfterCommit). It wakes the loop when the committed events owe async
// deliveries, and delivers the sync ones before the response, within ctx:
// a delivered row is deleted, a failed one stays for the loop with its
// attempt counted. Their outcomes are added to the response body as
// "effects": [{effect, eventId, ok, error}]; the command stays committed
// and its answer stays what it was otherwise.
func (d *Dispatcher) AfterCommit(ctx context.Context, committed []store.Event, a cuesource.Answer) cuesource.Answer {
	var want []pair
	async := false
	prog := d.prog.Load()
	for _, e := range committed {
		for _, name := range prog.EffectsOn(e.Aggregate, e.Type) {
			switch prog.Effects[name].Delivery {
			case "sync":
				want = append(want, pair{e.ID, name})
			case "async":
				async = true
			}
		}
	}
	if async {
		d.Kick()
	}
	if len(want) == 0 {
		return a
	}
	reports := d.deliverSync(ctx, want)
	if len(reports) == 0 {
		return a
	}
	if body, ok := rules.AppendEffects(a.Body, reports); ok {
		a.Body = body
	}
	return a
}

// deliverSync delivers the rows of want now, or waits for this process's
// loop when it is already delivering one, and reports each.
func (d *Dispatcher) deliverSync(ctx context.Context, want []pair) []Report {
	wanted := make(map[pair]bool, len(want))
	var ids []string
	seen := map[string]bool{}
	for _, p := range want {
		wanted[p] = true
		if !seen[p.event] {
			seen[p.event] = true
			ids = append(ids, p.event)
		}
	}
	var (
		mine    []*row
		waiting = map[pair]*flight{}
		found   = map[pair]bool{}
	)
	_, err := d.st.Claim(ctx, store.Claim{Now: d.now(), Events: ids}, func(rows []row) []time.Duration {
		skip := make([]bool, len(rows))
		d.mu.Lock()
		for i := range rows {
			r := &rows[i]
			p := pair{r.Event.ID, r.Consumer}
			if !wanted[p] || found[p] {
				skip[i] = true
				continue
			}
			found[p] = true
			if f := d.flights[r.Seq]; f != nil {
				waiting[p] = f
				skip[i] = true
			}
		}
		d.mu.Unlock()
		var leases []time.Duration
		mine, leases = d.lease(rows, skip)
		return leases
	})
	if err != nil {
		d.land(mine)
		d.log.Error("effects: claiming sync deliveries", slog.String("error", err.Error()))
		out := make([]Report, 0, len(want))
		for _, p := range want {
			out = append(out, Report{Effect: p.effect, EventID: p.event, Error: "not delivered (" + err.Error() + "); it will be retried"})
		}
		return out
	}
	outs := make([]rules.Outcome, len(mine))
	for i, r := range mine {
		if ctx.Err() != nil {
			outs[i] = rules.Outcome{Kind: rules.Release}
			continue
		}
		outs[i] = d.deliver(ctx, r)
	}
	if len(mine) > 0 {
		d.record(ctx, mine, outs) // settles outs in place
	}
	byPair := make(map[pair]rules.Outcome, len(want))
	for i, r := range mine {
		byPair[pair{r.Event.ID, r.Consumer}] = outs[i]
	}
	for p, f := range waiting {
		select {
		case <-f.done:
			byPair[p] = f.out
		case <-ctx.Done():
			byPair[p] = rules.Outcome{Kind: rules.Release}
		}
	}
	reports := make([]Report, 0, len(want))
	for _, p := range want {
		out, ok := byPair[p]
		switch {
		case !ok && found[p]:
			continue // not reached: every found row is mine or waited for
		case !ok:
			// Gone from the outbox before it could be claimed: the loop
			// delivered it, or gave up on it.
			out = rules.Outcome{Kind: rules.Done}
			if msg, dead := d.deadLetterError(ctx, p); dead {
				out = rules.Outcome{Kind: rules.Dead, Err: rules.Public(msg)}
			}
		}
		if rep, ok := rules.ReportOf(p.effect, p.event, out); ok {
			reports = append(reports, rep)
		}
	}
	return reports
}

// deadLetterError returns the error of the latest dead letter of p.
func (d *Dispatcher) deadLetterError(ctx context.Context, p pair) (string, bool) {
	dl, ok, err := d.st.LastDeadLetter(ctx, p.event, p.effect)
	if err != nil || !ok {
		return "", false
	}
	return dl.Error, true
}
