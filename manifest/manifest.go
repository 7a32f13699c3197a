package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Version is the manifest format version written by this build.
const Version = 1

// Manifest is a compiled bounded context.
type Manifest struct {
	ManifestVersion int                    `json:"manifestVersion"`
	Name            string                 `json:"name"`
	Aggregates      map[string]*Aggregate  `json:"aggregates"`
	Env             map[string]*EnvVar     `json:"env,omitempty"`
	Projections     map[string]*Projection `json:"projections,omitempty"`
	Queries         map[string]*Query      `json:"queries,omitempty"`
	Effects         map[string]*Effect     `json:"effects,omitempty"`
	Scenarios       []*Scenario            `json:"scenarios,omitempty"`
	Limits          Limits                 `json:"limits,omitzero"`
	// License is the API's license as its OpenAPI document states it.
	License   string     `json:"license,omitempty"`
	Retention *Retention `json:"retention,omitempty"`
	Snapshots *Snapshots `json:"snapshots,omitempty"` // nil: none, unless an aggregate declares its own
	Auth      *Auth      `json:"auth,omitempty"`      // nil: no identity, no rules
}

// Retention is a declared `retention`: which events may leave the hot
// store (package retention decides). Absent: every event stays hot.
type Retention struct {
	KeepFor       string `json:"keepFor,omitempty"` // as written: "90d", "36h"
	KeepLast      int64  `json:"keepLast,omitempty"`
	SinceSnapshot bool   `json:"sinceSnapshot,omitempty"`
	HotBytes      int64  `json:"hotBytes,omitempty"` // the context's only
	Pos           Pos    `json:"pos"`
}

// Snapshots says how often an instance's state is kept as a snapshot:
// by the commit whose events reach or pass a multiple of Every.
type Snapshots struct {
	Every int `json:"every"`
	Pos   Pos `json:"pos"`
}

// Limits are a context's size limits; a zero field takes its default
// (DefaultLimits). Both runtimes enforce them: the state and event limits
// when a command is decided, the query limits while a query's rows are read.
type Limits struct {
	StateBytes int `json:"stateBytes,omitempty"` // an instance's state, encoded
	EventBytes int `json:"eventBytes,omitempty"` // one event's payload, encoded
	QueryRows  int `json:"queryRows,omitempty"`  // rows of one query result
	QueryBytes int `json:"queryBytes,omitempty"` // bytes of one query result (its values)
}

// DefaultLimits are the limits a context that declares none gets. A state
// or an event payload is one value of a row on Workers (Durable Object
// storage, D1), which holds at most 2,000,000 bytes: 1.9 MB leaves room
// for the row's other columns, and for a command payload of --max-body
// (1 MiB by default) copied into either. A query answers at most 1000
// rows and 4 MiB.
var DefaultLimits = Limits{StateBytes: 1_900_000, EventBytes: 1_900_000, QueryRows: 1000, QueryBytes: 4 << 20}

// WithDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.StateBytes > 0 {
		d.StateBytes = l.StateBytes
	}
	if l.EventBytes > 0 {
		d.EventBytes = l.EventBytes
	}
	if l.QueryRows > 0 {
		d.QueryRows = l.QueryRows
	}
	if l.QueryBytes > 0 {
		d.QueryBytes = l.QueryBytes
	}
	return d
}

// Aggregate is one aggregate type: its state schema, commands, events and
// invariants.
type Aggregate struct {
	State      json.RawMessage     `json:"state"` // JSON Schema 2020-12 of #state
	Initial    json.RawMessage     `json:"initial"`
	Commands   map[string]*Command `json:"commands"`
	Events     map[string]*Event   `json:"events"`
	Invariants []Named             `json:"invariants,omitempty"`
	Retention  *Retention          `json:"retention,omitempty"`
	Snapshots  *Snapshots          `json:"snapshots,omitempty"` // overrides the context's; nil: the context's
	Unique     []Unique            `json:"unique,omitempty"`    // sorted by name
	// NewID gives the id of an instance the server makes (POST
	// /{aggregate}/{command}); nil: a UUIDv7.
	NewID *Expr `json:"newId,omitempty"`
	Pos   Pos   `json:"pos"`
}

// Unique is a named unique constraint over an aggregate's instances: the
// events of ClaimedBy claim the key Key gives (over `event`), the events
// of ReleasedBy release the key the instance holds.
type Unique struct {
	Name       string   `json:"name"`
	Key        Expr     `json:"key"`
	ClaimedBy  []string `json:"claimedBy"`
	ReleasedBy []string `json:"releasedBy,omitempty"`
	Pos        Pos      `json:"pos"`
}

// Lookup is reference data a command reads before it is decided: the
// rows of a named query (Query, Params) or another instance's state
// (Aggregate, ID).
type Lookup struct {
	Name      string  `json:"name"`
	Query     string  `json:"query,omitempty"`
	Params    []Field `json:"params,omitempty"`
	Aggregate string  `json:"aggregate,omitempty"`
	ID        *Expr   `json:"id,omitempty"`
	Pos       Pos     `json:"pos"`
}

