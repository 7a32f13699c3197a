package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/diagram"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/internal/lens/check"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store/d1"
	"github.com/cuesource/cuesource/worker/shell"
)

// CompatibilityDate is the Workers compatibility date of a build: the
// newest the pinned local runtime (workerd from miniflare 4) accepts.
const CompatibilityDate = "2026-08-01"

// worker runs `cuesource worker build|dev|deploy`.
func (c *command) worker(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, "cuesource worker: build, dev or deploy\n\n", usage)
		return 2
	}
	switch args[0] {
	case "build":
		return c.workerBuild(args[1:])
	case "dev":
		return c.workerDev(args[1:])
	case "deploy":
		return c.workerDeploy(args[1:])
	}
	fmt.Fprintf(c.stderr, "cuesource worker: unknown command %q\n\n%s", args[0], usage)
	return 2
}

type workerFlags struct {
	name, d1ID, wasm, dir string
	webhookAllow          string
	vars                  varFlags
}

type varFlags []string

func (v *varFlags) String() string { return strings.Join(*v, ",") }
func (v *varFlags) Set(s string) error {
	if !strings.Contains(s, "=") {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	*v = append(*v, s)
	return nil
}

func (f *workerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "the Worker's `name` (default: the context's name)")
	fs.StringVar(&f.d1ID, "d1-id", "", "the D1 database `id` (from `wrangler d1 create`; any id works locally)")
	fs.StringVar(&f.wasm, "wasm", "", "the engine's wasm build `FILE` (default: engine.wasm beside the cuesource executable, or $CUESOURCE_WASM)")
	fs.StringVar(&f.webhookAllow, "webhook-allow", "", "let webhooks call these private `addresses` too, as serve's --webhook-allow: written to wrangler.jsonc's vars as "+egress.Var)
}

func (c *command) workerBuild(args []string) int {
	fs := flag.NewFlagSet("worker build", flag.ContinueOnError)
	var f workerFlags
	f.register(fs)
	out := fs.String("o", "", "write the Worker to `DIR`")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(c.stderr, "cuesource worker build: -o DIR is required")
		return 2
	}
	var kept bool
	if _, ok := c.buildWorkerIf(pos[0], *out, &f, func(p *interpreter.Program) bool {
		kept = !retention.Declared(p.Manifest) // as the R2 binding is decided
		return true
	}); !ok {
		return 1
	}
	fmt.Fprintf(c.stdout, "wrote the Worker to %s: deploy it with `npx wrangler deploy` there (`cuesource worker dev CONTEXT` builds and serves a context locally by itself)\n", *out)
	if kept {
		// D1 holds 10 GB at most: a log that only grows fills it.
		fmt.Fprintln(c.stdout, "note: the context declares no retention, so every event stays in D1, which holds 10 GB at most; declare one to archive old events to R2 (README: Retention and archive)")
	}
	return 0
}

// buildWorker writes the Worker of a context to dir and returns its name.
func (c *command) buildWorker(ctxPath, dir string, f *workerFlags) (string, bool) {
	return c.buildWorkerIf(ctxPath, dir, f, nil)
}

