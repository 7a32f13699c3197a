package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/archive/s3"
	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/diagram"
	"github.com/cuesource/cuesource/effect"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store/sqlite"
	"github.com/cuesource/cuesource/value"
	"github.com/cuesource/cuesource/web"
)

// serverFlags are the flags serve and rehydrate share; each has an
// environment variable (CUESOURCE_ADDR, ...) that sets its default.
type serverFlags struct {
	addr, data, token, adminToken, logFormat, sync string
	maxBody, queryConns, maxStreams                int
	timeout, idempotencyTTL, queryTimeout          time.Duration
	strict, skipIntegrityCheck                     bool
	webhookAllow                                   string         // serve's --webhook-allow
	archive                                        string         // the archive directory or s3:// URL; "": none
	tgt                                            archive.Target // made from archive by openTarget
	archiveEvery                                   time.Duration
	// dev is the development key (play, serve --dev-tokens): tokens it
	// signs are verified beside the context's own; nil: none are.
	dev *auth.Dev
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", env("CUESOURCE_ADDR", "127.0.0.1:8080"), "listen `address` (CUESOURCE_ADDR)")
	fs.StringVar(&f.data, "data", env("CUESOURCE_DATA", "./data"), "data `directory` (CUESOURCE_DATA)")
	fs.StringVar(&f.token, "token", env("CUESOURCE_TOKEN", ""), "require this bearer `token` on every request (CUESOURCE_TOKEN)")
	fs.StringVar(&f.adminToken, "admin-token", env("CUESOURCE_ADMIN_TOKEN", ""), "enable admin endpoints with this bearer `token` (CUESOURCE_ADMIN_TOKEN)")
	fs.StringVar(&f.logFormat, "log-format", env("CUESOURCE_LOG_FORMAT", "text"), "log `format`: text or json (CUESOURCE_LOG_FORMAT)")
	fs.StringVar(&f.sync, "sync", env("CUESOURCE_SYNC", "full"), "SQLite durability: full (survives power loss) or normal (survives a process crash) (CUESOURCE_SYNC)")
	fs.IntVar(&f.maxBody, "max-body", value.DefaultMaxBytes, "largest request body in `bytes`")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request `timeout`")
	fs.BoolVar(&f.strict, "strict", false, "validate every event payload and state against their schemas")
	fs.DurationVar(&f.idempotencyTTL, "idempotency-ttl", cuesource.DefaultIdempotencyTTL, "keep idempotency records for this `duration` (e.g. 24h)")
	fs.BoolVar(&f.skipIntegrityCheck, "skip-integrity-check", false, "open the database without checking its pages first (PRAGMA quick_check reads the whole file)")
	fs.IntVar(&f.queryConns, "query-conns", 4, "`connections` of the pool named queries run on (apart from the one commands read through)")
	fs.DurationVar(&f.queryTimeout, "query-timeout", projections.DefaultQueryTimeout, "stop a named query that runs (or waits for a connection) for this `duration`: 503 query_timeout")
	fs.IntVar(&f.maxStreams, "max-streams", api.DefaultMaxStreams, "most live event streams at once; more are refused with 503 and Retry-After")
	fs.StringVar(&f.archive, "archive", env("CUESOURCE_ARCHIVE", ""), "archive `directory` or s3://bucket/prefix: where events the retention policies let go are kept, and read from (CUESOURCE_ARCHIVE; a bucket's endpoint, credentials and region from "+s3.EndpointVar+", AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)")
}

// target is the archive's target (openStore makes it); nil without
// --archive.
func (f *serverFlags) target() archive.Target { return f.tgt }

// openTarget makes the archive's target: a directory, or an S3-compatible
// bucket (s3://bucket/prefix), read once so that a wrong bucket, endpoint
// or credentials stop the command at its start.
func (f *serverFlags) openTarget(ctx context.Context) error {
	if f.archive == "" || f.tgt != nil {
		return nil
	}
	if !strings.HasPrefix(f.archive, "s3://") {
		f.tgt = archive.Dir(f.archive)
		return nil
	}
	b, err := s3.Open(f.archive, os.Getenv)
	if err != nil {
		return err
	}
	if err := b.Check(ctx); err != nil {
		return err
	}
	f.tgt = b
	return nil
}

// openExisting opens the database of a stopped server for the offline
// commands. It does not create one where there is none: a wrong --data
// would otherwise report nothing, successfully.
func (f *serverFlags) openExisting(ctx context.Context, name string, write bool) (*sqlite.Store, error) {
	path := filepath.Join(f.data, name+".db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database of %s at %s (is --data right?)", name, path)
	}
	st, _, err := f.openStore(ctx, name, write)
	return st, err
}