// Instance rules for a command.
const (
	InstanceExisting = "existing" // the instance must exist
	InstanceNew      = "new"      // the instance must not exist yet
	InstanceAny      = "any"      // either
)

// Command is a command handler: payload schema, guards and emits.
type Command struct {
	Payload  json.RawMessage `json:"payload"` // JSON Schema 2020-12 of #payload
	Instance string          `json:"instance"`
	IfMatch  string          `json:"ifMatch,omitempty"` // "required": clients must send If-Match
	Require  []Named         `json:"require,omitempty"`
	Emit     []Emit          `json:"emit"`
	Lookup   []Lookup        `json:"lookup,omitempty"` // sorted by name
	Pos      Pos             `json:"pos"`
}

// Emit produces one event when its condition holds.
type Emit struct {
	Event   string `json:"event"`
	If      *Expr  `json:"if,omitempty"`
	Payload Shape  `json:"payload"`
	Pos     Pos    `json:"pos"`
}

// Event is an event type: its payload schema, its reducer, and the
// history of its payload: former names and lenses from older versions.
type Event struct {
	Payload json.RawMessage `json:"payload"` // JSON Schema 2020-12 of #payload
	Apply   Shape           `json:"apply"`
	Aliases []Alias         `json:"aliases,omitempty"`
	Lenses  []Lens          `json:"lenses,omitempty"` // lens i: version i -> i+1; the current version is len(Lenses)
	Pos     Pos             `json:"pos"`
}

// Alias is a former name of an event type.
type Alias struct {
	Name string `json:"name"`
	Pos  Pos    `json:"pos"`
}

// Lens turns one version of an event's payload into the next (Up) and,
// optionally, back (Down).
type Lens struct {
	From json.RawMessage `json:"from"` // JSON Schema 2020-12 of the version this lens reads
	Up   Shape           `json:"up"`
	Down *Shape          `json:"down,omitempty"`
	Pos  Pos             `json:"pos"`
}

// Shape builds an object either field by field or as one expression. The
// zero Shape builds nothing: an empty payload, or an unchanged state.
type Shape struct {
	Fields []Field `json:"fields,omitempty"` // field-wise; unnamed fields keep their value
	Whole  *Expr   `json:"whole,omitempty"`  // one expression giving the whole object
}

// Field is one named expression in a field-wise Shape.
type Field struct {
	Name string `json:"name"`
	Expr Expr   `json:"expr"`
}

// Named is a named boolean expression: a guard or an invariant. The name is
// the error a failure reports.
type Named struct {
	Name string `json:"name"`
	Expr Expr   `json:"expr"`
	// Status is the HTTP status a guard declares for its rejection (0:
	// the kind's, 422).
	Status int `json:"status,omitempty"`
}

// Expr is an expr-lang expression with where it was written.
type Expr struct {
	Src string `json:"src"`
	Pos Pos    `json:"pos"`
}

// Pos is a source position. Line and Col are 1-based and point at the first
// character of the expression itself (inside the quotes). Path is the
// definition path, as CUE spells it.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	Path string `json:"path,omitempty"`
}

