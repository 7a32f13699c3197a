package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/route"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Request is an HTTP request reduced to what the API reads.
type Request struct {
	Method string
	Path   string // as sent, escaped
	Query  url.Values
	Header Header
	Body   []byte
}

// Response is what the API answers.
type Response struct {
	Status int    `json:"status"`
	Header Header `json:"header,omitempty"`
	Body   []byte `json:"body,omitempty"`
}

// Backend runs commands and reads the log. Implementations serialize
// commands per instance.
type Backend interface {
	// Execute runs req under its instance's single writer: it loads the
	// snapshot and the idempotency record stored under req.StoreKey() (if
	// req has a key), calls cuesource.Decide, appends its commit atomically
	// if there is one, and returns its answer.
	Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error)
	Load(ctx context.Context, aggregate, id string) (store.Instance, error)
	// Events and ReadAll read pages as store.Store does.
	Events(ctx context.Context, aggregate, id string, after int64, limit int) ([]store.Event, error)
	ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error)
	// Rehydrate rebuilds an instance's state from its events under the
	// instance's writer, reports drift (see Compare) and, when fix is set,
	// stores the rebuilt state.
	Rehydrate(ctx context.Context, aggregate, id string, fix bool) (*cuesource.Drift, error)
	// Seed runs cuesource.DecideSeed under the instance's writer and
	// appends its commit, like Execute.
	Seed(ctx context.Context, req *cuesource.SeedRequest) (cuesource.Answer, error)
}

// Keys is the optional ability of a Backend whose context declares
// unique constraints: who holds a key (GET and POST
// /{aggregate}/by/{constraint}/{key}). Such a Backend applies each
// commit's claims (store.Commit.Unique) race-free, answers a command
// whose claim another instance holds with cuesource.UniqueViolation, and
// runs a command with Holds only while its instance holds that key
// (cuesource.KeyNotHeld otherwise).
type Keys interface {
	Holder(ctx context.Context, aggregate, constraint, key string) (id string, ok bool, err error)
}

// HotHistory is the optional ability of a Backend whose store prunes old
// events into an archive: the version an instance's hot history begins
// at (1 when none of it left).
type HotHistory interface {
	HotFrom(ctx context.Context, aggregate, id string) (int64, error)
}

// Options configure a Service.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every request but /healthz (the admin token is accepted too).
	Token string
	// AdminToken enables the admin endpoints and is required on them.
	// Without it they answer 404.
	AdminToken string
	// Limits bound command payloads (1 MiB and depth 64 by default); they
	// travel with each CommandRequest to whichever backend decides it.
	Limits value.Limits
	// cuesource.ReadModels and DeadLetters serve the read side and the effects'
	// dead-letter list, when the runtime has them.
	ReadModels  cuesource.ReadModels
	DeadLetters cuesource.DeadLetters
	// Now and NewID supply the clock and command ids; the engine itself
	// never reads a clock. Defaults: time.Now and random UUIDs.
	Now   func() time.Time
	NewID func() string
	// Diagram draws the context's diagram (GET /diagram.svg) on first
	// request, from the manifest of the program served (a swapped program
	// gets its own); nil answers 404. The native server renders it with
	// package diagram; a Worker serves the one `worker build` rendered,
	// which keeps the renderer out of the wasm engine.
	Diagram func(*manifest.Manifest) []byte
	// OpenAPI writes the context's OpenAPI document (GET /openapi.json) on
	// first request, for the program served. Nil: OpenAPI, natively; a
	// Worker serves the one `worker build` wrote, which keeps the document
	// writer (package openapi) out of the wasm engine.
	OpenAPI func(*interpreter.Program) []byte
	// MaxStreams caps the live event streams served at once (Stream);
	// more are refused with 503 and Retry-After. 0 means DefaultMaxStreams,
	// negative no cap.
	MaxStreams int
	// Storage reports the hot store against its budget and the archive
	// (GET /admin/storage: natively an archive.Status, answered as JSON);
	// without it the route answers 404. Typed any so that this package,
	// which the Worker carries, does not carry the archive's code.
	Storage func(ctx context.Context) (any, error)
	// Archive serves the archive to the admin (GET /admin/archive/...);
	// nil (no archive configured) answers those routes 404.
	Archive Archive
	// MaxHistory caps the steps of GET /{aggregate}/{id}/history; 0
	// means MaxHistory.
	MaxHistory int
	// Identity verifies bearer tokens when the context declares auth (the
	// runtime hands it an auth.Verifier built from the context's auth).
	Identity Identifier
}