// openStore opens the context's database in the data directory, creating it
// if needed. A command that writes (serve, and the offline commands that
// change data) takes the database's lock, so it never runs beside another
// writer: their commits would meet as conflicts. Commands that only read
// take none: SQLite (WAL) gives them a consistent snapshot beside a
// running server, and they must not keep one from starting.
func (f *serverFlags) openStore(ctx context.Context, name string, write bool) (*sqlite.Store, string, error) {
	var sync sqlite.Sync
	switch f.sync {
	case "full":
		sync = sqlite.SyncFull
	case "normal":
		sync = sqlite.SyncNormal
	default:
		return nil, "", fmt.Errorf("--sync must be full or normal, not %q", f.sync)
	}
	if err := os.MkdirAll(f.data, 0o755); err != nil {
		return nil, "", err
	}
	if err := f.openTarget(ctx); err != nil {
		return nil, "", err
	}
	path := filepath.Join(f.data, name+".db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Sync: sync, SkipIntegrityCheck: f.skipIntegrityCheck, Lock: write})
	if err == nil && f.tgt != nil {
		// Reads of events that left the hot store go to the archive.
		st.SetArchive(archive.NewReader(f.tgt, st))
	}
	switch {
	case errors.Is(err, sqlite.ErrLocked):
		err = fmt.Errorf("%w; stop that process first (a running server offers the offline commands through its admin endpoints), or use another --data", err)
	case errors.Is(err, sqlite.ErrDamaged):
		err = fmt.Errorf("%w\n  refusing to serve a damaged database: restore it from a backup, or start with --skip-integrity-check to use it as it is", err)
	}
	return st, path, err
}

func (c *command) serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	fs.StringVar(&f.webhookAllow, "webhook-allow", env(egress.Var, ""), "let webhooks call these private `addresses` too: CIDRs, addresses, host names, or * ("+egress.Var+")")
	watching := fs.Bool("watch", false, "vet the context again on every save and swap the new program in while serving (see README: Watch mode)")
	// No environment variable: a development setting left in a
	// deployment's environment must not open it to made-up identities.
	devTokens := fs.Bool("dev-tokens", false, "development only: make a random key at start, accept tokens it signs, and mint them for any identity at POST "+DevTokenPath+" with the admin token (the playground's identity picker)")
	fs.DurationVar(&f.archiveEvery, "archive-every", archive.DefaultEvery, "with --archive and a retention, archive and prune every `interval`")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	var handler slog.Handler
	switch f.logFormat {
	case "text":
		handler = slog.NewTextHandler(c.stderr, nil)
	case "json":
		handler = slog.NewJSONHandler(c.stderr, nil)
	default:
		fmt.Fprintf(c.stderr, "cuesource serve: --log-format must be text or json, not %q\n", f.logFormat)
		return 2
	}
	log := slog.New(handler)
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	if *devTokens {
		a := p.Manifest.Auth
		if a == nil {
			fmt.Fprintln(c.stderr, "cuesource serve: --dev-tokens: the context declares no auth, so there are no identities to mint")
			return 2
		}
		if f.adminToken == "" {
			fmt.Fprintln(c.stderr, "cuesource serve: --dev-tokens needs --admin-token: minting a token for any identity is an admin action")
			return 2
		}
		dev, err := auth.NewDev(a.Issuer, a.Audience)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource serve:", err)
			return 1
		}
		f.dev = dev
		log.Warn("development tokens are on: the admin token mints tokens for any identity at POST " + DevTokenPath + "; never use --dev-tokens with real data")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, path, err := f.openStore(ctx, p.Manifest.Name, true)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource serve:", err)
		return 1
	}
	defer st.Close()
	stk, err := newStack(ctx, p, st, &f, log)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource serve:", err)
		return 1
	}
	defer stk.close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource serve:", err)
		return 1
	}
	h := serveHandler(stk, &f, log, web.Handler(web.Options{}))
	if *watching {
		ws := newWatchStatus(ctx, f.maxStreams)
		h = withWatch(ws, h, f.token, f.adminToken)
		go c.serveWatch(ctx, "serve", pos[0], stk, ws)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    nethttp.ServerMaxHeaderBytes,
		ReadTimeout:       f.timeout,
		WriteTimeout:      f.timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String()
	log.Info("serving", slog.String("context", p.Manifest.Name), slog.String("url", url), slog.String("data", path))
	fmt.Fprint(c.stdout, banner(url, p.Manifest.Name, f.token != ""))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go prune(ctx, st, f.idempotencyTTL, log)
	defined(p, st)
	switch {
	case !policies(p).Active():
	case f.archive == "":
		log.Warn("the context declares a retention but the server has no --archive: every event stays hot")
	default:
		if f.archiveEvery <= 0 {
			fmt.Fprintln(c.stderr, "cuesource serve: --archive-every must be above zero")
			return 2
		}
		// The loop keeps the retention it started with (README), but
		// snapshots and their definition hashes are the program's that
		// serves now: a state is stored under the hash that folded it.
		a := archive.New(st, f.target(), policies(p), archive.Options{At: crashAt(st), Snapshots: snapshotsOf(stk.program, st), Snapshot: snapshotBefore(stk.program, st)})
		archiving := make(chan struct{})
		go func() {
			defer close(archiving)
			a.Loop(ctx, f.archiveEvery, func(err error) {
				log.Error("archiving", slog.String("error", err.Error()))
			})
		}()
		// The store closes only after the step in flight ends: stop ends
		// the loop after it, whichever way serve returns.
		defer func() { stop(); <-archiving }()
	}
	select {
	case err := <-errc:
		fmt.Fprintln(c.stderr, "cuesource serve:", err)
		return 1
	case <-ctx.Done():
	}
	// Graceful: stop accepting, let in-flight commands finish and commit.
	log.Info("shutting down")
	shut, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("shutdown", slog.String("error", err.Error()))
	}
	return 0
}

