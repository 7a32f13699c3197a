package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/retention"
)

// Config is what a Worker's environment adds to the manifest.
type Config struct {
	// Token and AdminToken as in `cuesource serve` (CUESOURCE_TOKEN,
	// CUESOURCE_ADMIN_TOKEN).
	Token      string `json:"token,omitempty"`
	AdminToken string `json:"adminToken,omitempty"`
	// Env holds the Worker's string bindings; the context's declared env
	// values are read from CUESOURCE_ENV_<NAME> as natively.
	Env map[string]string `json:"env,omitempty"`
	// QueryJSON names, per query, the result columns that are JSON
	// projection columns: `cuesource worker build` finds them with SQLite,
	// as the native runtime does for each query it runs, because D1 does
	// not report declared types.
	QueryJSON map[string][]string `json:"queryJSON,omitempty"`
	// Diagram is the context's diagram (GET /diagram.svg), rendered by
	// `cuesource worker build`.
	Diagram string `json:"diagram,omitempty"`
	// OpenAPI is the context's OpenAPI document (GET /openapi.json),
	// written by `cuesource worker build`: the writer stays out of the
	// wasm engine.
	OpenAPI string `json:"openapi,omitempty"`
	// Archive says the Worker has an R2 bucket bound as ARCHIVE: events
	// the retention policies let go leave D1 for it.
	Archive bool `json:"archive,omitempty"`
	// DeadLetterQueue is the name of the effects' dead-letter queue, whose
	// messages are recorded as dead letters.
	DeadLetterQueue string `json:"deadLetterQueue,omitempty"`
	// Restarts is how many Go runtimes of this isolate ended before this
	// one, and StartMillis how long the shell took to make this one: what
	// only the shell knows, for the test switch GET /__test/runtime.
	Restarts    int   `json:"restarts,omitempty"`
	StartMillis int64 `json:"startMillis,omitempty"`
}

// Core is a compiled context ready to serve a Worker. Its only mutable
// parts coordinate concurrent scripts (objects, proj); they hold nothing a
// new Go runtime would miss.
type Core struct {
	prog *interpreter.Program
	cfg  Config
	svc  *api.Service
	vars map[string]string
	ttl  time.Duration
	// egress is which addresses webhooks may call (egress.Var).
	egress egress.Policy
	fns    map[string]function
	// scripts are the functions that perform I/O through the shell.
	scripts map[string]script
	// tables are the projections' tables and their SQL, made once.
	tables map[string]*rows.Table
	// inline holds the "aggregate.Event" names an inline projection
	// handles: a command that emits one answers after the projector ran.
	inline map[string]bool
	// names are the projections' names, sorted, and namesJSON the same as
	// a JSON array (the archive's guards); async says one is not inline.
	names     []string
	namesJSON string
	async     bool
	// keepFor: a retention rule lets events leave as time passes.
	keepFor bool
	// queries are the named queries' SQL with positional parameters
	// (rows.Positional), made once.
	queries map[string]positionalQuery
	// objects and proj coordinate the scripts of Aggregate objects and of
	// the projector object that run at once (object.go, projector.go).
	objects *objects
	proj    *projState
	// retention is the context's policies; archiveEvery the Archiver
	// object's pass interval (archive.go).
	retention    retention.Policies
	archiveEvery time.Duration
	// streamLife bounds a live stream (stream.go).
	streamLife time.Duration
	// reader reads the archive for every script (archive.go); nil
	// without a bucket. arch is the Archiver object's archiver.
	reader *archive.Reader
	arch   *archiverRun
	// faults is the test switches' state (testswitch.go); nil when they
	// are off.
	faults *testFaults
}

