package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/projections"
)

const usage = `cuesource: event-sourced bounded contexts from one CUE file

Usage:
  cuesource vet CONTEXT [--json] [--watch] check a context, listing every error
  cuesource build CONTEXT -o FILE          write the compiled manifest (JSON)
  cuesource test CONTEXT [-run RE] [-v] [--json] [--url URL [--token T] [--admin-token T] [--keep-ids]]
                                           run the context's scenarios (in process, or over HTTP)
  cuesource run CONTEXT --aggregate A --id X --command NAME [--payload JSON]
                [--given FILE [--record]] [--command-id ID] [--time RFC3339]
                                           decide one command, print events and state
  cuesource serve CONTEXT [--addr A] [--data DIR] [--token T] [--admin-token T]
                [--log-format text|json] [--sync full|normal] [--max-body N] [--timeout D]
                [--idempotency-ttl D] [--strict] [--webhook-allow LIST] [--skip-integrity-check]
                [--query-conns N] [--query-timeout D] [--max-streams N] [--watch]
                [--archive DIR [--archive-every D]]
                                           serve the context over HTTP, stored in SQLite
                                           (--watch: swap in each save that vets)
  cuesource play CONTEXT [--addr A] [--webhook-allow LIST] [--watch=false]
                                           the playground over a store that is not kept,
                                           swapping in each save that vets
  cuesource inspect URL [--addr A] [--token T] [--admin-token T]
                                           the playground over a running server or Worker
  cuesource rehydrate CONTEXT [--data DIR] [--aggregate A --id X] [--fix] [--json]
                                           rebuild states from events and report drift
  cuesource keys status|rebuild CONTEXT [--aggregate A] [--data DIR] [--json]
                                           report on or rebuild unique keys from the log
                                           (server stopped)
  cuesource projections status|rebuild CONTEXT [NAME] [--data DIR] [--json]
                                           report on or rebuild projections (server stopped)
  cuesource deadletters list|retry|discard CONTEXT [ID] [--data DIR] [--json]
                                           effect deliveries that gave up (server stopped)
  cuesource archive run|verify CONTEXT --archive DIR [--data DIR] [--json]
  cuesource archive verify CONTEXT --url URL [--admin-token T] [--json]
  cuesource archive restore CONTEXT (--archive DIR [--data DIR] | --url URL [--admin-token T])
                          --into DIR [--from P] [--to P]
                                           archive and prune once, check every segment,
                                           or restore a range into a fresh store (--url:
                                           of a running server or Worker)
  cuesource storage status CONTEXT [--data DIR] [--archive DIR | --url URL [--admin-token T]] [--json]
                                           the hot log against its budget, the archive's
                                           segments, what each policy lets go next
  cuesource diagram CONTEXT [-o FILE]       draw the event model as SVG
  cuesource export CONTEXT [--data DIR | --url URL [--token T]] [--after P] [-o FILE]
                                           write the global log as stored, as NDJSON
  cuesource lens check CONTEXT (--events FILE | --from URL [--token T]) [--json]
                                           replay stored events through the context's lenses,
                                           reducers and projections; list every failure
  cuesource token CONTEXT --sub ID [--roles A,B] [--claims JSON] [--ttl D] [--key FILE [--kid K]]
                                           mint a test token for the context's auth (its
                                           secretEnv's secret, or a dev key made at FILE)
  cuesource worker build CONTEXT -o DIR [--name N] [--d1-id ID] [--wasm FILE] [--webhook-allow LIST]
                                           write the Cloudflare Worker of a context
  cuesource worker dev CONTEXT [--dir DIR] [--port P] [--persist DIR] [--var NAME=VALUE] [--watch]
                                           run it locally under wrangler dev (workerd)
  cuesource worker deploy CONTEXT --d1-id ID [--dir DIR]
                                           migrate D1 and deploy it with wrangler
                                           (dev and deploy also take build's flags)
  cuesource version                        print the version

CONTEXT is a .cue file or a directory holding one CUE package.
`

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Main runs the command line with os.Args and the process's streams.
func Main() int { return Run(os.Args[1:], os.Stdout, os.Stderr) }

// Run runs one command line.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	c := &command{stdout: stdout, stderr: stderr}
	switch args[0] {
	case "vet":
		return c.vet(args[1:])
	case "build":
		return c.build(args[1:])
	case "test":
		return c.test(args[1:])
	case "run":
		return c.run(args[1:])
	case "serve":
		return c.serve(args[1:])
	case "play":
		return c.play(args[1:])
	case "inspect":
		return c.inspect(args[1:])
	case "rehydrate":
		return c.rehydrate(args[1:])
	case "deadletters":
		return c.deadletters(args[1:])
	case "projections":
		return c.projections(args[1:])
	case "keys":
		return c.keys(args[1:])
	case "worker":
		return c.worker(args[1:])
	case "diagram":
		return c.diagram(args[1:])
	case "export":
		return c.export(args[1:])
	case "archive":
		return c.archiveCmd(args[1:])
	case "storage":
		return c.storage(args[1:])
	case "lens":
		return c.lens(args[1:])
	case "token":
		return c.token(args[1:])
	case "version":
		fmt.Fprintln(stdout, "cuesource", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "cuesource: unknown command %q\n\n%s", args[0], usage)
	return 2
}

type command struct {
	stdout, stderr io.Writer
}