func (p Pos) String() string {
	if p.File == "" {
		return p.Path
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Scenario is a given/when/then test of one aggregate instance.
type Scenario struct {
	Name      string      `json:"name"`
	Aggregate string      `json:"aggregate"`
	ID        string      `json:"id"`
	Given     []GivenItem `json:"given,omitempty"`
	When      []WhenItem  `json:"when"`
	Then      Then        `json:"then"`
	// As are the claims the commands are sent with (a WhenItem's own
	// override them); nil: trusted, the rules are not evaluated.
	As  json.RawMessage `json:"as,omitempty"`
	Pos Pos             `json:"pos"`
}

// GivenItem is an event that happened before the scenario's commands.
type GivenItem struct {
	Event string `json:"event"`
	// Aggregate and ID (given only) name another instance the event
	// happened to; empty: the scenario's own aggregate, and id.
	Aggregate string          `json:"aggregate,omitempty"`
	ID        string          `json:"id,omitempty"`
	Version   *int            `json:"version,omitempty"` // given only: the version it was stored at; nil: the current one
	Payload   json.RawMessage `json:"payload"`           // absent: {} in given, any in then
	At        *time.Time      `json:"at,omitempty"`      // given only: when it happened
	As        json.RawMessage `json:"as,omitempty"`      // given: the claims whose sub the event records as its actor
	Pos       Pos             `json:"pos"`
}

// WhenItem is a command the scenario sends.
type WhenItem struct {
	Command string          `json:"command"`
	Payload json.RawMessage `json:"payload"`
	At      *time.Time      `json:"at,omitempty"` // when it is sent
	As      json.RawMessage `json:"as,omitempty"` // the claims it is sent with; nil: the scenario's
	Pos     Pos             `json:"pos"`
}

// Then is the expected outcome of the last command. Events lists every event
// the scenario's commands emitted, in order; a nil Payload matches any
// payload. State matches when each of its top-level fields equals the
// state's. Error matches a rejection's name (guard or invariant) or kind.
type Then struct {
	Events   []GivenItem     `json:"events"` // nil: not checked; empty: no events
	State    json.RawMessage `json:"state,omitempty"`
	Error    string          `json:"error,omitempty"`
	Pos      Pos             `json:"pos"`                // of then.error when given, else of then
	StatePos Pos             `json:"statePos,omitempty"` // of then.state
	// Queries and Projections are the read side after the commands, in
	// declaration order.
	Queries     []QueryThen      `json:"query,omitempty"`
	Projections []ProjectionThen `json:"projection,omitempty"`
}

// QueryThen expects a named query, run with Params after the commands,
// to answer Rows: as many rows, in order, each with the listed columns
// equal.
type QueryThen struct {
	Name   string            `json:"name"`
	Params json.RawMessage   `json:"params,omitempty"` // an object; nil: none
	Rows   []json.RawMessage `json:"rows"`             // each an object
	Pos    Pos               `json:"pos"`              // of then.query.<name>
	RowPos []Pos             `json:"rowPos,omitempty"` // of each row
}

// ProjectionThen expects a projection's row under Key to have the listed
// columns equal; Row "null": no row under the key.
type ProjectionThen struct {
	Name   string          `json:"name"`
	Key    string          `json:"key"`
	Row    json.RawMessage `json:"row"`
	Pos    Pos             `json:"pos"`    // of then.projection.<name>
	RowPos Pos             `json:"rowPos"` // of its row
}

// Parse decodes a manifest and checks its version.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.ManifestVersion != Version {
		return nil, fmt.Errorf("manifest: version %d, this build reads version %d", m.ManifestVersion, Version)
	}
	return &m, nil
}

// MapFiles rewrites the file of every position in the manifest, e.g. to
// make paths relative to the context's directory so that a build does not
// depend on where it ran.
func (m *Manifest) MapFiles(fn func(string) string) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(Pos{}) {
				if f := v.FieldByName("File"); f.String() != "" {
					f.SetString(fn(f.String()))
				}
				return
			}
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k)) // map values are pointers here
			}
		}
	}
	walk(reflect.ValueOf(m))
}

// EnvVar is a declared environment variable effects may read.
type EnvVar struct {
	Description string  `json:"description,omitempty"`
	Default     *string `json:"default,omitempty"`
	Pos         Pos     `json:"pos"`
}

// Projection is a read model: a table kept up to date from the log.
type Projection struct {
	Mode    string              `json:"mode"` // "inline" or "async"
	Key     Expr                `json:"key"`
	Columns map[string]string   `json:"columns"` // name -> TEXT, INTEGER, REAL, JSON
	Indexes map[string][]string `json:"indexes,omitempty"`
	On      []ProjectionHandler `json:"on"` // sorted by event
	Pos     Pos                 `json:"pos"`
}

// ProjectionHandler is what one event type does to a projection's row.
type ProjectionHandler struct {
	Event  string  `json:"event"` // "aggregate.Event"
	Upsert []Field `json:"upsert,omitempty"`
	Delete bool    `json:"delete,omitempty"`
	Pos    Pos     `json:"pos"`
}

// Query is a named read-only SQL query over projection tables.
type Query struct {
	SQL    string          `json:"sql"`
	Params json.RawMessage `json:"params"` // JSON Schema of #params
	Pos    Pos             `json:"pos"`
}

// Effect reacts to events with a command or a webhook.
type Effect struct {
	On       []string `json:"on"` // "aggregate.Event"
	If       *Expr    `json:"if,omitempty"`
	Delivery string   `json:"delivery"` // "sync", "async" or "queue"
	Retry    Retry    `json:"retry"`
	Send     *Send    `json:"send,omitempty"`
	HTTP     *Webhook `json:"http,omitempty"`
	Pos      Pos      `json:"pos"`
}

// Retry is an effect's retry policy.
type Retry struct {
	Max     int    `json:"max"`
	Backoff string `json:"backoff"` // a Go duration: the first wait, doubled after each attempt
}

// Send dispatches a command.
type Send struct {
	Aggregate string `json:"aggregate"`
	ID        Expr   `json:"id"`
	Command   string `json:"command"`
	Payload   Shape  `json:"payload"`
	OnReject  *Send  `json:"onReject,omitempty"`
	Pos       Pos    `json:"pos"`
}

// Webhook calls an HTTP endpoint whose URL is a declared env variable.
type Webhook struct {
	Method  string  `json:"method"`
	URLEnv  string  `json:"urlEnv"`
	Headers []Field `json:"headers,omitempty"`
	Body    Shape   `json:"body"`
	Timeout string  `json:"timeout"`
	Pos     Pos     `json:"pos"`
}
