package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store/sqlite"
	"github.com/cuesource/cuesource/web"
)

// play serves a context as a simulation: the playground at /, the API
// beside it, over a store in a temporary directory that is removed at
// exit and emptied by POST /admin/reset. The admin token is made up at
// start and given to the page, so every admin action works from it; so is
// a development key, with which the page mints the identities it acts as.
func (c *command) play(args []string) int {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	allow := fs.String("webhook-allow", env(egress.Var, ""), "let webhooks call these private `addresses` too: CIDRs, addresses, host names, or * ("+egress.Var+")")
	watching := fs.Bool("watch", true, "vet the context again on every save and swap the new program in (--watch=false: serve the context as started)")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "cuesource-play-")
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource play:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	var token [16]byte
	_, _ = rand.Read(token[:])
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// A simulation mints the identities the page acts as (its identity
	// picker), with a key that lives as long as this process.
	var iss, aud string
	if a := p.Manifest.Auth; a != nil {
		iss, aud = a.Issuer, a.Audience
	}
	dev, err := auth.NewDev(iss, aud)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource play:", err)
		return 1
	}
	pl := &playground{ctx: ctx, p: p, dir: dir, log: log,
		f: serverFlags{data: dir, sync: "normal", adminToken: hex.EncodeToString(token[:]), timeout: 30 * time.Second, webhookAllow: *allow, dev: dev}}
	pl.ui = web.Handler(web.Options{AdminToken: pl.f.adminToken, Play: true})
	if err := pl.start(); err != nil {
		fmt.Fprintln(c.stderr, "cuesource play:", err)
		return 1
	}
	defer pl.stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource play:", err)
		return 1
	}
	fmt.Fprintf(c.stderr, "cuesource: playing %s at http://%s (nothing is kept; POST /admin/reset starts again)\n", p.Manifest.Name, ln.Addr())
	var h http.Handler = pl
	if *watching {
		ws := newWatchStatus(ctx, 0)
		h = withWatch(ws, pl)
		go c.serveWatch(ctx, "play", pos[0], pl, ws)
	}
	return c.serveUntil(ctx, "play", ln, h)
}

// serveUntil serves h on ln until ctx ends, then shuts down gracefully.
func (c *command) serveUntil(ctx context.Context, name string, ln net.Listener, h http.Handler) int {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(c.stderr, "cuesource %s: %v\n", name, err)
		return 1
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(c.stderr, "cuesource %s: %v\n", name, err)
	}
	return 0
}

// playground is the served stack and what replaces it on reset. Requests
// hold the read lock while they run; a reset takes the write lock, so it
// waits for them and none sees a half-replaced stack. Requests run under
// the round's context too, so a reset ends the live streams that would
// otherwise hold the lock forever.
type playground struct {
	ctx context.Context
	p   *interpreter.Program
	dir string
	f   serverFlags
	log *slog.Logger
	ui  http.Handler // the page: the same in every round

	mu          sync.RWMutex
	st          *sqlite.Store
	stk         *stack
	h           http.Handler
	round       int
	roundCtx    context.Context
	cancelRound context.CancelFunc
}

func (pl *playground) start() error {
	pl.round++
	pl.f.data = fmt.Sprintf("%s/%d", pl.dir, pl.round) // a fresh database
	st, _, err := pl.f.openStore(pl.ctx, pl.p.Manifest.Name, true)
	if err != nil {
		return err
	}
	stk, err := newStack(pl.ctx, pl.p, st, &pl.f, pl.log)
	if err != nil {
		st.Close()
		return err
	}
	pl.st, pl.stk, pl.h = st, stk, serveHandler(stk, &pl.f, pl.log, pl.ui)
	pl.roundCtx, pl.cancelRound = context.WithCancel(pl.ctx)
	return nil
}

// program and swap make the playground a swapper: the watch swaps the
// program of the current round, and a reset starts the next round with the
// program swapped in last. Only the watch writes pl.p, under the read lock
// (a reset, which reads it, holds the write lock).
func (pl *playground) program() *interpreter.Program {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	return pl.p
}

func (pl *playground) swap(p *interpreter.Program) (string, error) {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	warning, err := pl.stk.swap(p)
	if err == nil {
		pl.p = p
	}
	return warning, err
}

func (pl *playground) stop() {
	pl.cancelRound()
	pl.stk.close()
	pl.st.Close()
	os.RemoveAll(pl.f.data)
}

func (pl *playground) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/reset" {
		pl.reset(w, r)
		return
	}
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(pl.roundCtx, cancel)()
	pl.h.ServeHTTP(w, r.WithContext(ctx))
}

func (pl *playground) reset(w http.ResponseWriter, r *http.Request) {
	if !hasBearer(r, pl.f.adminToken) {
		nethttp.Write(w, api.Unauthorized("admin endpoints need the admin token"), r.Method)
		return
	}
	if r.Method != http.MethodPost {
		nethttp.Write(w, api.MethodNotAllowed("POST"), r.Method)
		return
	}
	pl.mu.RLock()
	pl.cancelRound() // ends the live streams, which release their read locks
	pl.mu.RUnlock()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.stop()
	if err := pl.start(); err != nil {
		pl.log.Error("reset", slog.String("error", err.Error()))
		nethttp.Write(w, api.Problem(http.StatusInternalServerError, "internal", "the reset failed; see the log"), r.Method)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