// buildWorkerIf is buildWorker with a last check of the compiled program
// before anything is written: a rebuild under worker dev --watch checks
// the stored log with the program it compiled, not a second compile.
func (c *command) buildWorkerIf(ctxPath, dir string, f *workerFlags, ok func(*interpreter.Program) bool) (string, bool) {
	data, p, err := compileManifest(ctxPath)
	if err == nil {
		if errs := projections.CheckQueries(p); len(errs) > 0 {
			err = errs
		} else {
			err = d1Limits(p)
		}
	}
	if err != nil {
		c.report(err, false)
		return "", false
	}
	if ok != nil && !ok(p) {
		return "", false
	}
	var vars map[string]string
	if f.webhookAllow != "" {
		if _, err := egress.Parse(f.webhookAllow); err != nil {
			fmt.Fprintln(c.stderr, "cuesource worker: --webhook-allow:", err)
			return "", false
		}
		vars = map[string]string{egress.Var: f.webhookAllow}
	}
	// The Worker never runs scenarios: leaving them out makes its cold
	// start parse less.
	if m, err := manifest.Parse(data); err == nil {
		m.Scenarios = nil
		if b, err := compiler.Marshal(m); err == nil {
			data = b
		}
	}
	queryJSON, err := projections.QueryJSON(p)
	if err != nil {
		c.report(err, false)
		return "", false
	}
	wasm, wasmExec, err := findEngine(f.wasm)
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource worker:", err)
		return "", false
	}
	name := f.name
	if name == "" {
		name = workerName(p.Manifest.Name)
	}
	d1ID := f.d1ID
	if d1ID == "" {
		d1ID = "00000000-0000-0000-0000-000000000000"
	}
	queue, dlq := name+"-effects", name+"-effects-dlq"
	// The diagram and the OpenAPI document are written here, not in the
	// engine: their writers stay out of the wasm.
	buildCfg, _ := json.Marshal(map[string]any{"queryJSON": queryJSON, "queue": queue, "deadLetterQueue": dlq,
		"diagram": string(diagram.SVG(p.Manifest)), "openapi": string(api.OpenAPI(p))})
	context := fmt.Sprintf("// Written by `cuesource worker build`: the compiled context.\nexport const manifest = %s;\nexport const build = %s;\n", data, buildCfg)
	files := map[string][]byte{
		"worker.mjs":     shell.Worker,
		"context.mjs":    []byte(context),
		"wrangler.jsonc": wranglerConfig(name, d1ID, queue, dlq, p, vars),
	}
	for name, b := range d1.Migrations() {
		files["migrations/"+name] = b
	}
	for _, src := range []struct{ from, to string }{{wasm, "engine.wasm"}, {wasmExec, "wasm_exec.js"}} {
		b, err := os.ReadFile(src.from)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource worker:", err)
			return "", false
		}
		files[src.to] = b
	}
	for rel, b := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
			// Unchanged: left alone, so a rebuild under worker dev --watch
			// touches only what changed (the manifest, not the engine or
			// the config, which would restart wrangler dev).
			continue
		}
		werr := os.MkdirAll(filepath.Dir(path), 0o755)
		if werr == nil {
			werr = os.WriteFile(path, b, 0o644)
		}
		if err := werr; err != nil {
			fmt.Fprintln(c.stderr, "cuesource worker:", err)
			return "", false
		}
	}
	return name, true
}

// d1MaxColumns is how many columns a D1 table holds.
const d1MaxColumns = 100

// d1Limits refuses what D1 cannot hold, positioned: a projection's table
// has its key and a column per projection column.
func d1Limits(p *interpreter.Program) error {
	var errs diag.List
	for _, name := range slices.Sorted(maps.Keys(p.Manifest.Projections)) {
		mp := p.Manifest.Projections[name]
		if n := len(mp.Columns) + 1; n > d1MaxColumns {
			errs.Add(mp.Pos, "projection %s has %d columns and its key: a D1 table holds at most %d columns, so it cannot run on Workers", name, len(mp.Columns), d1MaxColumns)
		}
	}
	return errs.Err()
}

// findEngine locates engine.wasm and the wasm_exec.js of the Go that built
// it (they must match): a flag, $CUESOURCE_WASM, or beside the executable,
// where `make build` puts them.
func findEngine(flagPath string) (wasm, wasmExec string, err error) {
	var candidates []string
	if flagPath != "" {
		candidates = []string{flagPath}
	} else if env := os.Getenv("CUESOURCE_WASM"); env != "" {
		candidates = []string{env}
	} else if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		candidates = []string{filepath.Join(filepath.Dir(exe), "engine.wasm")}
	}
	for _, w := range candidates {
		exec := filepath.Join(filepath.Dir(w), "wasm_exec.js")
		if _, err := os.Stat(w); err != nil {
			continue
		}
		if _, err := os.Stat(exec); err != nil {
			return "", "", fmt.Errorf("%s has no wasm_exec.js beside it (copy it from $(go env GOROOT)/lib/wasm of the Go that built it)", w)
		}
		return w, exec, nil
	}
	return "", "", fmt.Errorf("the engine's wasm build is not found (looked at %s): `make build` writes it beside the cuesource executable, or build it with GOOS=js GOARCH=wasm go build -o engine.wasm ./worker and pass --wasm", strings.Join(candidates, ", "))
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// workerName makes a Worker name (lower case letters, digits, hyphens).
func workerName(s string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if n == "" {
		n = "cuesource"
	}
	return n
}

