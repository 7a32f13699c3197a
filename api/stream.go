package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/store"
)

// Notifier is what a Backend offers for live subscriptions: Wait returns
// once the global log holds a position after `after`, or ctx ends.
type Notifier interface {
	Wait(ctx context.Context, after int64) error
}

// EventWriter receives a live stream: Open once the request is accepted
// (the transport sends its headers), then each event, and keep-alives while
// the log is quiet. An error ends the stream (the client went away).
type EventWriter interface {
	Open() error
	Event(e store.Event) error
	KeepAlive() error
}

// SSEFrame appends the Server-Sent Events frame of an event of the global
// log to buf: its position as the id, aggregate.Type as the event name, the
// stored event as the data.
func SSEFrame(buf []byte, e store.Event) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return buf, err
	}
	buf = append(buf, "id: "...)
	buf = strconv.AppendInt(buf, e.Position, 10)
	buf = append(buf, "\nevent: "...)
	buf = append(buf, e.Aggregate+"."+e.Type...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	return append(buf, "\n\n"...), nil
}

// DefaultMaxStreams is the cap on live streams when Options set none.
const DefaultMaxStreams = 256

// KeepAlive is how often a quiet stream says it is alive.
var KeepAlive = 15 * time.Second

// WantsStream reports whether r asks for the global log as Server-Sent
// Events.
func WantsStream(r *Request) bool {
	return r.Method == methodGet && strings.Trim(r.Path, "/") == "events" &&
		strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// Stream serves GET /events as a live subscription: everything after the
// position in Last-Event-ID (or ?after), then new events as they commit,
// until ctx ends or w fails. A non-nil Response means the request was
// refused before streaming began.
func (s *Service) Stream(ctx context.Context, r *Request, w EventWriter) *Response {
	s = s.current()
	if s.prog.Auth != nil {
		caller, bad := s.identify(ctx, r)
		if bad == nil {
			bad = s.mayReadLog(caller)
		}
		if bad != nil {
			return bad
		}
	} else if s.opt.Token != "" && !Bearer(r.Header, s.opt.Token) && !Bearer(r.Header, s.opt.AdminToken) {
		resp := unauthorized("this server needs a bearer token")
		return &resp
	}
	n, ok := s.backend.(Notifier)
	if !ok {
		resp := problem(statusNotAcceptable, "not_acceptable", "this runtime does not stream the log; poll GET /events?after=")
		return &resp
	}
	after, bad := intParam(r.Query, "after", 0, 0, 1<<62)
	if bad != nil {
		return bad
	}
	view, bad := s.viewParams(r.Query)
	if bad != nil {
		return bad
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		v, err := strconv.ParseInt(id, 10, 64)
		if err != nil || v < 0 {
			resp := problem(statusBadRequest, "invalid_header", "Last-Event-ID must be a log position, not "+strconv.Quote(id))
			return &resp
		}
		after = v
	}
	// Counted before the stream opens: a stream past the cap is refused
	// before it costs anything. The count is this process's; on Workers
	// the isolate's, whose Go runtime runs each of its streams.
	if n := s.streams.Add(1); s.opt.MaxStreams > 0 && n > int64(s.opt.MaxStreams) {
		s.streams.Add(-1)
		resp := problemWith(statusServiceUnavailable, "too_many_streams",
			fmt.Sprintf("this server already serves its limit of %d live streams; retry later, or poll GET /events?after=", s.opt.MaxStreams),
			map[string]any{"limit": "maxStreams", "max": s.opt.MaxStreams})
		resp.Header.Set("Retry-After", "5")
		return &resp
	}
	defer s.streams.Add(-1)
	if w.Open() != nil {
		return nil
	}
	for {
		evs, err := s.backend.ReadAll(ctx, after, MaxPage)
		// Each page is shown by the program installed now: a stream
		// outlives a swap and must read the events the new one writes.
		if err != nil || s.current().show(evs, view) != nil {
			return nil // mid-stream: nothing useful to answer; the client reconnects
		}
		for _, e := range evs {
			if w.Event(e) != nil {
				return nil
			}
			after = e.Position
		}
		if len(evs) == MaxPage {
			continue
		}
		wait, cancel := context.WithTimeout(ctx, KeepAlive)
		err = n.Wait(wait, after)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && w.KeepAlive() != nil {
			return nil
		}
	}
}
