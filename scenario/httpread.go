package scenario

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
)

// poll is how often the HTTP runner asks again while the target's read
// side has yet to hold the scenario's events.
const poll = 20 * time.Millisecond

// readSideHTTP checks then.query and then.projection against the target.
// Its read models may lag its log (async projections; on Workers the log
// itself is written after a command answers), and the runner sees them
// only from outside: it first learns the log positions of the scenario's
// events, then asks each query and row again until the projections it
// reads hold them (or ctx ends). Reads use the admin token.
//
// Instance ids carry the run's suffix (unless KeepIDs): a query
// parameter or a projection key that is exactly one of the scenario's
// instance ids names the suffixed instance, and the suffix is taken out
// of the values answered before they are compared.
func (r *Result) readSideHTTP(ctx context.Context, t Target, s *manifest.Scenario, sfx string, seeded []*instance) {
	ids := map[string]bool{s.ID: true}
	touched := [][2]string{{s.Aggregate, s.ID + sfx}}
	for _, in := range seeded {
		ids[in.id] = true
		if !in.own {
			touched = append(touched, [2]string{in.aggregate, in.id + sfx})
		}
	}
	name := func(v string) string {
		if sfx != "" && ids[v] {
			return v + sfx
		}
		return v
	}
	var view func(any) any
	if sfx != "" {
		view = func(v any) any { return unsuffix(v, sfx) }
	}
	head, err := t.head(ctx, touched)
	if err != nil {
		r.fail("read side: %v", err)
		return
	}
	for _, qt := range s.Then.Queries {
		params := url.Values{}
		for k, vs := range interpreter.ParamValues(qt.Params) {
			params.Set(k, name(vs[0]))
		}
		path := "/queries/" + url.PathEscape(qt.Name)
		if len(params) > 0 {
			path += "?" + params.Encode()
		}
		answer, err := t.current(ctx, path, head, func(m map[string]any) []any {
			list, _ := m["projections"].([]any)
			return list
		})
		if err != nil {
			r.fail("then.query.%s (%s): %v", qt.Name, qt.Pos, err)
			continue
		}
		rows, _ := answer["rows"].([]any)
		if rows == nil {
			rows = []any{}
		}
		r.checkRows(qt, rows, view)
	}
	for _, pt := range s.Then.Projections {
		path := "/admin/projections/" + url.PathEscape(pt.Name) + "/rows/" + url.PathEscape(name(pt.Key))
		answer, err := t.current(ctx, path, head, func(m map[string]any) []any { return []any{m["status"]} })
		if err != nil {
			r.fail("then.projection.%s (%s): %v", pt.Name, pt.Pos, err)
			continue
		}
		r.checkRow(pt, answer["row"], view)
	}
}

// head is the last log position of the events of the instances, once
// every one has its position (on Workers an event has position 0 until
// its object forwarded it to the log). A missing instance has none.
func (t Target) head(ctx context.Context, instances [][2]string) (int64, error) {
	var head int64
	for _, in := range instances {
		base := "/" + url.PathEscape(in[0]) + "/" + url.PathEscape(in[1]) + "/events"
		var after int64
		for {
			status, body, err := t.get(ctx, fmt.Sprintf("%s?after=%d", base, after))
			if err != nil {
				return 0, err
			}
			if status == http.StatusNotFound && after == 0 {
				break // never created: a first command rejected
			}
			if status != http.StatusOK {
				return 0, fmt.Errorf("GET %s: answered %d: %s", base, status, body)
			}
			page, err := object(body)
			if err != nil {
				return 0, err
			}
			evs, _ := page["events"].([]any)
			if len(evs) == 0 {
				break
			}
			unforwarded := false
			for _, e := range evs {
				m, _ := e.(map[string]any)
				pos := number(m["position"])
				if pos == 0 {
					unforwarded = true
					break
				}
				head = max(head, pos)
			}
			if unforwarded {
				if err := wait(ctx); err != nil {
					return 0, fmt.Errorf("the events of %s %s did not reach the log: %w", in[0], in[1], err)
				}
				continue // the same page again
			}
			after = number(page["next"])
		}
	}
	return head, nil
}

// current asks path until the projections the answer reports (statuses)
// hold the log up to head, and returns that answer. A failed projection
// ends the wait: its rows stop at the event it failed on.
func (t Target) current(ctx context.Context, path string, head int64, statuses func(map[string]any) []any) (map[string]any, error) {
	for {
		status, body, err := t.get(ctx, path)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s answered %d: %s", path, status, body)
		}
		answer, err := object(body)
		if err != nil {
			return nil, err
		}
		done := true
		for _, st := range statuses(answer) {
			m, _ := st.(map[string]any)
			if m["state"] == "failed" {
				return nil, fmt.Errorf("projection %v failed at position %d: %v", m["name"], number(m["errorPosition"]), m["error"])
			}
			if number(m["position"]) < head {
				done = false
			}
		}
		if done {
			return answer, nil
		}
		if err := wait(ctx); err != nil {
			return nil, fmt.Errorf("the projections did not reach the scenario's events (position %d): %w; last answer: %s", head, err, body)
		}
	}
}

// wait waits one poll, or until ctx ends.
func wait(ctx context.Context) error {
	tm := time.NewTimer(poll)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// get GETs path with the admin token.
func (t Target) get(ctx context.Context, path string) (int, []byte, error) {
	status, data, _, err := t.request(ctx, http.MethodGet, path, nil, "Authorization", bearer(t.AdminToken))
	return status, data, err
}

func number(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

// unsuffix takes the run's suffix out of every string of v (map keys
// too): how the values answered read with the instance ids as written.
func unsuffix(v any, sfx string) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, sfx, "")
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[strings.ReplaceAll(k, sfx, "")] = unsuffix(e, sfx)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unsuffix(e, sfx)
		}
		return out
	}
	return v
}