// stack is a context served over one store: the backend, the projection
// runner, the effect dispatcher and the API service over them.
type stack struct {
	svc   *api.Service
	close func() // stops them, in reverse order; the store stays open
	live         // what a watch swaps the program in (reload.go)
}

func newStack(ctx context.Context, p *interpreter.Program, st *sqlite.Store, f *serverFlags, log *slog.Logger) (*stack, error) {
	var closers []func()
	stk := &stack{close: func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}}
	// Unique keys are rebuilt from the log before the first command when
	// the context's constraints changed (or are new to this store).
	rebuilt, err := native.PrepareKeys(ctx, p, st)
	if err != nil {
		return nil, err
	}
	logRebuilds(log, rebuilt)
	backend := native.New(p, st, engine.Options{Strict: f.strict})
	closers = append(closers, backend.Close)
	// Projections start before the first command: Start installs the
	// inline projections' hook and catches up what is behind.
	queries, err := st.OpenQueries(ctx, f.queryConns)
	if err != nil {
		stk.close()
		return nil, err
	}
	closers = append(closers, func() { _ = queries.Close() })
	runner, err := projections.New(p, st, projections.Options{Waiter: backend, Log: log, Queries: queries, QueryTimeout: f.queryTimeout})
	if err == nil {
		err = runner.Start(ctx)
	}
	if err != nil {
		stk.close()
		return nil, err
	}
	stk.live = live{ctx: ctx, st: st, backend: backend, queries: queries, f: f, log: log}
	stk.rm.r.Store(runner)
	closers = append(closers, func() { stk.rm.r.Load().Close() })
	vars, err := manifest.Vars(p.Manifest, os.Getenv)
	if err != nil {
		stk.close()
		return nil, err
	}
	allow, err := egress.Parse(f.webhookAllow)
	if err != nil {
		stk.close()
		return nil, fmt.Errorf("--webhook-allow: %v", err)
	}
	if a := allow.String(); a != "" {
		log.Warn("webhooks may call private addresses", slog.String("allow", a))
	}
	lookups := cuesource.Readers{QueryFunc: stk.rm.Query, LoadFunc: backend.Load}
	disp, err := effect.New(ctx, p, st, backend, effect.Options{Vars: vars, Log: log, Egress: allow, Lookups: lookups})
	if err != nil {
		stk.close()
		return nil, err
	}
	backend.SetAfterCommit(disp.AfterCommit)
	stk.disp = disp
	// The dispatcher runs even without effects: rows left by effects that
	// were removed from the context get dead-lettered. It stops before the
	// backend and the store close.
	effectsDone := make(chan struct{})
	dctx, stopEffects := context.WithCancel(context.Background())
	go func() { defer close(effectsDone); _ = disp.Run(dctx) }()
	closers = append(closers, func() { stopEffects(); <-effectsDone })
	var identity api.Identifier
	if a := p.Auth; a != nil {
		v, err := auth.ForContext(a.Manifest, os.Getenv, &auth.HTTPFetcher{URL: a.Manifest.JWKSURL}, nil)
		switch {
		case err != nil && f.dev == nil:
			stk.close()
			return nil, err
		case err != nil:
			// A playground of a context whose secret is not set here still
			// works with the identities it mints.
			log.Warn("only development tokens verify", slog.String("why", err.Error()))
			identity = f.dev
		case f.dev != nil:
			identity = auth.Any{f.dev, v} // the context's own last: see auth.Any
		default:
			identity = v
		}
	}
	var served api.Archive
	if t := f.target(); t != nil {
		served = archive.Served{Target: t, Index: st}
	}
	stk.svc = api.New(p, backend, api.Options{
		Identity: identity,
		Token:    f.token, AdminToken: f.adminToken,
		Limits:      value.Limits{MaxBytes: f.maxBody},
		DeadLetters: disp.DeadLetters(),
		ReadModels:  &stk.rm,
		MaxStreams:  f.maxStreams,
		Storage: func(ctx context.Context) (any, error) {
			cur := backend.Program() // a watch may have swapped it
			return archive.StatusOf(ctx, st, f.target(), policies(cur), snapshotsOf(backend.Program, st), time.Now())
		},
		Archive: served,
		Diagram: diagram.SVG,
	})
	return stk, nil
}

