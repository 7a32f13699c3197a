package effect

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/effect/rules"
)

// doer is the native I/O of a delivery (rules.Doer): commands run on the
// backend, webhooks are called with net/http.
type doer struct {
	exec   Executor
	client *http.Client
}

var _ rules.Doer = doer{}

func (d doer) Execute(ctx context.Context, req *api.CommandRequest) (api.Response, error) {
	return d.exec.Execute(ctx, req)
}

// Fetch makes one call within req.Timeout, reads up to 512 bytes of the
// answer and drains up to 1 MiB more so the connection can be reused.
func (d doer) Fetch(ctx context.Context, req *rules.Request) (*rules.Reply, error) {
	var rd io.Reader
	if req.Body != nil {
		rd = bytes.NewReader(req.Body)
	}
	tctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(tctx, req.Method, req.URL, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	resp, err := d.client.Do(hr)
	if err != nil {
		if tctx.Err() == context.DeadlineExceeded {
			err = rules.TimedOut(err)
		}
		return nil, err
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	resp.Body.Close()
	return &rules.Reply{Status: resp.StatusCode, StatusText: resp.Status,
		RetryAfter: resp.Header.Get("Retry-After"), Snippet: string(snippet)}, nil
}
