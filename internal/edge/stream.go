package edge

import (
	"context"
	"errors"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
)

// The live stream of the global log (GET /events as Server-Sent Events)
// on Workers: the shell keeps the connection and runs the stream script
// in a loop, each run answering the frames of the events after the
// position it reached. Everything the stream decides (authentication,
// ?after and Last-Event-ID, the frames) is api.Service.Stream's, as
// natively; only the wait between pages is the shell's (it polls).

type streamInput struct {
	Request WireRequest `json:"request"`
}

// Streamed is one run of the stream script.
type Streamed struct {
	// Response, when set, refuses the stream (401, 400): the shell answers
	// it instead.
	Response *WireResponse `json:"response,omitempty"`
	// Frames are the SSE frames of the events after the position asked
	// for, and Next the position of the last one (-1: no events).
	Frames string `json:"frames"`
	Next   int64  `json:"next"`
}

// errPage ends a run after one page: the shell waits, not Go.
var errPage = errors.New("edge: one page of the stream")

// pager is the backend of a stream run: a notifier whose wait ends the run.
type pager struct{ *backend }

func (pager) Wait(context.Context, int64) error { return errPage }

// frames collects a page's frames.
type frames struct {
	buf  []byte
	last int64
}

func (f *frames) Open() error { return nil }

func (f *frames) Event(e store.Event) error {
	var err error
	f.buf, err = api.SSEFrame(f.buf, e)
	f.last = e.Position
	return err
}

func (f *frames) KeepAlive() error { return errPage }

func (c *Core) stream(in []byte, h *host) (any, error) {
	var si streamInput
	if err := decodeInput(in, &si); err != nil {
		return nil, err
	}
	w := &frames{last: -1}
	resp := c.svc.With(pager{&backend{h: h}}, nil, nil).Stream(context.Background(), apiRequest(si.Request), w)
	if resp != nil {
		wr := toWire(*resp)
		return Streamed{Response: &wr, Next: -1}, nil
	}
	return Streamed{Frames: string(w.buf), Next: w.last}, nil
}