// serveHandler is what a server answers with: the page ui at / and
// /ui/, the API everywhere else, and the development tokens when the
// server has a key.
func serveHandler(stk *stack, f *serverFlags, log *slog.Logger, ui http.Handler) http.Handler {
	h := withUI(nethttp.Handler(stk.svc, nethttp.Options{Timeout: f.timeout, Log: log}), ui)
	if f.dev != nil {
		h = devTokens(f.dev, stk.program, f.adminToken, h)
	}
	return h
}

// withUI serves the playground at / and /ui/, and the API everywhere else.
func withUI(apiHandler, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/") {
			ui.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}

func banner(url, name string, token bool) string {
	auth := ""
	if token {
		auth = ` -H "Authorization: Bearer $CUESOURCE_TOKEN"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cuesource: %s at %s\n\n", name, url)
	fmt.Fprintf(&b, "  curl%s %s/openapi.json\n", auth, url)
	if name == "shop" {
		fmt.Fprintf(&b, "  curl%s -H 'Content-Type: application/json' -d '{\"customer\":\"ada\"}' %s/cart/c1/Open\n", auth, url)
		fmt.Fprintf(&b, "  curl%s -H 'Content-Type: application/json' -d '{\"sku\":\"TEA-01\",\"qty\":2,\"price\":4.5}' %s/cart/c1/AddItem\n", auth, url)
		fmt.Fprintf(&b, "  curl%s %s/cart/c1\n", auth, url)
	}
	fmt.Fprintf(&b, "  curl%s %s/events\n", auth, url)
	fmt.Fprintf(&b, "  curl%s -N -H 'Accept: text/event-stream' %s/events\n\n", auth, url)
	return b.String()
}

// prune deletes idempotency records older than ttl, now and then every
// tenth of ttl (at least a minute), until ctx ends.
func prune(ctx context.Context, st *sqlite.Store, ttl time.Duration, log *slog.Logger) {
	every := max(ttl/10, time.Minute)
	for {
		n, err := st.PruneIdempotency(ctx, time.Now().Add(-ttl))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("pruning idempotency records", slog.String("error", err.Error()))
		case n > 0:
			log.Info("pruned idempotency records", slog.Int64("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// crashAt reads CUESOURCE_TEST_CRASH (point:n, the points "written",
// "indexed" and "pruning"): the process kills itself (SIGKILL) the n-th
// time the archiver reaches that point. Only the crash tests set it.
func crashAt(st *sqlite.Store) func(string) {
	spec := os.Getenv("CUESOURCE_TEST_CRASH")
	if spec == "" {
		return nil
	}
	point, nth, _ := strings.Cut(spec, ":")
	n, _ := strconv.Atoi(nth)
	seen := 0
	at := func(p string) {
		if p != point {
			return
		}
		if seen++; seen >= n {
			self, _ := os.FindProcess(os.Getpid())
			_ = self.Kill()
			select {} // the signal is on its way
		}
	}
	st.SetPruning(func() { at("pruning") })
	return at
}

// snapshotBefore snapshots an instance before its events leave the hot
// store (archive.Options.Snapshot), under its current definition.
func snapshotBefore(program func() *interpreter.Program, st *sqlite.Store) func(ctx context.Context, aggregate, id string, upto int64) error {
	return archive.SnapshotBefore(st, func(aggregate string) string {
		if a := program().Aggregates[aggregate]; a != nil {
			return a.Hash
		}
		return ""
	}, time.Now)
}

// snapshotsOf is what the sinceSnapshot rule asks: the version of an
// instance's newest snapshot taken under its aggregate's current
// definition (one of another definition cannot start a rehydration, so
// the events before it must stay).
func snapshotsOf(program func() *interpreter.Program, st *sqlite.Store) archive.Snapshots {
	return func(ctx context.Context, aggregate, id string) (int64, error) {
		a := program().Aggregates[aggregate]
		if a == nil {
			return 0, nil
		}
		s, ok, err := st.Snapshot(ctx, aggregate, id, a.Hash)
		if err != nil || !ok {
			return 0, err
		}
		return s.Version, nil
	}
}
