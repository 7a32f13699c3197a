package effect

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/internal/effect/rules"
	"github.com/cuesource/cuesource/interpreter"
)

// doer is the native I/O of a delivery (rules.Doer): commands run on the
// backend, webhooks are called with net/http.
type doer struct {
	exec   Executor
	client *http.Client
	// prog and lookups read a sent command's look-ups before it runs, as
	// the API does for a client's (nil lookups: none are read).
	prog    func() *interpreter.Program
	lookups cuesource.LookupReader
}

var _ rules.Doer = doer{}

// Execute runs a send's command; a look-up that cannot be read fails the
// delivery, which is retried.
func (d doer) Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	if d.lookups != nil {
		if err := cuesource.ReadLookups(ctx, d.prog(), req, d.lookups); err != nil {
			return cuesource.Answer{}, err
		}
	}
	return d.exec.Execute(ctx, req)
}

// Fetch makes one call within req.Timeout, reads up to rules.SnippetBytes of the
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
		var refused *egress.Refusal
		switch {
		case errors.As(err, &refused):
			return nil, refused // without net/http's wrapping, which repeats the URL
		case tctx.Err() == context.DeadlineExceeded:
			err = rules.TimedOut(err)
		}
		return nil, err
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, rules.SnippetBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	resp.Body.Close()
	return &rules.Reply{Status: resp.StatusCode, StatusText: resp.Status,
		RetryAfter: resp.Header.Get("Retry-After"), Location: resp.Header.Get("Location"), Snippet: string(snippet)}, nil
}

// hostKey carries the host a connection is dialled for to the dialer's
// control function.
type hostKey struct{}

// webhookClient is the client of webhook calls. It checks every address
// it connects to against the policy, after DNS resolution (so a name
// that resolves, or rebinds, to a private address is refused), does not
// follow redirects (a redirect is the answer; the rules fail the
// delivery) and uses no proxy (the proxy would connect for it, unchecked).
func webhookClient(p egress.Policy) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	d.ControlContext = func(ctx context.Context, _, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		host, _ := ctx.Value(hostKey{}).(string)
		return p.CheckAddr(host, ap.Addr())
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(context.WithValue(ctx, hostKey{}, host), network, addr)
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
