package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
	"github.com/cuesource/cuesource/value"
)

// instance is one instance a scenario's given events happened to.
type instance struct {
	aggregate, id string
	own           bool  // the scenario's own instance
	given         []int // its events, as indexes into the scenario's given
}

// instances groups a scenario's given events by the instance they
// happened to, in the order each instance first appears. Each instance's
// events are seeded together (seeding needs a new instance), so the log
// holds them instance by instance.
func instances(s *manifest.Scenario) []*instance {
	var out []*instance
	for i, g := range s.Given {
		agg, id := of(s, g)
		k := slices.IndexFunc(out, func(in *instance) bool { return in.aggregate == agg && in.id == id })
		if k < 0 {
			out = append(out, &instance{aggregate: agg, id: id, own: agg == s.Aggregate && id == s.ID})
			k = len(out) - 1
		}
		out[k].given = append(out[k].given, i)
	}
	return out
}

// of is the instance a given event happened to: the scenario's own unless
// it names another aggregate or id.
func of(s *manifest.Scenario, g manifest.GivenItem) (aggregate, id string) {
	aggregate, id = s.Aggregate, s.ID
	if g.Aggregate != "" {
		aggregate = g.Aggregate
	}
	if g.ID != "" {
		id = g.ID
	}
	return aggregate, id
}

// readsSide reports whether a scenario expects anything of the read side.
func readsSide(s *manifest.Scenario) bool {
	return len(s.Then.Queries) > 0 || len(s.Then.Projections) > 0
}

// seedRequest is the seed of one instance's given events; times are the
// given events' times (nil: the runtime's clock).
func seedRequest(s *manifest.Scenario, in *instance, id string, times []*time.Time) *cuesource.SeedRequest {
	req := &cuesource.SeedRequest{Aggregate: in.aggregate, ID: id}
	for _, i := range in.given {
		g := s.Given[i]
		req.Events = append(req.Events, cuesource.SeedEvent{Event: g.Event, Version: g.Version, Payload: g.Payload, At: times[i]})
	}
	return req
}

// givenTimes are the times of a scenario's given events: each its own
// at, or the one before's; start for those before the first at.
func givenTimes(s *manifest.Scenario, start *time.Time) []*time.Time {
	out := make([]*time.Time, len(s.Given))
	now := start
	for i, g := range s.Given {
		if g.At != nil {
			now = g.At
		}
		out[i] = now
	}
	return out
}

// checkOthers checks the given events of the instances other than the
// scenario's own as seeding would: each fits its event's definition and
// the events fold.
func (r *Result) checkOthers(p *interpreter.Program, s *manifest.Scenario) bool {
	times := givenTimes(s, &Clock)
	for n, in := range instances(s) {
		if in.own {
			continue
		}
		req := seedRequest(s, in, in.id, times)
		req.CommandID, req.Time = fmt.Sprintf("given-%d", n+1), Clock
		if d := cuesource.DecideSeed(p, store.Instance{}, req); d.Answer.Rejection != nil {
			r.fail("given (%s %s): %s", in.aggregate, in.id, d.Answer.Rejection.Message)
			return false
		}
	}
	return true
}

// needsWorld reports whether a scenario needs more than its instance:
// given events of other instances, a command that looks data up, an
// aggregate whose unique keys span instances, or the read side.
func needsWorld(p *interpreter.Program, s *manifest.Scenario) bool {
	if readsSide(s) {
		return true
	}
	for _, g := range s.Given {
		if agg, id := of(s, g); agg != s.Aggregate || id != s.ID {
			return true
		}
	}
	a := p.Aggregates[s.Aggregate]
	if a == nil {
		return false
	}
	if len(a.Unique) > 0 {
		return true
	}
	for _, w := range s.When {
		if c := a.Commands[w.Command]; c != nil && len(c.Lookups) > 0 {
			return true
		}
	}
	return false
}

