package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cuesource/cuesource"
)

// query answers GET /queries/{name}?param=...
func (s *Service) query(ctx context.Context, c *call) Response {
	name := c.p["name"]
	q, ok := s.prog.Queries[name]
	if !ok || s.opt.ReadModels == nil {
		return problem(statusNotFound, "unknown_query", fmt.Sprintf("no query %q", name))
	}
	values, bad := s.mayQuery(name, c)
	if bad != nil {
		return *bad
	}
	params, vs := q.Params(values)
	if len(vs) > 0 {
		return problemWith(statusBadRequest, "invalid_parameter", fmt.Sprintf("the parameters of query %s do not fit its #params", name),
			map[string]any{"violations": vs})
	}
	// The status is read before the rows, so the rows hold every event up
	// to the position it gives (or more): a reader that waits for a
	// position (test --url) never takes older rows for newer.
	read, stale, err := s.readState(ctx, q.Reads)
	if err != nil {
		return internal(err)
	}
	rows, err := s.opt.ReadModels.Query(ctx, name, params)
	var le *cuesource.LimitError
	switch {
	case errors.As(err, &le):
		return problemWith(statusUnprocessableEntity, "query_too_large", le.Error(), map[string]any{"limit": le.Limit, "max": le.Max})
	case errors.Is(err, cuesource.ErrQueryTimeout):
		resp := problem(statusServiceUnavailable, "query_timeout", fmt.Sprintf("query %s ran out of time (or the query pool was busy for that long); it was stopped", name))
		resp.Header.Set("Retry-After", "1")
		return resp
	case err != nil:
		return internal(err)
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	return jsonResponse(statusOK, map[string]any{"query": name, "rows": rows, "projections": read, "stale": stale})
}

// readState is what a query's answer says of the projections it read:
// each one's state, position and lag, read before the rows (so the rows
// hold every event up to position at least). stale is
// true when one of them is not running: failed (its rows stop at the
// event it failed on), rebuilding, or not built by the current definition
// yet.
func (s *Service) readState(ctx context.Context, names []string) ([]cuesource.ProjectionStatus, bool, error) {
	out := []cuesource.ProjectionStatus{}
	if len(names) == 0 {
		return out, false, nil
	}
	all, err := s.opt.ReadModels.Status(ctx)
	if err != nil {
		return nil, false, err
	}
	stale := false
	for _, st := range all {
		if slices.Contains(names, st.Name) {
			out = append(out, st)
			stale = stale || st.State != "running"
		}
	}
	return out, stale, nil
}

// projectionStatus answers GET /projections.
func (s *Service) projectionStatus(ctx context.Context) Response {
	st, err := s.opt.ReadModels.Status(ctx)
	if err != nil {
		return internal(err)
	}
	if st == nil {
		st = []cuesource.ProjectionStatus{}
	}
	return jsonResponse(statusOK, map[string]any{"projections": st})
}

// projectionAction answers the admin route POST
// /projections/{name}/rebuild|skip|resume.
func (s *Service) projectionAction(ctx context.Context, c *call) Response {
	name := c.p["name"]
	var err error
	switch c.p["action"] {
	case "rebuild":
		err = s.opt.ReadModels.Rebuild(ctx, name)
	case "skip":
		err = s.opt.ReadModels.Skip(ctx, name)
	case "resume":
		err = s.opt.ReadModels.Resume(ctx, name)
	default:
		return problem(statusNotFound, "not_found", "no such route: "+c.r.Path)
	}
	if errors.Is(err, cuesource.ErrUnknown) {
		return problem(statusNotFound, "unknown_projection", err.Error())
	}
	if errors.Is(err, cuesource.ErrConflict) {
		return problem(statusConflict, "projection_state", err.Error())
	}
	if err != nil {
		return internal(err)
	}
	st, err := s.opt.ReadModels.Status(ctx)
	if err != nil {
		return internal(err)
	}
	for _, p := range st {
		if p.Name == name {
			return jsonResponse(statusOK, p)
		}
	}
	return jsonResponse(statusOK, map[string]any{"name": name})
}

// projectionRow answers the admin route GET
// /admin/projections/{name}/rows/{key}: the row under key (null when
// there is none) and the projection's status, which says which events
// the row holds (every one up to its position).
func (s *Service) projectionRow(ctx context.Context, c *call) Response {
	name, key := c.p["name"], c.p["key"]
	if _, ok := s.prog.Projections[name]; !ok {
		return problem(statusNotFound, "unknown_projection", fmt.Sprintf("no projection %q", name))
	}
	rr, ok := s.opt.ReadModels.(cuesource.RowReader)
	if !ok {
		return problem(statusNotFound, "not_found", "this runtime does not read projection rows by key")
	}
	// Status first, then the row: the row holds every event up to the
	// status's position, or more (see query).
	read, _, err := s.readState(ctx, []string{name})
	if err != nil {
		return internal(err)
	}
	row, err := rr.Row(ctx, name, key)
	if errors.Is(err, cuesource.ErrUnknown) {
		return problem(statusNotFound, "unknown_projection", err.Error())
	}
	if err != nil {
		return internal(err)
	}
	var st, answer any // null without one
	if len(read) == 1 {
		st = read[0]
	}
	if row != nil {
		answer = row
	}
	return jsonResponse(statusOK, map[string]any{"projection": name, "key": key, "row": answer, "status": st})
}

// deadLetterList answers the admin route GET /admin/dead-letters.
func (s *Service) deadLetterList(ctx context.Context) Response {
	list, err := s.opt.DeadLetters.List(ctx)
	if err != nil {
		return internal(err)
	}
	if list == nil {
		list = []cuesource.DeadLetter{}
	}
	return jsonResponse(statusOK, map[string]any{"deadLetters": list})
}

// deadLetterID is the route's {id:int}, which the route table checked.
func deadLetterID(c *call) int64 {
	id, _ := strconv.ParseInt(c.p["id"], 10, 64)
	return id
}

// deadLetterResponse answers the admin routes POST
// /admin/dead-letters/{id}/retry and DELETE /admin/dead-letters/{id}, by
// what retrying or discarding the dead letter gave.
func deadLetterResponse(err error) Response {
	if errors.Is(err, cuesource.ErrUnknown) {
		return problem(statusNotFound, "unknown_dead_letter", err.Error())
	}
	if err != nil {
		return internal(err)
	}
	return Response{Status: statusNoContent, Header: Header{}}
}
