package edge

import (
	"context"
	"errors"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
)

// The live stream of the global log (GET /events as Server-Sent Events)
// on Workers: one stream script per connection, api.Service.Stream's as
// natively (authentication, ?after and Last-Event-ID, the frames). The
// shell performs its operations: "open" (answer the stream's headers),
// "write" (send frames), "sleep" (wait before reading the log again: D1
// has no notifications, so the stream polls).

// Timings of a stream.
const (
	// pollEvery is the wait between reads of the log while it is quiet.
	pollEvery = 500 * time.Millisecond
	// streamLife bounds a stream: then it ends and the client reconnects
	// with its Last-Event-ID (EventSource does so by itself). A Worker
	// learns that a client went away only when a write fails, and a write
	// to a gone client may succeed (it does under local workerd): without
	// a bound such a stream would poll D1 and hold its place under the
	// cap for good. CUESOURCE_STREAM_LIFE overrides it.
	streamLife = 5 * time.Minute
)

type streamInput struct {
	Request WireRequest `json:"request"`
}

// Streamed is the end of a stream script: Response, when set, refuses the
// stream (401, 400) before it opened.
type Streamed struct {
	Response *WireResponse `json:"response,omitempty"`
}

// errQuiet ends a wait with no new events: the stream sends a keep-alive.
var errQuiet = errors.New("edge: the log is quiet")

// poller is the backend of a stream: a notifier that flushes the frames
// written so far, then sleeps; after api.KeepAlive of quiet it has the
// stream send a keep-alive.
type poller struct {
	*backend
	w     *frames
	quiet time.Duration
	// left is what remains of the stream's life, counted in its waits (a
	// script reads no clock); end ends the stream when it runs out.
	left time.Duration
	end  context.CancelFunc
}

func (p *poller) Wait(context.Context, int64) error {
	if len(p.w.buf) > 0 {
		if err := p.w.flush(); err != nil {
			return err
		}
		p.quiet = 0
	}
	if err := p.h.do(Op{Kind: "sleep", Arg: pollEvery.Milliseconds()}, nil); err != nil {
		return err
	}
	if p.left -= pollEvery; p.left <= 0 {
		p.end()
		return nil
	}
	if p.quiet += pollEvery; p.quiet >= api.KeepAlive {
		p.quiet = 0
		return errQuiet
	}
	return nil
}

// frames writes a stream through the shell: events are buffered and
// written before each wait.
type frames struct {
	h   *host
	buf []byte
}

func (f *frames) Open() error {
	return f.h.do(Op{Kind: "open", Arg: [][2]string{{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-store"}}}, nil)
}

// flushAt bounds the frames a stream holds before it writes them: a
// catch-up reads full pages without waiting, and would otherwise hold the
// whole log it catches up on.
const flushAt = 64 << 10

func (f *frames) Event(e store.Event) error {
	var err error
	if f.buf, err = api.SSEFrame(f.buf, e); err != nil || len(f.buf) < flushAt {
		return err
	}
	return f.flush()
}

func (f *frames) KeepAlive() error {
	f.buf = append(f.buf, ": keep-alive\n\n"...)
	return f.flush()
}

func (f *frames) flush() error {
	err := f.h.do(Op{Kind: "write", Arg: string(f.buf)}, nil)
	f.buf = f.buf[:0]
	return err
}

// stream serves one live stream until the client goes away (a write
// fails), the log cannot be read or its life is over (the client
// reconnects with its Last-Event-ID).
func (c *Core) stream(in []byte, h *host) (any, error) {
	var si streamInput
	if err := decodeInput(in, &si); err != nil {
		return nil, err
	}
	w := &frames{h: h}
	ctx, end := context.WithCancel(withHost(context.Background(), h))
	defer end()
	resp := c.svc.With(&poller{backend: &backend{h: h, c: c}, w: w, left: c.streamLife, end: end}, nil, nil).Stream(ctx, apiRequest(si.Request), w)
	if resp != nil {
		wr := toWire(*resp)
		return Streamed{Response: &wr}, nil
	}
	return Streamed{}, nil
}
