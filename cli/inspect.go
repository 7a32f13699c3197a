package cli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cuesource/cuesource/web"
)

// inspect serves the playground on this machine over a running server or
// Worker: the page at / and /ui/, every other request forwarded to URL.
// The browser talks to one origin, so a deployment needs no CORS; the
// tokens stay on this machine (the admin token is handed to the page, the
// token added to requests that carry none).
func (c *command) inspect(args []string) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	token := fs.String("token", env("CUESOURCE_TOKEN", ""), "bearer `token` the server requires (CUESOURCE_TOKEN)")
	adminToken := fs.String("admin-token", env("CUESOURCE_ADMIN_TOKEN", ""), "the server's admin `token`, for the admin actions (CUESOURCE_ADMIN_TOKEN)")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	target, err := url.Parse(strings.TrimRight(pos[0], "/"))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		fmt.Fprintf(c.stderr, "cuesource inspect: %q is not an http(s) URL\n", pos[0])
		return 2
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			if *token != "" && r.In.Header.Get("Authorization") == "" {
				r.Out.Header.Set("Authorization", "Bearer "+*token)
			}
		},
		FlushInterval: -1, // the live stream
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource inspect:", err)
		return 1
	}
	fmt.Fprintf(c.stderr, "cuesource: inspecting %s at http://%s\n", target, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.serveUntil(ctx, "inspect", ln, withUI(proxy, web.Handler(web.Options{AdminToken: *adminToken, Inspect: target.String()})))
}
