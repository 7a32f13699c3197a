package edge

import (
	"encoding/json"
	"fmt"

	"github.com/cuesource/cuesource/store/d1"
)

// The SQL of the global log, the objects' events and the dead letters is
// package store/d1's.

// Forwarded maps event ids to their positions in the global log.
type Forwarded struct {
	Positions map[string]int64 `json:"positions"`
}

// forwardEvents appends a run of one instance's events to the global log
// in one D1 batch and answers their positions.
func forwardEvents(h *host, evs []wireEvent) (map[string]int64, error) {
	if len(evs) > d1.MaxForward {
		return nil, fmt.Errorf("forward takes at most %d events, got %d", d1.MaxForward, len(evs))
	}
	ids := make([]string, 0, len(evs))
	stmts := make([]Statement, 0, len(evs)+1)
	for _, e := range evs {
		ids = append(ids, e.ID)
		stmts = append(stmts, Statement{SQL: d1.Forward, Params: []any{e.ID, e.Aggregate, e.Instance, e.Version, e.Type, e.SchemaVersion, e.Time, e.CommandID, e.Payload, e.Meta}})
	}
	idList, _ := json.Marshal(ids)
	stmts = append(stmts, Statement{SQL: d1.Positions, Params: []any{string(idList)}})
	var res [][]struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	}
	if err := h.do(Op{Kind: "batch", Statements: stmts}, &res); err != nil {
		return nil, err
	}
	if len(res) != len(stmts) {
		return nil, fmt.Errorf("forward: batch answered %d results for %d statements", len(res), len(stmts))
	}
	pos := map[string]int64{}
	for _, r := range res[len(res)-1] {
		pos[r.ID] = r.Position
	}
	for _, id := range ids {
		if _, ok := pos[id]; !ok {
			return nil, fmt.Errorf("forward: event %s is not in the log after its insert", id)
		}
	}
	return pos, nil
}