// Service serves a context's HTTP API.
type Service struct {
	prog    *interpreter.Program
	backend Backend
	opt     Options
	openapi *document
	context *document
	diagram *document
	streams *atomic.Int64 // live streams; shared by the copies With makes
	// live is the program SetProgram installed last, with its documents;
	// shared by the copies With makes. Each request reads it once.
	live *atomic.Pointer[Service]
}

// SetProgram makes p the program of every request that starts from now
// on; requests under way finish with theirs. The documents (OpenAPI, GET
// /context, the diagram) are made anew from p on first request.
func (s *Service) SetProgram(p *interpreter.Program) {
	n := New(p, s.backend, s.opt)
	s.live.Store(n)
}

// current is s serving the program installed last.
func (s *Service) current() *Service {
	n := s.live.Load()
	if n == nil || n.prog == s.prog {
		return s
	}
	c := *s
	c.prog, c.openapi, c.context, c.diagram = n.prog, n.openapi, n.context, n.diagram
	return &c
}

// New returns the service of a compiled context.
func New(p *interpreter.Program, b Backend, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.NewID == nil {
		opt.NewID = cuesource.NewID
	}
	if opt.Limits.MaxBytes == 0 {
		opt.Limits.MaxBytes = value.DefaultMaxBytes
	}
	if opt.Limits.MaxDepth == 0 {
		opt.Limits.MaxDepth = value.DefaultMaxDepth
	}
	if opt.MaxHistory <= 0 {
		opt.MaxHistory = MaxHistory
	}
	if opt.MaxStreams == 0 {
		opt.MaxStreams = DefaultMaxStreams
	}
	return &Service{prog: p, backend: b, opt: opt, streams: new(atomic.Int64), live: new(atomic.Pointer[Service]),
		openapi: openAPIDoc(p, opt.OpenAPI),
		context: &document{make: func() []byte { return contextDoc(p) }},
		diagram: diagramDoc(p, opt.Diagram),
	}
}

// writeOpenAPI is OpenAPI where it is linked (not in the wasm engine).
var writeOpenAPI func(*interpreter.Program) []byte

// openAPIDoc is the OpenAPI document of p, by write or else OpenAPI; one
// without a maker (404) when the runtime writes none.
func openAPIDoc(p *interpreter.Program, write func(*interpreter.Program) []byte) *document {
	if write == nil {
		write = writeOpenAPI
	}
	if write == nil {
		return &document{}
	}
	return &document{make: func() []byte { return write(p) }}
}

// diagramDoc is the diagram document of p, or one without a maker (404)
// when the runtime draws none.
func diagramDoc(p *interpreter.Program, draw func(*manifest.Manifest) []byte) *document {
	if draw == nil {
		return &document{}
	}
	return &document{make: func() []byte { return draw(p.Manifest) }}
}

// document is a document about the context (OpenAPI, GET /context), made
// on first request: a Worker's cold start does not pay for it.
type document struct {
	once sync.Once
	make func() []byte
	b    []byte
}

func (d *document) response(contentType string) Response {
	d.once.Do(func() { d.b = d.make() })
	return Response{Status: statusOK, Header: Header{"Content-Type": {contentType}}, Body: d.b}
}

// With returns a copy of s that serves through another backend and read
// side: a runtime that makes a backend per request (the Workers core) keeps
// one Service and its OpenAPI document.
func (s *Service) With(b Backend, rm cuesource.ReadModels, dl cuesource.DeadLetters) *Service {
	c := *s
	c.backend, c.opt.ReadModels, c.opt.DeadLetters = b, rm, dl
	return &c
}