// world runs a scenario that needs more than its instance on a runtime
// of its own, a fresh SQLite database with the projections over it, as
// `serve` runs them: every instance's given events are seeded (claiming
// their unique keys), each command's look-ups read the projections and
// instances as the API would (async projections caught up first), the
// commands run through the backend (so a claim another instance holds
// is a unique_violation), and then.query and then.projection read the
// projections once they hold everything.
func (r *Result) world(ctx context.Context, p *interpreter.Program, s *manifest.Scenario) {
	if !r.checkOthers(p, s) {
		return
	}
	dir, err := os.MkdirTemp("", "cuesource-scenario-")
	if err != nil {
		r.fail("read side: %v", err)
		return
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "scenario.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		r.fail("read side: %v", err)
		return
	}
	defer st.Close()
	b := native.New(p, st, engine.Options{Strict: true})
	defer b.Close()
	rm, err := projections.New(p, st, projections.Options{Waiter: b})
	if err == nil {
		err = rm.Start(ctx)
	}
	if err != nil {
		r.fail("read side: %v", err)
		return
	}
	defer rm.Close()

	times := givenTimes(s, &Clock)
	for n, in := range instances(s) {
		req := seedRequest(s, in, in.id, times)
		req.CommandID, req.Time = fmt.Sprintf("given-%d", n+1), Clock
		a, err := b.Seed(ctx, req)
		if err == nil && a.Rejection != nil {
			err = a.Rejection
		}
		if err != nil {
			r.fail("given (%s %s): %v", in.aggregate, in.id, err)
			return
		}
	}
	now := Clock
	if len(s.Given) > 0 {
		now = *times[len(times)-1]
	}
	for i, w := range s.When {
		if w.At != nil {
			now = *w.At
		}
		req := &cuesource.CommandRequest{Aggregate: s.Aggregate, ID: s.ID, Command: w.Command, Payload: w.Payload,
			CommandID: fmt.Sprintf("cmd-%d", i+1), Time: now, ExpectedVersion: engine.AnyVersion}
		as := w.As
		if as == nil {
			as = s.As
		}
		if c := caller(as); c != nil && p.Auth != nil {
			req.Caller = c
		}
		// What a look-up reads holds every event before the command, as
		// it would on a quiet server.
		if err := rm.CatchUp(ctx); err != nil {
			r.fail("when[%d] %s: catching the projections up: %v", i, w.Command, err)
			return
		}
		if err := cuesource.ReadLookups(ctx, p, req, cuesource.Readers{QueryFunc: rm.Query, LoadFunc: b.Load}); err != nil {
			r.Error, r.rejected = &engine.Error{Kind: "lookup_failed", Message: err.Error()}, i
			break
		}
		a, err := b.Execute(ctx, req)
		if err != nil {
			r.fail("when[%d] %s: %v", i, w.Command, err)
			return
		}
		if rej := a.Rejection; rej != nil {
			r.Error, r.rejected = &engine.Error{Kind: rej.Kind, Name: rej.Name, Message: rej.Message, Violations: rej.Violations, Status: rej.Status}, i
			break
		}
		var d struct {
			Events []struct {
				engine.Event
				Payload json.RawMessage `json:"payload"`
			} `json:"events"`
		}
		if err := json.Unmarshal(a.Body, &d); err != nil {
			r.fail("when[%d] %s: the answer: %v", i, w.Command, err)
			return
		}
		for _, e := range d.Events {
			ev := e.Event
			if ev.Payload, err = value.Decode(e.Payload, value.Limits{}); err != nil {
				r.fail("when[%d] %s: the answer: %v", i, w.Command, err)
				return
			}
			r.Events = append(r.Events, ev)
		}
	}
	cur, err := b.Load(ctx, s.Aggregate, s.ID)
	if err != nil {
		r.fail("the state of %s %s: %v", s.Aggregate, s.ID, err)
		return
	}
	if cur.Version > 0 {
		if r.State, err = value.DecodeStored(cur.State); err != nil {
			r.fail("the state of %s %s: %v", s.Aggregate, s.ID, err)
			return
		}
	}
	r.check(s.Then)
	if !readsSide(s) {
		return
	}
	if err := rm.CatchUp(ctx); err != nil {
		r.fail("read side: catching the projections up: %v", err)
		return
	}
	status, err := rm.Status(ctx)
	if err != nil {
		r.fail("read side: %v", err)
		return
	}
	for _, qt := range s.Then.Queries {
		q := p.Queries[qt.Name]
		if q == nil {
			r.fail("then.query.%s (%s): the context has no such query", qt.Name, qt.Pos)
			continue
		}
		if r.failedProjections(qt.Pos, "then.query."+qt.Name, q.Reads, status) {
			continue
		}
		params, vs := q.Params(interpreter.ParamValues(qt.Params))
		if len(vs) > 0 {
			r.fail("then.query.%s (%s): params: %s", qt.Name, qt.Pos, vs[0])
			continue
		}
		rows, err := rm.Query(ctx, qt.Name, params)
		if err != nil {
			r.fail("then.query.%s (%s): %v", qt.Name, qt.Pos, err)
			continue
		}
		r.checkRows(qt, anyRows(rows), nil)
	}
	for _, pt := range s.Then.Projections {
		if r.failedProjections(pt.Pos, "then.projection."+pt.Name, []string{pt.Name}, status) {
			continue
		}
		row, err := rm.Row(ctx, pt.Name, pt.Key)
		if err != nil {
			r.fail("then.projection.%s (%s): %v", pt.Name, pt.Pos, err)
			continue
		}
		var got any
		if row != nil {
			got = row
		}
		r.checkRow(pt, got, nil)
	}
}

