package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// WireRequest is an HTTP request as the shell hands it over.
type WireRequest struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`  // escaped, as sent
	Query   string      `json:"query"` // raw, without "?"
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
	// BodyOver says the body is over Info.MaxBody bytes: declared so by
	// Content-Length, or found so while reading. The shell stops reading
	// it, and the request is answered 413 as natively.
	BodyOver bool `json:"bodyOver,omitempty"`
}

// WireResponse is an HTTP response as the shell sends it. Bodies are
// strings, never re-encoded by JavaScript, so what a client reads is byte
// for byte what Go wrote.
type WireResponse struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
	// Stream says the request asks for the live stream of the log: the
	// shell answers it with the stream script.
	Stream bool `json:"stream,omitempty"`
}

func toWire(r api.Response) WireResponse {
	w := WireResponse{Status: r.Status, Body: string(r.Body), Headers: [][2]string{}}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[k] {
			w.Headers = append(w.Headers, [2]string{k, v})
		}
	}
	return w
}

// serveInput is the input of the serve script: the request, and the clock
// reading and the id the shell took for it (so a transcript is repeatable).
type serveInput struct {
	Request WireRequest `json:"request"`
	Now     time.Time   `json:"now"`
	ID      string      `json:"id"`
}

// serve answers an HTTP request through api.Service: Done is a
// WireResponse.
func (c *Core) serve(in []byte, h *host) (any, error) {
	var si serveInput
	if err := decodeInput(in, &si); err != nil {
		return nil, err
	}
	if c.faults != nil && strings.HasPrefix(si.Request.Path, "/__test/") {
		if si.Request.BodyOver {
			return toWire(api.TooLarge(c.svc.MaxBody())), nil
		}
		return c.testSwitch(si.Request, h), nil
	}
	req := apiRequest(si.Request)
	b := &backend{h: h, c: c}
	ids := 0
	svc := c.svc.With(b, &readModels{c: c, h: h}, &deadLetters{h: h})
	svc = svc.WithStorage(c.storage(h, si.Now)).WithClock(func() time.Time { return si.Now }, func() string {
		ids++
		if ids == 1 {
			return si.ID
		}
		return si.ID + "-" + strconv.Itoa(ids)
	})
	if a := c.served(h, si.Now); a != nil {
		svc = svc.WithArchive(a)
	}
	if api.WantsStream(req) {
		// The live stream is the stream script's, run in a loop by the
		// shell.
		return WireResponse{Stream: true}, nil
	}
	if si.Request.BodyOver {
		return toWire(api.TooLarge(c.svc.MaxBody())), nil
	}
	return sent(h, si.Request, svc.Serve(withHost(context.Background(), h), req)), nil
}

// sent is a response as the client gets it, as api/nethttp writes one:
// the cause of an internal error goes to the log, not the client, and a
// HEAD request or a status that has no body (101, 204, 205, 304) gets
// none.
func sent(h *host, req WireRequest, r api.Response) WireResponse {
	if cause := r.Header.Get("X-Cuesource-Error"); cause != "" {
		_ = h.do(Op{Kind: "log", Method: "error", Arg: fmt.Sprintf("cuesource: %s %s %d %s", req.Method, req.Path, r.Status, cause)}, nil)
		r.Header.Del("X-Cuesource-Error")
	}
	switch {
	case req.Method == "HEAD", r.Status == 101, r.Status == 204, r.Status == 205, r.Status == 304:
		r.Body = nil
	}
	return toWire(r)
}

// apiRequest is the api.Request of a wire request.
func apiRequest(w WireRequest) *api.Request {
	// Like net/http's URL.Query: what parses is kept; the API checks the
	// parameters it reads.
	q, _ := url.ParseQuery(w.Query)
	req := &api.Request{Method: w.Method, Path: w.Path, Query: q, Header: api.Header{}, Body: []byte(w.Body)}
	for _, h := range w.Headers {
		req.Header.Add(h[0], h[1])
	}
	return req
}

// backend is api.Backend over the shell: each call is an operation on the
// instance's Durable Object or on D1.
type backend struct {
	h *host
	c *Core // reads what left D1 from the archive
}

func (b *backend) object(agg, id string, t transact, out any) error {
	return b.h.transact(agg, id, t, out)
}

func (b *backend) Execute(_ context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	return execute(b.h, req)
}

// execute has a command decided by its instance's object, which answers
// in the domain's terms (api maps them to HTTP, an effect reads them).
func execute(h *host, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	var a cuesource.Answer
	t := transact{Fn: "decide", Reads: decideReads(h.prog, req), Input: map[string]any{"request": toWireCommand(req)}}
	err := h.transact(req.Aggregate, req.ID, t, &a)
	return a, err
}

func (b *backend) Seed(_ context.Context, req *cuesource.SeedRequest) (cuesource.Answer, error) {
	var a cuesource.Answer
	t := transact{Fn: "seed", Reads: seedReads(b.h.prog, req.Aggregate), Input: map[string]any{"request": req}}
	err := b.object(req.Aggregate, req.ID, t, &a)
	return a, err
}

func (b *backend) Load(_ context.Context, agg, id string) (store.Instance, error) {
	var rows [][]wireInstance
	if err := b.object(agg, id, transact{Reads: []Statement{stmt(d1.ObjectInstance)}}, &rows); err != nil {
		return store.Instance{}, err
	}
	var inst wireInstance
	if len(rows) == 1 && len(rows[0]) > 0 {
		inst = rows[0][0]
	}
	return inst.instance(agg, id), nil
}

func (b *backend) Events(_ context.Context, agg, id string, after int64, limit int) ([]store.Event, error) {
	var rows [][]wireEvent
	read := stmt(d1.ObjectEvents, after)
	if limit > 0 {
		read = stmt(d1.ObjectEventsPage, after, limit, store.PageBytes)
	}
	if err := b.object(agg, id, transact{Reads: []Statement{read}}, &rows); err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("events of %s %s: %d results for one read", agg, id, len(rows))
	}
	evs, err := eventsOf(rows[0], agg, id)
	if err != nil || limit > 0 || !b.c.archiving() || len(evs) > 0 && evs[0].Version == after+1 {
		// A page is the object's; its answer says where that begins
		// (HotFrom).
		return evs, err
	}
	// The whole history (GET /{aggregate}/{id}/history): the versions
	// the object let go are read from the log.
	var end, upto int64
	if len(evs) > 0 {
		end, upto = evs[0].Position, evs[0].Version-1
	} else if cur, err := b.Load(context.Background(), agg, id); err != nil || cur.Version <= after {
		return evs, err // nothing after `after` (or no such instance)
	} else {
		upto = cur.Version
	}
	older, err := b.c.older(b.h, agg, id, after, end, upto)
	if err != nil {
		return nil, err
	}
	return append(older, evs...), nil
}

// HotFrom implements api.HotHistory: where the object's history begins.
func (b *backend) HotFrom(_ context.Context, agg, id string) (int64, error) {
	return b.c.hotFrom(b.h, agg, id)
}

// Rehydrate folds from the object's snapshot under the current
// definition when it can, else (again) from the first event.
func (b *backend) Rehydrate(_ context.Context, agg, id string, fix bool) (*cuesource.Drift, error) {
	hash := ""
	if a := b.c.prog.Aggregates[agg]; a != nil {
		hash = a.Hash
	}
	var older []store.Event
	for pass, fromSnapshot := range []bool{hash != "", false, false} {
		var r Rehydrated
		in := map[string]any{"aggregate": agg, "id": id, "fix": fix, "fromSnapshot": fromSnapshot}
		if older != nil {
			in["older"] = older
		}
		t := transact{Fn: "rehydrate", Reads: rehydrateReads(fromSnapshot, hash), Input: in}
		if err := b.object(agg, id, t, &r); err != nil {
			return nil, err
		}
		if !r.Again && r.Drift != nil {
			return r.Drift, nil
		}
		if r.MissingBefore > 0 && pass == 1 {
			// From the first event, which the object let go: the
			// versions before its first are read from the log.
			var err error
			if older, err = b.c.older(b.h, agg, id, 0, r.MissingAt, r.MissingBefore-1); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("rehydrate %s %s: no fold from the first event", agg, id)
}

func (b *backend) ReadAll(_ context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = api.MaxPage
	}
	res, err := b.h.query(d1.ReadAll, after, limit, store.PageBytes)
	if err != nil {
		return nil, err
	}
	hot, err := eventsOfRows(res.Rows)
	if err != nil {
		return nil, err
	}
	evs, _, err := b.c.readWhole(b.h, after, limit, hot)
	return evs, err
}

// wireInstance is an instance row of a Durable Object.
type wireInstance struct {
	Version int64  `json:"version"`
	State   string `json:"state"`
}

func (w wireInstance) instance(agg, id string) store.Instance {
	inst := store.Instance{Aggregate: agg, ID: id, Version: w.Version}
	if w.Version > 0 {
		inst.State = json.RawMessage(w.State)
	}
	return inst
}

// wireEvent is an event row, of a Durable Object or of D1's log.
type wireEvent struct {
	Position      *int64 `json:"position"`
	ID            string `json:"id"`
	Aggregate     string `json:"aggregate"`
	Instance      string `json:"instance"`
	Version       int64  `json:"version"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schema_version"`
	Time          string `json:"time"`
	CommandID     string `json:"command_id"`
	Payload       string `json:"payload"`
	// Meta is the event's recorded metadata (JSON), nil for an event
	// written without.
	Meta *string `json:"meta"`
}