// wranglerConfig is the build's wrangler.jsonc; vars are its plain-text
// bindings (the Worker's shell passes them to Go as configuration).
func wranglerConfig(name, d1ID, queue, dlq string, p *interpreter.Program, vars map[string]string) []byte {
	type binding struct {
		Name      string `json:"name"`
		ClassName string `json:"class_name"`
	}
	cfg := map[string]any{
		"name":               name,
		"main":               "worker.mjs",
		"compatibility_date": CompatibilityDate,
		"durable_objects": map[string]any{"bindings": []binding{
			{"AGGREGATE", "Aggregate"}, {"PROJECTOR", "Projector"}, {"ARCHIVER", "Archiver"},
		}},
		"migrations": []map[string]any{
			{"tag": "v1", "new_sqlite_classes": []string{"Aggregate", "Projector"}},
			{"tag": "v2", "new_sqlite_classes": []string{"Archiver"}},
		},
		"d1_databases": []map[string]any{{
			"binding": "DB", "database_name": name, "database_id": d1ID, "migrations_dir": "migrations",
		}},
	}
	if len(vars) > 0 {
		cfg["vars"] = vars
	}
	if retention.Declared(p.Manifest) {
		// Events the retention policies let go leave D1 for this bucket
		// (README, Retention and archive).
		cfg["r2_buckets"] = []map[string]any{{"binding": "ARCHIVE", "bucket_name": name + "-archive"}}
	}
	if len(p.Effects) > 0 {
		// Queue effects are delivered by the queue's consumer in this
		// Worker; a dead letter's retry goes through it too. Each message
		// is retried up to the largest retry.max of the effects (the
		// deliverer dead-letters it then); what the queue still gives up
		// on (a consumer that kept failing) reaches the dead-letter
		// queue, whose consumer records it.
		tries := 1
		for _, e := range p.Effects {
			tries = max(tries, e.MaxTries)
		}
		cfg["queues"] = map[string]any{
			"producers": []map[string]any{{"binding": "QUEUE", "queue": queue}},
			"consumers": []map[string]any{
				{"queue": queue, "max_batch_size": 10, "max_batch_timeout": 1, "max_retries": min(tries+1, 100), "dead_letter_queue": dlq},
				{"queue": dlq, "max_batch_size": 10, "max_batch_timeout": 1, "max_retries": 10},
			},
		}
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	head := "// Written by `cuesource worker build` from the context: edit the context and\n" +
		"// build again rather than this file. database_id comes from --d1-id.\n"
	return append([]byte(head), append(b, '\n')...)
}

// wranglerCommand is how wrangler runs: $CUESOURCE_WRANGLER (a command
// line, e.g. the repository's scripts/wrangler), else `wrangler` on PATH,
// else `npx wrangler`.
func wranglerCommand() ([]string, error) {
	if w := os.Getenv("CUESOURCE_WRANGLER"); w != "" {
		return strings.Fields(w), nil
	}
	if p, err := exec.LookPath("wrangler"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("npx"); err == nil {
		return []string{p, "wrangler"}, nil
	}
	return nil, errors.New("wrangler is not found: install it (npm i -D wrangler) or set CUESOURCE_WRANGLER")
}

// runWrangler runs wrangler in dir, passing signals on to its process
// group, so no workerd is left behind.
func (c *command) runWrangler(dir string, args ...string) error {
	w, err := wranglerCommand()
	if err != nil {
		return err
	}
	cmd := exec.Command(w[0], append(w[1:], args...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr, cmd.Stdin = c.stdout, c.stderr, os.Stdin
	cmd.Env = os.Environ()
	for _, kv := range []string{"CLOUDFLARE_CF_FETCH_ENABLED=false", "WRANGLER_SEND_METRICS=false"} {
		if os.Getenv(strings.Split(kv, "=")[0]) == "" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case s := <-sig:
		_ = syscall.Kill(-cmd.Process.Pid, s.(syscall.Signal))
		<-done
		return nil
	}
}

func (c *command) workerDev(args []string) int {
	fs := flag.NewFlagSet("worker dev", flag.ContinueOnError)
	var f workerFlags
	f.register(fs)
	fs.StringVar(&f.dir, "dir", ".cuesource/worker", "build the Worker in `DIR`")
	persist := fs.String("persist", ".cuesource/state", "keep Durable Object and D1 state in `DIR`")
	port := fs.Int("port", 8787, "listen on 127.0.0.1:`PORT`")
	fs.Var(&f.vars, "var", "a `NAME=VALUE` binding for the Worker (repeatable), e.g. CUESOURCE_ADMIN_TOKEN=...")
	watching := fs.Bool("watch", true, "rebuild the Worker on every save of the context, which wrangler dev then reloads")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if _, ok := c.buildWorker(pos[0], f.dir, &f); !ok {
		return 1
	}
	if *watching {
		// A save rebuilds the Worker's files in place; wrangler dev sees
		// them change and reloads, with the objects' and D1's state kept.
		// A context that does not vet leaves the last good build serving.
		wctx, stopWatch := context.WithCancel(context.Background())
		defer stopWatch()
		first := true
		go func() {
			err := c.watchContext(wctx, pos[0], func() {
				if first { // built above
					first = false
					return
				}
				start := time.Now()
				canRead := func(p *interpreter.Program) bool { return c.devCanRead(p, *port, f.vars) }
				if _, ok := c.buildWorkerIf(pos[0], f.dir, &f, canRead); ok {
					fmt.Fprintf(c.stderr, "cuesource worker dev: rebuilt %s in %s; wrangler dev reloads it\n", pos[0], time.Since(start).Round(time.Millisecond))
				} else {
					fmt.Fprintln(c.stderr, "cuesource worker dev: the last good build keeps serving")
				}
			})
			if err != nil {
				fmt.Fprintln(c.stderr, "cuesource worker dev: watch:", err)
			}
		}()
	}
	// Local bindings go to .dev.vars, which wrangler dev reads.
	var dv strings.Builder
	for _, kv := range f.vars {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&dv, "%s=%s\n", k, strconv.Quote(v))
	}
	if err := os.WriteFile(filepath.Join(f.dir, ".dev.vars"), []byte(dv.String()), 0o600); err != nil {
		fmt.Fprintln(c.stderr, "cuesource worker dev:", err)
		return 1
	}
	state, err := filepath.Abs(*persist)
	if err == nil {
		err = c.runWrangler(f.dir, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state)
	}
	if err == nil {
		err = c.runWrangler(f.dir, "dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(*port), "--persist-to", state)
	}
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource worker dev:", err)
		return 1
	}
	return 0
}

// devCanRead checks that the saved context's program p reads every event
// the running Worker has stored (lens check over its log, as `lens check
// --from` does): an edit the stored data cannot follow is refused, with
// its failures, as an invalid one is. A log that cannot be read (the
// Worker not up yet) does not hold the rebuild back.
func (c *command) devCanRead(p *interpreter.Program, port int, vars []string) bool {
	token := ""
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		if k == "CUESOURCE_ADMIN_TOKEN" || (k == "CUESOURCE_TOKEN" && token == "") {
			token = v
		}
	}
	ck := check.New(p)
	if err := checkPages(ck, httpPages(fmt.Sprintf("http://127.0.0.1:%d", port), token)); err != nil {
		fmt.Fprintln(c.stderr, "cuesource worker dev: the stored log could not be checked:", err)
		return true
	}
	if len(ck.Failures) == 0 {
		return true
	}
	for _, f := range ck.Failures {
		fmt.Fprintln(c.stderr, f)
	}
	fmt.Fprintf(c.stderr, "cuesource worker dev: refused: %d stored event(s) cannot be read by the edited context (lens check above)\n", len(ck.Failures))
	return false
}

func (c *command) workerDeploy(args []string) int {
	fs := flag.NewFlagSet("worker deploy", flag.ContinueOnError)
	var f workerFlags
	f.register(fs)
	fs.StringVar(&f.dir, "dir", ".cuesource/worker", "build the Worker in `DIR`")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if f.d1ID == "" {
		fmt.Fprintln(c.stderr, "cuesource worker deploy: --d1-id is required (create the database with `wrangler d1 create NAME`)")
		return 2
	}
	if _, ok := c.buildWorker(pos[0], f.dir, &f); !ok {
		return 1
	}
	err := c.runWrangler(f.dir, "d1", "migrations", "apply", "DB", "--remote")
	if err == nil {
		err = c.runWrangler(f.dir, "deploy")
	}
	if err != nil {
		fmt.Fprintln(c.stderr, "cuesource worker deploy:", err)
		return 1
	}
	return 0
}