// parse parses flags that may come before or after positional arguments.
func (c *command) parse(fs *flag.FlagSet, args []string, positional int) ([]string, bool) {
	fs.SetOutput(c.stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		fmt.Fprintf(c.stderr, "cuesource %s: expected %d argument(s), got %d\n\n%s", fs.Name(), positional, len(pos), usage)
		return nil, false
	}
	return pos, true
}

// load compiles and checks a context, reporting errors to stderr.
func (c *command) load(path string, asJSON bool) (*interpreter.Program, bool) {
	p, err := compileProgram(path)
	if err != nil {
		c.report(err, asJSON)
		return nil, false
	}
	return p, true
}

// compileProgram compiles and checks the context at path as vet does; the
// error lists every problem, positioned.
func compileProgram(path string) (*interpreter.Program, error) {
	m, err := compiler.Compile(path)
	if err != nil {
		return nil, err
	}
	p, err := interpreter.Compile(m)
	if err != nil {
		return nil, err
	}
	// Queries are SQL over the projection tables: checked natively by
	// preparing them against those tables alone.
	cols, errs := projections.QueryColumns(p)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	// A look-up's rows are typed by its query's result columns, which
	// only SQL knows: the commands that read them are checked again.
	if looksUpQueries(p) {
		if err := interpreter.CheckLookups(m, cols); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// looksUpQueries reports whether a command of p looks up a query's rows.
func looksUpQueries(p *interpreter.Program) bool {
	for _, a := range p.Aggregates {
		for _, c := range a.Commands {
			for _, l := range c.Lookups {
				if l.Query != "" {
					return true
				}
			}
		}
	}
	return false
}

func (c *command) report(err error, asJSON bool) {
	if !asJSON {
		fmt.Fprint(c.stderr, diag.Render(err, nil))
		return
	}
	var list diag.List
	if !errors.As(err, &list) {
		list = diag.List{{Msg: err.Error()}}
	}
	type jsonErr struct {
		File    string `json:"file,omitempty"`
		Line    int    `json:"line,omitempty"`
		Col     int    `json:"col,omitempty"`
		Path    string `json:"path,omitempty"`
		Message string `json:"message"`
	}
	out := []jsonErr{}
	for _, e := range list {
		out = append(out, jsonErr{e.Pos.File, e.Pos.Line, e.Pos.Col, e.Pos.Path, e.Msg})
	}
	c.json(map[string]any{"ok": false, "errors": out})
}

func (c *command) json(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (c *command) vet(args []string) int {
	fs := flag.NewFlagSet("vet", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	watching := fs.Bool("watch", false, "vet again on every save, until interrupted")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if *watching {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return c.vetWatch(ctx, pos[0], *asJSON)
	}
	return c.vetOnce(pos[0], *asJSON)
}

// vetOnce vets the context at path: 0 when it is valid, 1 when not.
func (c *command) vetOnce(path string, asJSON bool) int {
	p, ok := c.load(path, asJSON)
	if !ok {
		return 1
	}
	if asJSON {
		out := map[string]any{"ok": true, "name": p.Manifest.Name}
		if len(p.Warnings) > 0 {
			var warns []string
			for _, w := range p.Warnings {
				warns = append(warns, w.Error())
			}
			out["warnings"] = warns
		}
		c.json(out)
		return 0
	}
	// Warnings do not fail vet: on the inputs a context expects, such
	// expressions are fine, and the budget refuses the others.
	for _, w := range p.Warnings {
		fmt.Fprint(c.stderr, "warning: "+diag.Render(w, nil))
	}
	return 0
}

func (c *command) build(args []string) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("o", "", "write the manifest to `FILE` (- for standard output)")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(c.stderr, "cuesource build: -o FILE is required (- for standard output)")
		return 2
	}
	data, _, err := compileManifest(pos[0])
	if err != nil {
		c.report(err, false)
		return 1
	}
	if *out == "-" {
		_, _ = c.stdout.Write(data)
		return 0
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintln(c.stderr, "cuesource build:", err)
		return 1
	}
	return 0
}

// compileManifest compiles a context to the manifest's bytes, with
// positions relative to the context's directory: the same context builds to
// the same bytes wherever the build runs.
func compileManifest(path string) ([]byte, *interpreter.Program, error) {
	m, err := compiler.Compile(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := interpreter.Compile(m)
	if err != nil {
		return nil, nil, err
	}
	base := path
	if fi, err := os.Stat(base); err == nil && !fi.IsDir() {
		base = filepath.Dir(base)
	}
	if abs, err := filepath.Abs(base); err == nil {
		m.MapFiles(func(f string) string {
			if af, err := filepath.Abs(f); err == nil {
				if r, err := filepath.Rel(abs, af); err == nil {
					return filepath.ToSlash(r)
				}
			}
			return f
		})
	}
	data, err := compiler.Marshal(m)
	return data, p, err
}

// manifestName is the context's name for messages.
func manifestName(m *manifest.Manifest) string {
	if m.Name == "" {
		return "context"
	}
	return strings.TrimSpace(m.Name)
}

// subcommand reads the subcommand args start with, one of subs. ok is
// false when there is none to run: then code is the exit code, after the
// usage (help) or what was wrong with it.
func (c *command) subcommand(name, use string, args []string, subs ...string) (sub string, code int, ok bool) {
	switch {
	case len(args) == 0:
		fmt.Fprint(c.stderr, use)
		return "", 2, false
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(c.stdout, use)
		return "", 0, false
	case !slices.Contains(subs, args[0]):
		fmt.Fprintf(c.stderr, "cuesource %s: unknown subcommand %q\n%s", name, args[0], use)
		return "", 2, false
	}
	return args[0], 0, true
}