// WithStorage returns a copy of s whose GET /admin/storage asks f: a
// runtime that reaches its storage per request (the Workers core).
func (s *Service) WithStorage(f func(ctx context.Context) (any, error)) *Service {
	c := *s
	c.opt.Storage = f
	return &c
}

// WithClock returns a copy of s with another clock and id source: a
// runtime that replays a request (the Workers core) gives the same ones on
// every run.
func (s *Service) WithClock(now func() time.Time, newID func() string) *Service {
	c := *s
	c.opt.Now, c.opt.NewID = now, newID
	return &c
}

// now is the time of a command or a seed, in UTC to the millisecond: the
// precision of event times on every runtime (a Worker's clock is
// JavaScript's, which has no finer one).
func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Millisecond) }

// MaxBody is the largest request body the service reads.
func (s *Service) MaxBody() int { return s.opt.Limits.MaxBytes }

// Serve answers one request.
func (s *Service) Serve(ctx context.Context, r *Request) Response {
	s = s.current()
	if !knownMethods[r.Method] {
		return problem(statusNotImplemented, "not_implemented", fmt.Sprintf("the method %.40q is not one this server knows", r.Method))
	}
	if name := badHeader(r.Header); name != "" {
		return problem(statusBadRequest, "invalid_header", fmt.Sprintf("the header %.60q has a control character", name))
	}
	segs, err := segments(r.Path)
	if err != nil {
		return problem(statusBadRequest, "invalid_path", err.Error())
	}
	m := route.Find(segs, r.Method)
	// Open routes answer before any token is asked for; an admin area asks
	// for the admin token before its paths are matched.
	switch {
	case m.Route != nil && m.Route.Access == route.Open:
	case route.AdminArea(segs):
		if s.opt.AdminToken == "" {
			return problem(statusNotFound, "not_found", "admin endpoints are off: the server has no admin token")
		}
		if !Bearer(r.Header, s.opt.AdminToken) {
			return unauthorized("admin endpoints need the admin token")
		}
	case s.prog.Auth != nil:
		// The context's rules decide, for the caller identify finds.
	case s.opt.Token != "" && !Bearer(r.Header, s.opt.Token) && !Bearer(r.Header, s.opt.AdminToken):
		return unauthorized("this server needs a bearer token")
	}
	switch route.Needs(segs) {
	case "projections":
		if s.opt.ReadModels == nil {
			return problem(statusNotFound, "not_found", "this runtime has no projections")
		}
	case "effects":
		if s.opt.DeadLetters == nil {
			return problem(statusNotFound, "not_found", "this runtime has no effects")
		}
	case "storage":
		if s.opt.Storage == nil {
			return problem(statusNotFound, "not_found", "this runtime reports no storage")
		}
	case "archive":
		if s.opt.Archive == nil {
			return problem(statusNotFound, "not_found", "this server has no archive (natively serve --archive; on Workers an R2 bucket bound as ARCHIVE)")
		}
	}
	switch {
	case m.Route == nil && route.AdminArea(segs) && route.Needs(segs) == "":
		return problem(statusNotFound, "not_found", "no such admin route: "+r.Path)
	case m.Route == nil:
		return problem(statusNotFound, "not_found", "no such route: "+r.Path)
	case m.BadInt:
		return problem(statusBadRequest, "invalid_path", "a dead letter id is a number")
	case !m.Allowed:
		return methodNotAllowed(m.Route.Methods)
	}
	if m.Route.Access == route.Admin && !route.AdminArea(segs) {
		if s.opt.AdminToken == "" {
			return problem(statusNotFound, "not_found", "admin endpoints are off: the server has no admin token")
		}
		if !Bearer(r.Header, s.opt.AdminToken) {
			return unauthorized("this needs the admin token")
		}
	}
	c := call{r: r, p: m.Params}
	if s.prog.Auth != nil && m.Route.Access == route.Token && (identified[m.Route.Name] || s.opt.Token != "") {
		caller, bad := s.identify(ctx, r)
		if bad != nil {
			return *bad
		}
		if !identified[m.Route.Name] && caller.Anonymous {
			// The documents about the API need a token when the server has
			// one, as without auth: a verified one does.
			return unauthorized("this server needs a bearer token")
		}
		c.caller = caller
	}
	if agg, ok := m.Params["aggregate"]; ok {
		a, bad := s.aggregate(agg)
		if bad != nil {
			return *bad
		}
		if id, ok := m.Params["id"]; ok {
			if bad := checkID(id); bad != nil {
				return *bad
			}
		}
		c.a, c.agg, c.id = a, agg, m.Params["id"]
	}
	return s.handle(ctx, m.Route.Name, &c)
}