// New compiles the manifest (the JSON `cuesource build` writes).
func New(manifestJSON []byte, cfg Config) (*Core, error) {
	m, err := manifest.Parse(manifestJSON)
	if err != nil {
		return nil, err
	}
	p, err := interpreter.CompileChecked(m)
	if err != nil {
		return nil, err
	}
	vars, err := manifest.Vars(m, func(name string) string { return cfg.Env[name] })
	if err != nil {
		return nil, err
	}
	ttl := cuesource.DefaultIdempotencyTTL
	if v := cfg.Env["CUESOURCE_IDEMPOTENCY_TTL"]; v != "" {
		if ttl, err = time.ParseDuration(v); err != nil || ttl <= 0 {
			return nil, fmt.Errorf("CUESOURCE_IDEMPOTENCY_TTL: want a positive duration such as 24h, got %q", v)
		}
	}
	// The operator's exceptions to the webhook address policy.
	allow, err := egress.Parse(cfg.Env[egress.Var])
	if err != nil {
		return nil, fmt.Errorf("%s: %v", egress.Var, err)
	}
	c := &Core{prog: p, cfg: cfg, vars: vars, ttl: ttl, egress: allow, archiveEvery: archive.DefaultEvery}
	if c.retention, err = retention.Of(m); err != nil {
		return nil, err
	}
	c.retention = c.retention.OnD1()
	c.arch = &archiverRun{}
	if cfg.Archive {
		c.reader = &archive.Reader{Target: r2{}, Index: c.hotOf(nil, time.Time{}), Codec: shellGzip{}}
	}
	if v := cfg.Env["CUESOURCE_ARCHIVE_EVERY"]; v != "" {
		if c.archiveEvery, err = time.ParseDuration(v); err != nil || c.archiveEvery <= 0 {
			return nil, fmt.Errorf("CUESOURCE_ARCHIVE_EVERY: want a positive duration such as 10s, got %q", v)
		}
	}
	// Live streams are capped per isolate (each is a script polling D1 in
	// this runtime): the isolate's memory and its D1 reads stay bounded.
	opt := api.Options{Token: cfg.Token, AdminToken: cfg.AdminToken, MaxStreams: api.DefaultMaxStreams}
	c.streamLife = streamLife
	if v := cfg.Env["CUESOURCE_STREAM_LIFE"]; v != "" {
		if c.streamLife, err = time.ParseDuration(v); err != nil || c.streamLife <= 0 {
			return nil, fmt.Errorf("CUESOURCE_STREAM_LIFE: want a positive duration such as 5m, got %q", v)
		}
	}
	if v := cfg.Env["CUESOURCE_MAX_STREAMS"]; v != "" {
		if opt.MaxStreams, err = strconv.Atoi(v); err != nil || opt.MaxStreams <= 0 {
			return nil, fmt.Errorf("CUESOURCE_MAX_STREAMS: want a positive number such as 256, got %q", v)
		}
	}
	if cfg.Diagram != "" {
		opt.Diagram = func(*manifest.Manifest) []byte { return []byte(cfg.Diagram) }
	}
	if cfg.OpenAPI != "" {
		opt.OpenAPI = func(*interpreter.Program) []byte { return []byte(cfg.OpenAPI) }
	}
	if p.Auth != nil {
		v, err := identity(c)
		if err != nil {
			return nil, err
		}
		opt.Identity = v
	}
	c.svc = api.New(p, nil, opt)
	c.fns, c.scripts = c.functions()
	if cfg.Env["CUESOURCE_TEST_FAULTS"] == "1" {
		c.faults = &testFaults{}
		c.scripts["provoke"] = c.provoke
	}
	c.tables = map[string]*rows.Table{}
	c.inline = map[string]bool{}
	c.objects = newObjects()
	c.proj = &projState{}
	for name, pr := range p.Projections {
		c.tables[name] = rows.NewTable(pr)
		if pr.Mode == "inline" {
			for ev := range pr.Handlers {
				c.inline[ev] = true
			}
		} else {
			c.async = true
		}
	}
	c.names = slices.Sorted(maps.Keys(p.Projections))
	b, _ := json.Marshal(c.names)
	c.namesJSON = string(b)
	if c.names == nil {
		c.namesJSON = "[]"
	}
	c.queries = map[string]positionalQuery{}
	for name, q := range p.Queries {
		var pq positionalQuery
		pq.sql, pq.params = rows.Positional(q.SQL)
		c.queries[name] = pq
	}
	c.keepFor = c.retention.Context.KeepFor > 0
	for _, ap := range c.retention.Aggregates {
		c.keepFor = c.keepFor || ap.KeepFor > 0
	}
	return c, nil
}

