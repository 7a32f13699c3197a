package nethttp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/store"
)

// MaxHeaderBytes bounds a request's line and headers together, as the
// Workers runtime does (it answers 431 above 128 KiB). Give the net/http
// server ServerMaxHeaderBytes: it reads 4096 bytes more than it is told.
const (
	MaxHeaderBytes       = 128 << 10
	ServerMaxHeaderBytes = MaxHeaderBytes - 4096
)

// Options tune the adapter.
type Options struct {
	// Timeout bounds one request (not a stream); zero means 30s.
	Timeout time.Duration
	Log     *slog.Logger
}

// Handler serves s over net/http.
func Handler(s *api.Service, opt Options) http.Handler {
	if opt.Timeout == 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &handler{s: s, opt: opt}
}

type handler struct {
	s   *api.Service
	opt Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	start := time.Now()
	req := &api.Request{Method: hr.Method, Path: requestPath(hr), Query: hr.URL.Query(), Header: api.Header(hr.Header)}
	if api.WantsStream(req) {
		h.stream(w, hr, req)
		return
	}
	var body []byte
	var err error
	// A declared length over the limit is refused before a byte is read:
	// net/http sends "100 Continue" only when the handler first reads, so
	// a client that waits for it sends nothing.
	if hr.ContentLength <= int64(h.s.MaxBody()) {
		// Read one byte past the limit to tell "at the limit" from "over
		// it" when the length is not declared.
		body, err = io.ReadAll(io.LimitReader(hr.Body, int64(h.s.MaxBody())+1))
	}
	var resp api.Response
	switch {
	case hr.ContentLength > int64(h.s.MaxBody()):
		resp = api.TooLarge(h.s.MaxBody())
		// The rest of the body is not read, so the connection cannot
		// carry another request.
		w.Header().Set("Connection", "close")
	case err != nil:
		resp = api.Problem(http.StatusBadRequest, "invalid_body", "reading the body failed: "+err.Error())
	case len(body) > h.s.MaxBody():
		resp = api.TooLarge(h.s.MaxBody())
	default:
		req.Body = body
		ctx, cancel := context.WithTimeout(hr.Context(), h.opt.Timeout)
		resp = h.s.Serve(ctx, req)
		cancel()
	}
	cause := resp.Header.Get("X-Cuesource-Error")
	Write(w, resp, hr.Method)
	level := slog.LevelInfo
	if resp.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", hr.Method), slog.String("path", hr.URL.Path), slog.Int("status", resp.Status),
		slog.Duration("duration", time.Since(start)),
	}
	if cause != "" {
		attrs = append(attrs, slog.String("error", cause))
	}
	h.opt.Log.LogAttrs(hr.Context(), level, "request", attrs...)
}

// requestPath is the path as the client sent it: EscapedPath re-escapes
// what it cannot tell apart (a backslash becomes %5C), while the API
// normalises the path itself, as the URL standard does.
func requestPath(hr *http.Request) string {
	p, _, _ := strings.Cut(hr.RequestURI, "?")
	if !strings.HasPrefix(p, "/") {
		return hr.URL.EscapedPath() // absolute-form, or a request made in-process
	}
	return p
}

// Write writes r to w, without its body when answering HEAD; the cause of
// an internal error stays in the server's log.
func Write(w http.ResponseWriter, r api.Response, method string) {
	for k, v := range r.Header {
		if k != "X-Cuesource-Error" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(r.Status)
	if method != http.MethodHead {
		_, _ = w.Write(r.Body)
	}
}

func (h *handler) stream(w http.ResponseWriter, hr *http.Request, req *api.Request) {
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	if resp := h.s.Stream(hr.Context(), req, sw); resp != nil {
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.Status)
		_, _ = w.Write(resp.Body)
		h.opt.Log.Info("request", slog.String("method", hr.Method), slog.String("path", hr.URL.Path), slog.Int("status", resp.Status))
		return
	}
	h.opt.Log.Info("stream ended", slog.String("path", hr.URL.Path))
}

type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *sseWriter) Open() error {
	s.w.Header().Set("Content-Type", "text/event-stream")
	s.w.Header().Set("Cache-Control", "no-store")
	s.w.WriteHeader(http.StatusOK)
	// A stream outlives the server's write timeout by design.
	_ = s.rc.SetWriteDeadline(time.Time{})
	return s.rc.Flush()
}

func (s *sseWriter) Event(e store.Event) error {
	frame, err := api.SSEFrame(nil, e)
	if err != nil {
		return err
	}
	if _, err := s.w.Write(frame); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseWriter) KeepAlive() error {
	if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}