// call is a request matched to its route: the route's parameters, and for
// a route of an instance its aggregate and valid id.
type call struct {
	r       *Request
	p       route.Params
	a       *interpreter.Aggregate
	agg, id string
	// caller is who sends the request in a context with auth; nil: a
	// static token, or no auth.
	caller *cuesource.Caller
}

// identified are the routes that serve data under the context's rules;
// the documents describing the API (OpenAPI, the context, its diagram)
// stay readable as before.
var identified = map[string]bool{
	"events": true, "query": true, "projections": true,
	"instance": true, "instance.events": true, "instance.history": true, "command": true,
	"create": true, "instance.byKey": true, "command.byKey": true,
}

// handle answers a request matched to the route called name: each route
// of route.Table has its case. HEAD is GET without a body everywhere; the
// transport drops the body.
func (s *Service) handle(ctx context.Context, name string, c *call) Response {
	switch name {
	case "healthz":
		return s.health(ctx)
	case "openapi":
		if s.openapi.make == nil {
			return problem(statusNotFound, "not_found", "this runtime has no OpenAPI document")
		}
		return s.openapi.response("application/json")
	case "context":
		return s.context.response("application/json")
	case "diagram":
		if s.diagram.make == nil {
			return problem(statusNotFound, "not_found", "this runtime has no diagram")
		}
		return s.diagram.response("image/svg+xml")
	case "events":
		if bad := s.mayReadLog(c.caller); bad != nil {
			return *bad
		}
		return s.readAll(ctx, c)
	case "query":
		return s.query(ctx, c)
	case "projections":
		if c.caller != nil && c.caller.Anonymous {
			return *needsToken()
		}
		return s.projectionStatus(ctx)
	case "projections.action":
		return s.projectionAction(ctx, c)
	case "admin.seed":
		return s.seed(ctx, c)
	case "admin.rehydrate":
		return s.rehydrate(ctx, c)
	case "admin.projectionRow":
		return s.projectionRow(ctx, c)
	case "admin.storage":
		st, err := s.opt.Storage(ctx)
		if err != nil {
			return internal(err)
		}
		return jsonResponse(statusOK, st)
	case "admin.archive.segments":
		return s.archiveSegments(ctx, c)
	case "admin.archive.segment":
		return s.archiveObject(ctx, c)
	case "admin.archive.objects":
		return s.archiveObjects(ctx, c)
	case "deadLetters.list":
		return s.deadLetterList(ctx)
	case "deadLetters.discard":
		return deadLetterResponse(s.opt.DeadLetters.Discard(ctx, deadLetterID(c)))
	case "deadLetters.retry":
		return deadLetterResponse(s.opt.DeadLetters.Retry(ctx, deadLetterID(c)))
	case "instance", "instance.events", "instance.history":
		if bad := s.mayRead(ctx, c); bad != nil {
			return *bad
		}
		switch name {
		case "instance":
			return s.instance(ctx, c)
		case "instance.events":
			return s.instanceEvents(ctx, c)
		}
		return s.history(ctx, c)
	case "command":
		return s.command(ctx, c)
	case "create":
		return s.create(ctx, c)
	case "instance.byKey":
		return s.instanceByKey(ctx, c)
	case "command.byKey":
		return s.commandByKey(ctx, c)
	}
	panic("api: no handler for route " + name)
}