// positionalQuery is a query's SQL as D1 binds it: ?N for its named
// parameters, in params' order.
type positionalQuery struct {
	sql    string
	params []string
}

// Program is the compiled context.
func (c *Core) Program() *interpreter.Program { return c.prog }

// Fault is the error answer of a call: the shell logs it and answers 500.
type Fault struct {
	Kind    string `json:"kind"` // "input" or "panic"
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}

func (f *Fault) Error() string { return f.Kind + ": " + f.Message }

// Call runs the function name on a JSON input and returns its JSON output
// or a {"fault": ...} answer. It never panics: the wasm runtime dies with
// an unrecovered panic, taking every object of the isolate with it.
func (c *Core) Call(name string, in []byte) (out []byte) {
	defer recoverFault(&out)
	fn, ok := c.fns[name]
	if !ok {
		return faultJSON(&Fault{Kind: "input", Message: fmt.Sprintf("no function %q", name)})
	}
	v, err := fn(in)
	return answer(v, err)
}

// Run runs the script name on a JSON input to its end, performing each
// operation it needs with perform, and returns its JSON answer or a
// {"fault": ...} answer. Like Call it never panics.
func (c *Core) Run(name string, in []byte, perform Perform) (out []byte) {
	defer recoverFault(&out)
	fn, ok := c.scripts[name]
	if !ok {
		return faultJSON(&Fault{Kind: "input", Message: fmt.Sprintf("no script %q", name)})
	}
	v, err := fn(in, &host{perform: perform, prog: c.prog, faults: c.faults})
	return answer(v, err)
}

// IsScript says whether name is run with Run rather than Call.
func (c *Core) IsScript(name string) bool {
	_, ok := c.scripts[name]
	return ok
}

func recoverFault(out *[]byte) {
	if r := recover(); r != nil {
		*out = faultJSON(&Fault{Kind: "panic", Message: fmt.Sprint(r), Stack: string(debug.Stack())})
	}
}

func answer(v any, err error) []byte {
	if err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			f = &Fault{Kind: "input", Message: err.Error()}
		}
		return faultJSON(f)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return faultJSON(&Fault{Kind: "input", Message: err.Error()})
	}
	return b
}

func faultJSON(f *Fault) []byte {
	b, _ := json.Marshal(map[string]*Fault{"fault": f})
	return b
}

type function func(in []byte) (any, error)

// script is a function that performs I/O through h.
type script func(in []byte, h *host) (any, error)

// functions maps the names the shell calls to their code: the functions
// without I/O (called inside an object's transaction), and the scripts.
func (c *Core) functions() (map[string]function, map[string]script) {
	return map[string]function{
			"info":        func([]byte) (any, error) { return c.info(), nil },
			"decide":      c.decide,
			"seed":        c.seed,
			"rehydrate":   c.rehydrate,
			"holds":       c.holds,
			"snapshotNow": c.snapshotNow,
		}, map[string]script{
			"serve":     c.serve,
			"stream":    c.stream,
			"committed": c.committed,
			"alarm":     c.alarm,
			"open":      c.open,
			"projector": c.projector,
			"queue":     c.queue,
			"claim":     c.claim,
			"key":       c.key,
			"archive":   c.archiveRun,
		}
}

// Info is what the shell learns at start.
type Info struct {
	Name string `json:"name"`
	// MaxBody is the largest request body the API reads: the shell reads
	// no more than this (and one byte) of a body.
	MaxBody int `json:"maxBody"`
	// QueueRetrySeconds is how long the queue waits before it hands over
	// again a message the queue script did not answer (its runtime ended,
	// or it failed in the shell): a failure outside the rules, retried as
	// the objects retry theirs (retryAfterFault).
	QueueRetrySeconds int64 `json:"queueRetrySeconds"`
}

func (c *Core) info() Info {
	return Info{Name: c.prog.Manifest.Name, MaxBody: c.svc.MaxBody(), QueueRetrySeconds: int64(retryAfterFault / time.Second)}
}

// decodeInput reads a call's JSON input strictly.
func decodeInput(in []byte, v any) error {
	if err := json.Unmarshal(in, v); err != nil {
		return &Fault{Kind: "input", Message: err.Error()}
	}
	return nil
}