// metaText is an event's meta as a column value: NULL when it has none.
func metaText(meta json.RawMessage) *string {
	if len(meta) == 0 {
		return nil
	}
	s := string(meta)
	return &s
}

func eventsOf(rows []wireEvent, agg, id string) ([]store.Event, error) {
	out := make([]store.Event, 0, len(rows))
	for _, r := range rows {
		e := store.Event{ID: r.ID, Aggregate: r.Aggregate, Instance: r.Instance, Version: r.Version, Type: r.Type,
			SchemaVersion: r.SchemaVersion, CommandID: r.CommandID, Payload: json.RawMessage(r.Payload)}
		if r.Meta != nil && *r.Meta != "" {
			e.Meta = json.RawMessage(*r.Meta)
		}
		if r.Position != nil {
			e.Position = *r.Position
		}
		if e.Aggregate == "" {
			e.Aggregate, e.Instance = agg, id
		}
		t, err := d1.Time(r.Time)
		if err != nil {
			return nil, err
		}
		e.Time = t
		out = append(out, e)
	}
	return out, nil
}

// wireCommand is an cuesource.CommandRequest on its way to an object: the
// payload travels as a JSON string, because it may not be JSON at all
// (the engine then answers invalid_json, as natively; a json.RawMessage
// that is not JSON does not marshal).
type wireCommand struct {
	*cuesource.CommandRequest
	Payload string `json:"payload"`
}

func toWireCommand(req *cuesource.CommandRequest) wireCommand {
	return wireCommand{CommandRequest: req, Payload: string(req.Payload)}
}

func (w wireCommand) request() *cuesource.CommandRequest {
	req := *w.CommandRequest
	req.Payload = json.RawMessage(w.Payload)
	return &req
}