// knownMethods are the methods the Workers runtime knows (it answers any
// other 501 before a Worker sees the request): the same answer natively.
var knownMethods = map[string]bool{}

func init() {
	for _, m := range strings.Fields(`GET HEAD POST PUT DELETE PATCH PURGE OPTIONS TRACE CONNECT COPY LOCK MKCOL MOVE
		PROPFIND PROPPATCH SEARCH UNLOCK ACL REPORT MKACTIVITY CHECKOUT MERGE MSEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE`) {
		knownMethods[m] = true
	}
}

// badHeader is the name of a header whose value has a control character
// other than a tab (RFC 9110, section 5.5), "" if none has. net/http
// refuses such a request before the API sees it; the Workers runtime
// passes it on, so the API refuses it there.
func badHeader(h Header) string {
	for name, vs := range h {
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
					return name
				}
			}
		}
	}
	return ""
}

// segments splits an escaped path into unescaped segments, after
// normalising it as the URL standard does (WHATWG URL, which every
// Workers runtime applies before the Worker sees a request): a backslash
// separates segments, "." and ".." segments (escaped as %2e too) are
// removed with the segment a ".." follows. So `/cart/%2e%2e/Open` is
// `/Open` natively as on Workers, and no dot segment ever becomes an id.
func segments(path string) ([]string, error) {
	path = strings.ReplaceAll(path, `\`, "/")
	path = strings.TrimPrefix(path, "/")
	if path == "" {
		return nil, nil
	}
	raw := strings.Split(path, "/")
	parts := make([]string, 0, len(raw))
	for i, p := range raw {
		last := i == len(raw)-1
		switch {
		case singleDot(p):
			continue
		case doubleDot(p):
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
			continue
		case p == "" && last:
			continue // a trailing slash
		}
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("bad escape in path segment %q", p)
		}
		if u == "" {
			return nil, fmt.Errorf("empty path segment in %q", "/"+path)
		}
		parts = append(parts, u)
	}
	return parts, nil
}

func singleDot(seg string) bool { return seg == "." || strings.EqualFold(seg, "%2e") }

func doubleDot(seg string) bool {
	switch strings.ToLower(seg) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// Bearer reports whether h carries token as a bearer credential. The
// scheme is case-insensitive and may be followed by several spaces
// (RFC 9110, section 11.1); the token itself is compared in constant time.
func Bearer(h Header, token string) bool {
	if token == "" {
		return false
	}
	scheme, got, ok := strings.Cut(h.Get("Authorization"), " ")
	got = strings.TrimLeft(got, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func (s *Service) aggregate(name string) (*interpreter.Aggregate, *Response) {
	a, ok := s.prog.Aggregates[name]
	if !ok {
		r := problem(statusNotFound, string(engine.KindUnknownAggregate), fmt.Sprintf("unknown aggregate %q", name))
		return nil, &r
	}
	return a, nil
}

// checkID refuses an instance id by the rule of cuesource.CheckID.
func checkID(id string) *Response {
	if reason := cuesource.CheckID(id); reason != "" {
		r := problem(statusBadRequest, string(cuesource.KindInvalidID), "the instance id "+reason)
		return &r
	}
	return nil
}

// instance answers GET /{aggregate}/{id}: the state, its version and ETag.
func (s *Service) instance(ctx context.Context, c *call) Response {
	r, agg, id := c.r, c.agg, c.id
	inst, err := s.backend.Load(ctx, agg, id)
	if err != nil {
		return internal(err)
	}
	if inst.Version == 0 {
		return problem(statusNotFound, string(engine.KindInstanceMissing), fmt.Sprintf("%s %s does not exist", agg, id))
	}
	etag := ETag(inst.Version)
	if inm := strings.Join(r.Header["If-None-Match"], ", "); inm != "" && etagListMatches(inm, inst.Version) {
		return Response{Status: statusNotModified, Header: Header{"ETag": {etag}}}
	}
	body, _ := json.Marshal(map[string]any{"aggregate": agg, "id": id, "version": inst.Version, "state": json.RawMessage(inst.State)})
	return Response{Status: statusOK, Header: Header{"Content-Type": {"application/json"}, "ETag": {etag}}, Body: body}
}

// instanceEvents answers GET /{aggregate}/{id}/events?after=N.
func (s *Service) instanceEvents(ctx context.Context, c *call) Response {
	r, agg, id := c.r, c.agg, c.id
	after, bad := intParam(r.Query, "after", 0, 0, 1<<62)
	if bad != nil {
		return *bad
	}
	limit, bad := intParam(r.Query, "limit", MaxPage, 1, MaxPage)
	if bad != nil {
		return *bad
	}
	view, bad := s.viewParams(r.Query)
	if bad != nil {
		return *bad
	}
	evs, err := s.backend.Events(ctx, agg, id, after, int(limit))
	if err != nil {
		return internal(err)
	}
	if evs == nil {
		evs = []store.Event{}
	}
	if bad := s.show(evs, view); bad != nil {
		return *bad
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Version
	}
	body := map[string]any{"aggregate": agg, "id": id, "events": evs, "next": next}
	if h, ok := s.backend.(HotHistory); ok {
		from, err := h.HotFrom(ctx, agg, id)
		if err != nil {
			return internal(err)
		}
		if from > 1 {
			// The versions before it left the hot store for the archive.
			body["hotFrom"] = from
		}
	}
	return jsonResponse(statusOK, body)
}

// MaxPage is the largest page of the global log one request returns.
const MaxPage = 1000

// readAll answers GET /events?after=N&limit=M.
func (s *Service) readAll(ctx context.Context, c *call) Response {
	r := c.r
	after, bad := intParam(r.Query, "after", 0, 0, 1<<62)
	if bad != nil {
		return *bad
	}
	limit, bad := intParam(r.Query, "limit", 100, 1, MaxPage)
	if bad != nil {
		return *bad
	}
	view, bad := s.viewParams(r.Query)
	if bad != nil {
		return *bad
	}
	evs, err := s.backend.ReadAll(ctx, after, int(limit))
	if err != nil {
		return internal(err)
	}
	if evs == nil {
		evs = []store.Event{}
	}
	if bad := s.show(evs, view); bad != nil {
		return *bad
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Position
	}
	return jsonResponse(statusOK, map[string]any{"events": evs, "next": next})
}

// intParam reads an optional integer query parameter within bounds.
func intParam(q url.Values, name string, def, min, max int64) (int64, *Response) {
	raw := q.Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < min || n > max {
		r := problemWith(statusBadRequest, "invalid_parameter",
			fmt.Sprintf("query parameter %s must be an integer from %d to %d, got %q", name, min, max, raw),
			map[string]any{"parameter": name})
		return 0, &r
	}
	return n, nil
}

// command answers POST /{aggregate}/{id}/{command}.
func (s *Service) command(ctx context.Context, c *call) Response {
	cmd, bad := s.commandOf(c)
	if bad != nil {
		return *bad
	}
	req, bad := s.commandRequest(ctx, c, cmd)
	if bad != nil {
		return *bad
	}
	return s.execute(ctx, c, req)
}

// commandOf is the command c's route names.
func (s *Service) commandOf(c *call) (*interpreter.Command, *Response) {
	name := c.p["command"]
	cmd, ok := c.a.Commands[name]
	if !ok {
		r := problem(statusNotFound, string(engine.KindUnknownCommand), fmt.Sprintf("aggregate %s has no command %q", c.agg, name))
		return nil, &r
	}
	return cmd, nil
}

// commandRequest reads the request of command cmd on c.id from its body
// and headers.
func (s *Service) commandRequest(ctx context.Context, c *call, cmd *interpreter.Command) (*cuesource.CommandRequest, *Response) {
	fail := func(r Response) (*cuesource.CommandRequest, *Response) { return nil, &r }
	r, agg, id, name := c.r, c.agg, c.id, c.p["command"]
	if len(r.Body) > s.opt.Limits.MaxBytes {
		return fail(problem(statusRequestEntityTooLarge, string(engine.KindTooLarge),
			fmt.Sprintf("the body is over the limit of %d bytes", s.opt.Limits.MaxBytes)))
	}
	if len(r.Body) > 0 {
		if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
			return fail(problem(statusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("a command body must be application/json, not %q", ct)))
		}
	}
	if c.caller != nil && c.caller.Anonymous && !s.prog.Auth.Anonymous(agg, name) {
		return nil, needsToken()
	}
	req := &cuesource.CommandRequest{
		Aggregate: agg, ID: id, Command: name, Payload: r.Body,
		CommandID: s.opt.NewID(), Time: s.now(), ExpectedVersion: engine.AnyVersion,
		Limits: s.opt.Limits, Caller: c.caller,
	}
	if im := strings.Join(r.Header["If-Match"], ", "); strings.TrimSpace(im) != "" {
		// Several If-Match lines are one list (RFC 9110, section 5.3), as
		// the Workers runtime joins them.
		vs, ok := parseIfMatch(im)
		if !ok {
			return fail(s.badIfMatch(ctx, agg, id, im))
		}
		if len(vs) == 1 {
			req.ExpectedVersion = vs[0]
		} else {
			req.ExpectedVersions = vs
		}
	} else if cmd.IfMatch == "required" {
		return fail(problem(statusPreconditionRequired, "precondition_required",
			fmt.Sprintf("%s needs an If-Match header with the instance's ETag", name)))
	}
	if at := r.Header.Get("Cuesource-Time"); at != "" {
		// A command dated by its sender: how scenarios that set the clock
		// play over HTTP. Only the admin, who may write any history with
		// a seed anyway, may date a command.
		if s.opt.AdminToken == "" || !Bearer(r.Header, s.opt.AdminToken) {
			return fail(problem(statusForbidden, "forbidden", "Cuesource-Time dates a command; only the admin token may send it"))
		}
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return fail(problem(statusBadRequest, "invalid_header", fmt.Sprintf("Cuesource-Time must be an RFC 3339 time, not %q", at)))
		}
		req.Time = t.UTC().Truncate(time.Millisecond)
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > 255 {
			return fail(problem(statusBadRequest, "invalid_header", "Idempotency-Key is longer than 255 characters"))
		}
		req.IdempotencyKey = key
	}
	return req, nil
}

func isJSON(ct string) bool {
	mt, ok := mediaType(ct)
	return ok && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// mediaType reads a Content-Type as mime.ParseMediaType does (RFC 2045:
// type/subtype, then ; name=value parameters, each value a token or a
// quoted string, no name twice) and returns its type in lower case. It
// is written here because package mime, whose tables and file loading
// come with its init, would be the wasm engine's only reason to link it.
func mediaType(v string) (string, bool) {
	base, params, _ := strings.Cut(v, ";")
	mt := strings.ToLower(strings.TrimSpace(base))
	typ, sub, found := strings.Cut(mt, "/")
	if !isToken(typ) || found && !isToken(sub) {
		return "", false
	}
	seen := map[string]bool{}
	rest := params
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return mt, true
		}
		name, after, ok := strings.Cut(rest, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || !isToken(name) || seen[name] {
			return "", false
		}
		seen[name] = true
		after = strings.TrimLeft(after, " \t")
		if strings.HasPrefix(after, `"`) {
			end := 1
			for end < len(after) && after[end] != '"' {
				if after[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(after) {
				return "", false
			}
			after = after[end+1:]
		} else {
			n := 0
			for n < len(after) && isTokenChar(after[n]) {
				n++
			}
			if n == 0 {
				return "", false
			}
			after = after[n:]
		}
		after = strings.TrimLeft(after, " \t")
		if after != "" && after[0] != ';' {
			return "", false
		}
		rest = strings.TrimPrefix(after, ";")
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar: RFC 1521 and RFC 2045 token characters.
func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

// ETag is the (weak) entity tag of an instance version.
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// badIfMatch answers an If-Match that is not * or a list of this API's
// ETags. The detail shows the instance's real current ETag (one read, on
// this error path only) rather than an example that could pass for it.
func (s *Service) badIfMatch(ctx context.Context, agg, id, im string) Response {
	detail := fmt.Sprintf("If-Match must be * or a list of this API's ETags, not %q", im)
	ext := map[string]any{}
	if cur, err := s.backend.Load(ctx, agg, id); err == nil {
		if cur.Version == 0 {
			detail += fmt.Sprintf("; %s %s does not exist yet, so it has no ETag: send no If-Match to create it", agg, id)
		} else {
			detail += fmt.Sprintf("; the instance's current ETag is %s", ETag(cur.Version))
			ext["version"], ext["etag"] = cur.Version, ETag(cur.Version)
		}
	}
	return problemWith(statusBadRequest, "invalid_header", detail, ext)
}

// parseIfMatch reads an If-Match value: "*" (any existing version, which
// the API spells as version cuesource.AnyExisting) or a list of entity tags, weak or
// strong, each naming a version. The versions come back sorted, without
// repeats.
func parseIfMatch(h string) ([]int64, bool) {
	if strings.TrimSpace(h) == "*" {
		return []int64{cuesource.AnyExisting}, true
	}
	var vs []int64
	for _, t := range strings.Split(h, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue // a list may have empty elements
		}
		v, ok := parseETag(t)
		if !ok {
			return nil, false
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	vs = slices.Compact(vs)
	return vs, len(vs) > 0
}

// parseETag reads one entity tag of this API: W/"3" or "3".
func parseETag(t string) (int64, bool) {
	t = strings.TrimPrefix(t, "W/")
	if len(t) < 3 || t[0] != '"' || t[len(t)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(t[1:len(t)-1], 10, 64)
	return n, err == nil && n >= 0
}

func etagListMatches(list string, version int64) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.TrimSpace(t) == "*" {
			return true
		}
		if v, ok := parseETag(strings.TrimSpace(t)); ok && v == version {
			return true
		}
	}
	return false
}

// seed answers POST /admin/seed/{aggregate}/{id} {"events": [...]}.
func (s *Service) seed(ctx context.Context, c *call) Response {
	r := c.r
	if !isJSON(r.Header.Get("Content-Type")) {
		return problem(statusUnsupportedMediaType, "unsupported_media_type", "a seed body must be application/json")
	}
	var body struct {
		Events []cuesource.SeedEvent `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return problem(statusBadRequest, "invalid_json", "the body must be {\"events\": [{\"event\": ..., \"payload\": {...}}]}: "+err.Error())
	}
	// The server names and dates the seed: the body cannot choose event
	// ids, which must not collide with the log's.
	req := &cuesource.SeedRequest{Aggregate: c.agg, ID: c.id, Events: body.Events, CommandID: s.opt.NewID(), Time: s.now()}
	a, err := s.backend.Seed(ctx, req)
	if err != nil {
		return internal(err)
	}
	return Answer(a, req.Aggregate, req.ID)
}

// rehydrate answers POST /admin/rehydrate/{aggregate}/{id}[?fix=true].
func (s *Service) rehydrate(ctx context.Context, c *call) Response {
	fix := c.r.Query.Get("fix") == "true"
	d, err := s.backend.Rehydrate(ctx, c.agg, c.id, fix)
	if err != nil {
		return internal(err)
	}
	if d.Version == 0 {
		return problem(statusNotFound, string(engine.KindInstanceMissing), fmt.Sprintf("%s %s does not exist", c.agg, c.id))
	}
	return jsonResponse(statusOK, d)
}

func jsonResponse(status int, v any) Response {
	body, err := value.Encode(v)
	if err != nil {
		return internal(err)
	}
	return Response{Status: status, Header: Header{"Content-Type": {"application/json"}}, Body: body}
}
