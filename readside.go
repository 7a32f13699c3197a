package cuesource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/store"
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

// RowReader is an optional ability of ReadModels: one projection row by
// its key, for GET /admin/projections/{name}/rows/{key} (how scenarios
// check a projection over HTTP).
type RowReader interface {
	// Row returns the row of projection name under key: "key" and each
	// column by name, as a query gives them; nil when there is no such
	// row. A projection that does not exist wraps ErrUnknown.
	Row(ctx context.Context, name, key string) (map[string]any, error)
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

// ErrUnavailable is what a Backend returns (wrapped) when it cannot take
// requests for now, e.g. while shutting down: the client gets 503 and
// should retry.
var ErrUnavailable = errors.New("service unavailable")

// StorageHealth is what a backend's storage has seen since the server
// started, for GET /healthz.
type StorageHealth struct {
	// Failing: the last storage fault has not been followed by a write
	// that went through; /healthz answers 503 while it holds.
	Failing bool `json:"failing"`
	// Faults counts the storage faults since start; LastFault and
	// LastFaultAt are the last of them.
	Faults      int64      `json:"faults"`
	LastFault   string     `json:"lastFault,omitempty"`
	LastFaultAt *time.Time `json:"lastFaultAt,omitempty"`
	// KeyConflicts are the claims in the log that the last rebuild of an
	// aggregate's unique keys could not honour (see RebuildKeys), by
	// aggregate: /healthz lists them, and stays 200.
	KeyConflicts map[string][]store.KeyConflict `json:"keyConflicts,omitempty"`
}

// HealthReporter is a Backend's optional ability to report on its
// storage; /healthz is a plain liveness answer without it.
type HealthReporter interface {
	StorageHealth(ctx context.Context) StorageHealth
}
