package edge

import (
	"encoding/json"
	"fmt"

	"github.com/cuesource/cuesource/store/d1"
)

// The SQL of the global log, the objects' events and the dead letters is
// package store/d1's.

type forwardInput struct {
	Events []wireEvent `json:"events"`
}

// Forwarded maps event ids to their positions in the global log.
type Forwarded struct {
	Positions map[string]int64 `json:"positions"`
}

// forward writes a run of one instance's events to the global log, in
// order, and answers their positions: the object records them and stops
// retrying those events. Done is Forwarded.
func (c *Core) forward(in []byte, h *host) (any, error) {
	var fi forwardInput
	if err := decodeInput(in, &fi); err != nil {
		return nil, err
	}
	if len(fi.Events) > d1.MaxForward {
		return nil, fmt.Errorf("forward takes at most %d events, got %d", d1.MaxForward, len(fi.Events))
	}
	ids := make([]string, 0, len(fi.Events))
	stmts := make([]Statement, 0, len(fi.Events)+1)
	for _, e := range fi.Events {
		ids = append(ids, e.ID)
		stmts = append(stmts, Statement{SQL: d1.Forward, Params: []any{e.ID, e.Aggregate, e.Instance, e.Version, e.Type, e.SchemaVersion, e.Time, e.CommandID, e.Payload}})
	}
	idList, _ := json.Marshal(ids)
	stmts = append(stmts, Statement{SQL: d1.Positions, Params: []any{string(idList)}})
	var res [][]struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	}
	out := Forwarded{Positions: map[string]int64{}}
	if err := h.do(Op{Kind: "batch", Statements: stmts}, &res); err != nil {
		return nil, err
	}
	if len(res) != len(stmts) {
		return nil, fmt.Errorf("forward: batch answered %d results for %d statements", len(res), len(stmts))
	}
	for _, r := range res[len(res)-1] {
		out.Positions[r.ID] = r.Position
	}
	for _, id := range ids {
		if _, ok := out.Positions[id]; !ok {
			return nil, fmt.Errorf("forward: event %s is not in the log after its insert", id)
		}
	}
	return out, nil
}
