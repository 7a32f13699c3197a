package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cuesource/cuesource/web"
)

// inspect serves the playground on this machine over a running server or
// Worker: the page at / and /ui/, every other request forwarded to URL.
// The browser talks to one origin, so a deployment needs no CORS; the
// tokens stay on this machine (the admin token is handed to the page, the
// token added to requests that carry none). With --as the page starts
// acting as that identity, whose tokens the server mints (serve
// --dev-tokens).
func (c *command) inspect(args []string) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	token := fs.String("token", env("CUESOURCE_TOKEN", ""), "bearer `token` the server requires (CUESOURCE_TOKEN)")
	adminToken := fs.String("admin-token", env("CUESOURCE_ADMIN_TOKEN", ""), "the server's admin `token`, for the admin actions (CUESOURCE_ADMIN_TOKEN)")
	as := fs.String("as", "", "act as this identity in the page: a sub, or the claims as a JSON `object`; the server mints its tokens (serve --dev-tokens), so --admin-token is needed")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	target, err := url.Parse(strings.TrimRight(pos[0], "/"))
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		fmt.Fprintf(c.stderr, "cuesource inspect: %q is not an http(s) URL\n", pos[0])
		return 2
	}
	var asJSON string
	if *as != "" {
		claims, err := asClaims(*as)
		if err == nil && *adminToken == "" {
			err = errors.New("needs --admin-token: the server mints the identity's tokens for the admin token only")
		}
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource inspect: --as:", err)
			return 2
		}
		// Refused claims, or a server that mints none, fail here rather
		// than in the page.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = mintAt(ctx, target.String(), *adminToken, claims)
		cancel()
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource inspect: --as:", err)
			return 1
		}
		b, _ := json.Marshal(claims)
		asJSON = string(b)
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
	return c.serveUntil(ctx, "inspect", ln, withUI(proxy, web.Handler(web.Options{AdminToken: *adminToken, Inspect: target.String(), As: asJSON})))
}

// asClaims reads --as: a JSON object of claims, or a sub.
func asClaims(as string) (map[string]any, error) {
	if !strings.HasPrefix(strings.TrimSpace(as), "{") {
		return map[string]any{"sub": as}, nil
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(as), &claims); err != nil {
		return nil, fmt.Errorf("not a JSON object of claims: %v", err)
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, errors.New(`the claims need a sub (a non-empty string), such as {"sub": "ada", "roles": ["customer"]}`)
	}
	return claims, nil
}

// mintAt has the server at base mint a token for claims, to learn that it
// can: nil, or why not.
func mintAt(ctx context.Context, base, admin string, claims map[string]any) error {
	body, _ := json.Marshal(claims)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+DevTokenPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var p struct {
		Detail     string `json:"detail"`
		Violations []struct {
			Pointer string `json:"pointer"`
			Message string `json:"message"`
		} `json:"violations"`
	}
	_ = json.Unmarshal(data, &p)
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s mints no tokens (%s): start it with serve --dev-tokens, or use play", base, p.Detail)
	case resp.StatusCode == http.StatusUnauthorized:
		return errors.New("the server refused the admin token")
	}
	msg := fmt.Sprintf("the server refused the claims (HTTP %d): %s", resp.StatusCode, p.Detail)
	for _, v := range p.Violations {
		msg += fmt.Sprintf("; %s: %s", v.Pointer, v.Message)
	}
	return errors.New(msg)
}
