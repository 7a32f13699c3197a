package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ReadModels is what a runtime offers for projections and queries.
type ReadModels interface {
	// Query runs a named query with validated parameters; rows are JSON
	// objects keyed by column.
	Query(ctx context.Context, name string, params map[string]any) ([]map[string]any, error)
	// Status reports every projection.
	Status(ctx context.Context) ([]ProjectionStatus, error)
	// Rebuild drops a projection and replays the log into it; it returns
	// when the projection has caught up.
	Rebuild(ctx context.Context, name string) error
	// Skip moves a failed projection past the event it failed on, and
	// Resume retries it from there (after the definition was fixed).
	Skip(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
}

// ErrUnknown is wrapped by ReadModels and DeadLetters errors for a name or
// id that does not exist (404); ErrConflict by an action the target's state
// does not allow, such as skipping a projection that has not failed (409).
var (
	ErrUnknown  = errors.New("unknown")
	ErrConflict = errors.New("conflict")
)

// ErrQueryTimeout is wrapped by ReadModels.Query for a query that ran
// longer than the runtime's query time limit, or waited that long for a
// connection (503 query_timeout).
var ErrQueryTimeout = errors.New("the query ran out of time")

// LimitError is a query whose result would be over a limit of the context:
// queryRows or queryBytes (422 query_too_large). The query fails rather
// than answering part of its result.
type LimitError struct {
	Query string
	Limit string // queryRows or queryBytes
	Max   int
}

func (e *LimitError) Error() string {
	what := "rows"
	if e.Limit == "queryBytes" {
		what = "bytes"
	}
	return fmt.Sprintf("the result of query %s is over the context's limit %s (%d %s); ask for less, with a LIMIT or a narrower filter", e.Query, e.Limit, e.Max, what)
}

// ProjectionStatus is one projection's state.
type ProjectionStatus struct {
	Name          string `json:"name"`
	Mode          string `json:"mode"`  // inline or async
	State         string `json:"state"` // running, failed, rebuilding; offline also new (never built), stale (rebuilt at the next start)
	Position      int64  `json:"position"`
	Head          int64  `json:"head"` // the log's last position
	Lag           int64  `json:"lag"`
	Hash          string `json:"hash"`
	Error         string `json:"error,omitempty"`
	ErrorPosition int64  `json:"errorPosition,omitempty"`
}

// DeadLetters is what a runtime offers for deliveries that gave up.
type DeadLetters interface {
	List(ctx context.Context) ([]DeadLetter, error)
	Retry(ctx context.Context, id int64) error
	Discard(ctx context.Context, id int64) error
}

// DeadLetter is a delivery that failed for good.
type DeadLetter struct {
	ID        int64           `json:"id"`
	Effect    string          `json:"effect"`
	EventID   string          `json:"eventId"`
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error"`
	Rejection json.RawMessage `json:"rejection,omitempty"` // a send's command rejection: {kind, name, message}
	Time      time.Time       `json:"time"`
}

// query answers GET /queries/{name}?param=...
func (s *Service) query(ctx context.Context, c *call) Response {
	r, name := c.r, c.p["name"]
	q, ok := s.prog.Queries[name]
	if !ok || s.opt.ReadModels == nil {
		return problem(statusNotFound, "unknown_query", fmt.Sprintf("no query %q", name))
	}
	params, vs := q.Params(r.Query)
	if len(vs) > 0 {
		return problemWith(statusBadRequest, "invalid_parameter", fmt.Sprintf("the parameters of query %s do not fit its #params", name),
			map[string]any{"violations": vs})
	}
	rows, err := s.opt.ReadModels.Query(ctx, name, params)
	var le *LimitError
	switch {
	case errors.As(err, &le):
		return problemWith(statusUnprocessableEntity, "query_too_large", le.Error(), map[string]any{"limit": le.Limit, "max": le.Max})
	case errors.Is(err, ErrQueryTimeout):
		resp := problem(statusServiceUnavailable, "query_timeout", fmt.Sprintf("query %s ran out of time (or the query pool was busy for that long); it was stopped", name))
		resp.Header.Set("Retry-After", "1")
		return resp
	case err != nil:
		return internal(err)
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	return jsonResponse(statusOK, map[string]any{"query": name, "rows": rows})
}

// projectionStatus answers GET /projections.
func (s *Service) projectionStatus(ctx context.Context) Response {
	st, err := s.opt.ReadModels.Status(ctx)
	if err != nil {
		return internal(err)
	}
	if st == nil {
		st = []ProjectionStatus{}
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
	if errors.Is(err, ErrUnknown) {
		return problem(statusNotFound, "unknown_projection", err.Error())
	}
	if errors.Is(err, ErrConflict) {
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

// deadLetterList answers the admin route GET /admin/dead-letters.
func (s *Service) deadLetterList(ctx context.Context) Response {
	list, err := s.opt.DeadLetters.List(ctx)
	if err != nil {
		return internal(err)
	}
	if list == nil {
		list = []DeadLetter{}
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
	if errors.Is(err, ErrUnknown) {
		return problem(statusNotFound, "unknown_dead_letter", err.Error())
	}
	if err != nil {
		return internal(err)
	}
	return Response{Status: statusNoContent, Header: Header{}}
}