// failedProjections fails an expectation that reads a failed projection:
// its rows stop at the event it failed on.
func (r *Result) failedProjections(pos manifest.Pos, what string, names []string, status []cuesource.ProjectionStatus) bool {
	failed := false
	for _, st := range status {
		if slices.Contains(names, st.Name) && st.State == projections.StateFailed {
			r.fail("%s (%s): projection %s failed at position %d: %s", what, pos, st.Name, st.ErrorPosition, st.Error)
			failed = true
		}
	}
	return failed
}

func anyRows(rows []map[string]any) []any {
	out := make([]any, len(rows))
	for i, row := range rows {
		out[i] = row
	}
	return out
}

// checkRows compares a query's rows with then.query's: as many rows, in
// order, each listing columns equal to the row's. view, if set, is how a
// runner sees the values it got (over HTTP: the instance ids as written).
func (r *Result) checkRows(qt manifest.QueryThen, got []any, view func(any) any) {
	if view != nil {
		got = view(got).([]any)
	}
	want := make([]map[string]any, len(qt.Rows))
	for i, raw := range qt.Rows {
		want[i], _ = value.MustDecode(raw).(map[string]any)
	}
	if len(want) != len(got) {
		var w, g []string
		for _, row := range want {
			w = append(w, value.Text(row))
		}
		for _, row := range got {
			g = append(g, value.Text(row))
		}
		r.fail("then.query.%s (%s): want %s, got %d:\n    want: %s\n    got:  %s", qt.Name, qt.Pos,
			plural(len(want), "row"), len(got), orNoRows(w), orNoRows(g))
		return
	}
	for i, row := range want {
		pos := qt.Pos
		if i < len(qt.RowPos) {
			pos = qt.RowPos[i]
		}
		g, _ := got[i].(map[string]any)
		r.columns(fmt.Sprintf("then.query.%s.rows[%d]", qt.Name, i), pos, row, g)
	}
}

// checkRow compares a projection's row (nil: none) with then.projection's.
func (r *Result) checkRow(pt manifest.ProjectionThen, got any, view func(any) any) {
	if view != nil && got != nil {
		got = view(got)
	}
	want, _ := value.MustDecode(pt.Row).(map[string]any)
	where := fmt.Sprintf("then.projection.%s (%s)", pt.Name, pt.RowPos)
	switch {
	case want == nil && got == nil:
	case want == nil:
		r.fail("%s: want no row under key %q, got %s", where, pt.Key, value.Text(got))
	case got == nil:
		r.fail("%s: no row under key %q:\n    want: %s", where, pt.Key, value.Text(want))
	default:
		g, _ := got.(map[string]any)
		r.columns("then.projection."+pt.Name+".row", pt.RowPos, want, g)
	}
}

// columns fails each column of want that got does not equal.
func (r *Result) columns(path string, pos manifest.Pos, want, got map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		gv, present := got[k]
		switch {
		case !present:
			r.fail("%s.%s (%s):\n    want: %s\n    got:  (no such column)", path, k, pos, value.Text(want[k]))
		case !value.Equal(want[k], gv):
			r.fail("%s.%s (%s):\n    want: %s\n    got:  %s", path, k, pos, value.Text(want[k]), value.Text(gv))
		}
	}
}

func orNoRows(s []string) string {
	if len(s) == 0 {
		return "(no rows)"
	}
	return strings.Join(s, "\n          ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
