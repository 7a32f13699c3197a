package edge

import (
	"context"
	"fmt"
	"slices"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
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

// eventsOfRows decodes rows of d1.EventColumns.
func eventsOfRows(rs [][]any) ([]store.Event, error) {
	out := make([]store.Event, 0, len(rs))
	for _, r := range rs {
		e, err := d1.DecodeEvent(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// checkpointsOf decodes rows of d1.CheckpointAll.
func checkpointsOf(rs [][]any) ([]d1.Checkpoint, error) {
	out := make([]d1.Checkpoint, len(rs))
	for i, r := range rs {
		var err error
		if out[i], err = d1.DecodeCheckpoint(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkpointOf finds a projection's checkpoint among cps.
func checkpointOf(cps []d1.Checkpoint, name string) (d1.Checkpoint, bool) {
	for _, cp := range cps {
		if cp.Name == name {
			return cp, true
		}
	}
	return d1.Checkpoint{}, false
}

// readModels is cuesource.ReadModels over D1 (queries, status) and the projector
// object (rebuild, skip, resume).
type readModels struct {
	c *Core
	h *host
	// checked are the checkpoints this request read (its answer's status
	// reads them before the rows): the query reuses them (one D1 read
	// less).
	checked []d1.Checkpoint
}

// checkpoints are the checkpoints this request reads, read once.
func (m *readModels) checkpoints() ([]d1.Checkpoint, error) {
	if m.checked == nil {
		cps, err := m.current()
		if err != nil {
			return nil, err
		}
		m.checked = cps
	}
	return m.checked, nil
}

func (m *readModels) Query(_ context.Context, name string, params map[string]any) ([]map[string]any, error) {
	q := m.c.prog.Queries[name]
	if q == nil {
		return nil, fmt.Errorf("%w query %q", cuesource.ErrUnknown, name)
	}
	// The tables exist for the definition deployed (current) before a
	// query reads them.
	if _, err := m.checkpoints(); err != nil {
		return nil, err
	}
	lim := m.c.prog.Limits
	pq := m.c.queries[name]
	sql, names := pq.sql, pq.params
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

// current reads the projections' checkpoints after making sure each
// projection has its table for the definition deployed: a projection
// never built (a Worker's first query) or built by an older definition (a
// deploy changed it) is reset by the projector, its only writer, which
// then rebuilds it from the log in the background. So a query answers the
// rows of the definition deployed, while rebuilding as natively, and
// never an older definition's.
func (m *readModels) current() ([]d1.Checkpoint, error) {
	res, err := m.h.query(d1.CheckpointAll)
	if err != nil {
		return nil, err
	}
	stored, err := checkpointsOf(res.Rows)
	if err != nil {
		return nil, err
	}
	for _, name := range m.c.projectionNames() {
		if cp, ok := checkpointOf(stored, name); ok && cp.Hash == m.c.prog.Projections[name].Hash {
			continue
		}
		if err := m.action("reconcile", ""); err != nil {
			return nil, err
		}
		if res, err = m.h.query(d1.CheckpointAll); err != nil {
			return nil, err
		}
		return checkpointsOf(res.Rows)
	}
	return stored, nil
}

func (m *readModels) Status(context.Context) ([]cuesource.ProjectionStatus, error) {
	stored, err := m.checkpoints()
	if err != nil {
		return nil, err
	}
	head, err := m.h.query(d1.Head)
	if err != nil {
		return nil, err
	}
	h, err := d1.DecodeHead(head.Rows)
	if err != nil {
		return nil, err
	}
	out := []cuesource.ProjectionStatus{}
	for _, name := range m.c.projectionNames() {
		p := m.c.prog.Projections[name]
		ps := cuesource.ProjectionStatus{Name: name, Mode: p.Mode, Head: h, Hash: p.Hash, State: rows.StateNew}
		if cp, ok := checkpointOf(stored, name); ok {
			ps.Position, ps.State, ps.Error, ps.ErrorPosition = cp.Position, cp.State, cp.Error, cp.ErrorPosition
			if cp.Hash != p.Hash {
				ps.State, ps.Hash = rows.StateStale, cp.Hash
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
	if err := m.h.do(Op{Kind: "projector", Method: "action", Arg: map[string]string{"action": method, "name": name}}, &a); err != nil {
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

var _ cuesource.RowReader = (*readModels)(nil)

// Row implements cuesource.RowReader over D1, as the native runner does:
// the table is the deployed definition's (current resets an older one).
func (m *readModels) Row(_ context.Context, name, key string) (map[string]any, error) {
	t := m.c.tables[name]
	if t == nil {
		return nil, fmt.Errorf("%w projection %q", cuesource.ErrUnknown, name)
	}
	cps, err := m.current()
	if err != nil {
		return nil, err
	}
	m.checked = cps
	res, err := m.h.query(t.SelectOne, key)
	if err != nil {
		return nil, fmt.Errorf("projection %s: %w", name, err)
	}
	if len(res.Rows) == 0 {
		return nil, nil
	}
	row, err := t.Load(res.Rows[0][1:])
	if err != nil {
		return nil, err
	}
	return t.Answer(key, row), nil
}
