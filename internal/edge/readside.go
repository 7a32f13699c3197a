package edge

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/store"
)

// rawRows is a D1 result as the shell gives it for a "d1" operation: the
// column names, then each row's values in that order (like database/sql's
// Scan, so duplicate or unnamed columns are not lost).
type rawRows struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// query runs one D1 statement.
func (h *host) query(sql string, params ...any) (*rawRows, error) {
	if params == nil {
		params = []any{}
	}
	var r rawRows
	if err := h.do(Op{Kind: "d1", Statement: &Statement{SQL: sql, Params: params}}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	}
	return 0
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// eventOf reads a row of eventColumns.
func eventOf(r []any) store.Event {
	e := store.Event{Position: asInt(r[0]), ID: asString(r[1]), Aggregate: asString(r[2]), Instance: asString(r[3]),
		Version: asInt(r[4]), Type: asString(r[5]), SchemaVersion: int(asInt(r[6])), CommandID: asString(r[8])}
	e.Time, _ = time.Parse(time.RFC3339Nano, asString(r[7]))
	if p, ok := r[9].(string); ok {
		e.Payload = []byte(p)
	}
	return e
}

// readModels is cuesource.ReadModels over D1 (queries, status) and the projector
// object (rebuild, skip, resume).
type readModels struct {
	c *Core
	h *host
}

func (m *readModels) Query(_ context.Context, name string, params map[string]any) ([]map[string]any, error) {
	q := m.c.prog.Queries[name]
	if q == nil {
		return nil, fmt.Errorf("%w query %q", cuesource.ErrUnknown, name)
	}
	lim := m.c.prog.Limits
	sql, names := rows.Positional(q.SQL)
	args := make([]any, 0, len(names))
	for _, n := range names {
		args = append(args, rows.Bindable(params[n]))
	}
	// D1 answers all rows at once: asking for one more than the limit
	// shows a result over it without fetching the rest. Bytes are counted
	// here as natively (D1 itself stops at 50 MB).
	res, err := m.h.query(rows.Bounded(sql, lim.QueryRows+1), args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	if len(res.Rows) > lim.QueryRows {
		return nil, &cuesource.LimitError{Query: name, Limit: "queryRows", Max: lim.QueryRows}
	}
	isJSON := make([]bool, len(res.Columns))
	for i, c := range res.Columns {
		isJSON[i] = slices.Contains(m.c.cfg.QueryJSON[name], c)
	}
	out := make([]map[string]any, 0, len(res.Rows))
	size := 0
	for _, r := range res.Rows {
		row := make(map[string]any, len(res.Columns))
		for i, c := range res.Columns {
			size += len(c) + rows.Size(r[i])
			row[c] = rows.ResultValue(r[i], isJSON[i])
		}
		if size > lim.QueryBytes {
			return nil, &cuesource.LimitError{Query: name, Limit: "queryBytes", Max: lim.QueryBytes}
		}
		out = append(out, row)
	}
	return out, nil
}

func (m *readModels) Status(context.Context) ([]cuesource.ProjectionStatus, error) {
	head, err := m.h.query(sqlHead)
	if err != nil {
		return nil, err
	}
	h := asInt(head.Rows[0][0])
	cps, err := m.h.query(rows.CheckpointAll)
	if err != nil {
		return nil, err
	}
	stored := map[string][]any{}
	for _, r := range cps.Rows {
		stored[asString(r[0])] = r
	}
	out := []cuesource.ProjectionStatus{}
	for _, name := range m.c.projectionNames() {
		p := m.c.prog.Projections[name]
		ps := cuesource.ProjectionStatus{Name: name, Mode: p.Mode, Head: h, Hash: p.Hash, State: rows.StateNew}
		if r, ok := stored[name]; ok {
			ps.Position, ps.State, ps.Error, ps.ErrorPosition = asInt(r[1]), asString(r[3]), asString(r[4]), asInt(r[5])
			if asString(r[2]) != p.Hash {
				ps.State, ps.Hash = rows.StateStale, asString(r[2])
			}
		}
		ps.Lag = max(h-ps.Position, 0)
		out = append(out, ps)
	}
	return out, nil
}

// projectorAnswer is what the projector object answers an action.
type projectorAnswer struct {
	Unknown  string `json:"unknown,omitempty"`
	Conflict string `json:"conflict,omitempty"`
}

func (m *readModels) action(method, name string) error {
	var a projectorAnswer
	if err := m.h.do(Op{Kind: "projector", Method: method, Arg: name}, &a); err != nil {
		return err
	}
	// Worded as the native runner's errors.
	switch {
	case a.Unknown != "":
		return fmt.Errorf("%w projection %q", cuesource.ErrUnknown, name)
	case a.Conflict != "":
		return fmt.Errorf("projection has not failed: %w: %s", cuesource.ErrConflict, a.Conflict)
	}
	return nil
}

func (m *readModels) Rebuild(_ context.Context, name string) error { return m.action("rebuild", name) }
func (m *readModels) Skip(_ context.Context, name string) error    { return m.action("skip", name) }
func (m *readModels) Resume(_ context.Context, name string) error  { return m.action("resume", name) }

const sqlHead = `SELECT COALESCE(MAX(position), 0) FROM events`
