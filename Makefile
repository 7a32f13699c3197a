# cuesource: `make run` plays the example context, `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin
CUE_VERSION := v0.17.1
CONTEXT ?= contexts/example.cue

export GOFLAGS := -buildvcs=false

.PHONY: all build test run play bench bench-drivers bench-durable bench-groupcommit vet cuevet gotest scenarios playcheck fmt clean

all: build

build: $(BIN)/cuesource $(BIN)/engine.wasm

GO_SOURCES := $(shell find . -name '*.go' -not -path './.bin/*' -not -path './node_modules/*')

$(BIN)/cuesource: $(GO_SOURCES) schema/schema.cue worker/shell/worker.mjs go.mod go.sum
	$(GO) build -o $@ ./cmd/cuesource

# The engine for Workers, beside the CLI, where `cuesource worker build`
# finds it, with the wasm_exec.js of the same Go. Packages on no command's
# path are built without inlining, which makes the engine smaller (53 KB
# gzipped) and its cold start shorter (less code for V8 to compile): the
# document writers (OpenAPI, the diagram) and expr's compile stages, which
# a Worker runs once per expression, on its first use. So is the glue
# around a command's I/O (routing, the API, the Workers core and its SQL,
# the decision's envelope, effects' rules, lenses, projection rows, the
# archive and the retention decisions, which run after commands, URL
# and media type parsing, regexp compiling, token checks, fmt's
# formatting and time's parsing and printing): a few calls per command
# that cost nanoseconds beside the object calls' milliseconds, and 97 KB
# gzipped (fmt, time and auth, the last three, 38 KB). expr's vm and builtins, the engine and the value and schema
# checks, which do a command's work, keep inlining. e2e/workerd
# (TestWasmBuild) builds with the same flags and checks the 2.5 MB budget.
WASM_NOINLINE := api/openapi diagram api internal/edge store/d1 effect/egress internal/effect/rules manifest diag route \
	internal/lens internal/projections/rows archive retention auth
WASM_GCFLAGS := $(foreach p,$(addprefix github.com/cuesource/cuesource/,$(WASM_NOINLINE)) github.com/cuesource/cuesource \
	$(addprefix github.com/expr-lang/expr/,ast conf parser parser/lexer checker checker/nature patcher optimizer compiler) \
	regexp/syntax mime text/tabwriter net/netip net/url fmt time,-gcflags=$(p)=-l)
$(BIN)/engine.wasm: $(GO_SOURCES) go.mod go.sum
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" $(WASM_GCFLAGS) -o $@ ./worker
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(BIN)/wasm_exec.js

# The plain cue CLI, pinned, so `cue vet` is checked exactly as users run it.
$(BIN)/cue:
	GOBIN=$(BIN) $(GO) install cuelang.org/go/cmd/cue@$(CUE_VERSION)

test: vet cuevet gotest scenarios playcheck

vet: deadcode
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# No dead code: every function of the module is reached from the main of one
# of the two programs it ships, the CLI or the engine for Workers (GOOS=js).
# What one build reaches and the other does not (internal/edge in the Worker, vet's
# checks in the CLI) is live, so a function fails only when both runs report
# it. Tests are no roots (no -test): a helper only tests call belongs in a
# _test.go file. DEADCODE_KEEP names the exceptions, each for a reason:
#   jsonsubset.Random (and its Schema.random) draws random valid documents
#                  for the property tests of jsonsubset and interpreter; a
#                  _test.go file cannot export it to another package's tests.
# An exception that a build reaches again, or that is gone, fails too, so
# the list stays true. The tool is the version go.mod pins, built for this
# machine (`go tool` would build it for GOOS=js).
DEADCODE_KEEP := internal/jsonsubset.Random internal/jsonsubset.Schema.random
DEADCODE_FMT  := {{range .Funcs}}{{$$.Path}}.{{.Name}} {{.Position}}{{"\n"}}{{end}}

.PHONY: deadcode
deadcode: $(BIN)/deadcode
	@$(BIN)/deadcode -f '$(DEADCODE_FMT)' ./cmd/cuesource | LC_ALL=C sort >$(BIN)/deadcode-cli.txt
	@GOOS=js GOARCH=wasm $(BIN)/deadcode -f '$(DEADCODE_FMT)' ./worker | LC_ALL=C sort >$(BIN)/deadcode-wasm.txt
	@LC_ALL=C comm -12 $(BIN)/deadcode-cli.txt $(BIN)/deadcode-wasm.txt >$(BIN)/deadcode.txt
	@mod=$$($(GO) list -m); status=0; \
	for k in $(DEADCODE_KEEP); do grep -q "^$$mod/$$k " $(BIN)/deadcode.txt || { \
		echo "deadcode: $$k is kept as dead code but a build reaches it, or it is gone: update DEADCODE_KEEP"; status=1; }; done; \
	for k in $(DEADCODE_KEEP); do echo "$$mod/$$k"; done >$(BIN)/deadcode-keep.txt; \
	if grep -v -F -w -f $(BIN)/deadcode-keep.txt $(BIN)/deadcode.txt; then \
		echo "deadcode: neither the CLI nor the engine for Workers reaches the functions above"; status=1; fi; \
	exit $$status

$(BIN)/deadcode: go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $@ golang.org/x/tools/cmd/deadcode

# Plain `cue vet` passes on the contexts and rejects a scenario whose data
# violates its command's #payload (or a given event of another aggregate
# its event's #payload), and a snapshot interval below 1.
cuevet: $(BIN)/cue
	$(BIN)/cue vet ./contexts/...
	@if $(BIN)/cue vet ./testdata/cuevet/bad_scenario.cue 2>$(BIN)/cuevet.err; then \
		echo "cue vet accepted testdata/cuevet/bad_scenario.cue"; exit 1; fi
	@grep -q 'payload.by: invalid value 11 (out of bound <=10)' $(BIN)/cuevet.err || { cat $(BIN)/cuevet.err; exit 1; }
	@echo "cue vet rejects a scenario payload that violates #payload: ok"
	@if $(BIN)/cue vet ./testdata/cuevet/bad_given_other.cue 2>$(BIN)/cuevet.err; then \
		echo "cue vet accepted testdata/cuevet/bad_given_other.cue"; exit 1; fi
	@grep -q 'given.0.payload.max: invalid value -1 (out of bound >=0)' $(BIN)/cuevet.err || { cat $(BIN)/cuevet.err; exit 1; }
	@echo "cue vet rejects a given event of another aggregate that violates its #payload: ok"
	$(BIN)/cue vet ./testdata/snapshots/counter.cue
	@if $(BIN)/cue vet ./testdata/cuevet/bad_snapshots.cue 2>$(BIN)/cuevet.err; then \
		echo "cue vet accepted testdata/cuevet/bad_snapshots.cue"; exit 1; fi
	@grep -q 'snapshots.every: invalid value 0 (out of bound >0)' $(BIN)/cuevet.err || { cat $(BIN)/cuevet.err; exit 1; }
	@echo "cue vet rejects a snapshot interval below 1: ok"

# The workerd tests (e2e/workerd) need the JavaScript toolchain, and the
# playground's browser test (e2e/playground) Debian's Chromium too: they
# skip without them, and fail under CI.
gotest: npm chromium
	$(GO) test -count=1 ./...

CONTEXTS := contexts/example.cue contexts/tickets contexts/carts contexts/owned

scenarios: build
	@for c in $(CONTEXTS); do \
		$(BIN)/cuesource vet $$c && $(BIN)/cuesource test -v $$c || exit 1; done

# `make run` serves the example context with its data under ./data.
ADDR ?= 127.0.0.1:8080
run: build
	$(BIN)/cuesource serve $(CONTEXT) --addr $(ADDR) --data ./data

# `make play` shows the model working without a server: vet, the scenarios,
# and a short command sequence played through `cuesource run`.
play: build
	@scripts/play.sh $(BIN)/cuesource $(CONTEXT)

# make play, checked: the story ends with the order paid, and its two
# rejections are named.
playcheck: build
	@scripts/play.sh $(BIN)/cuesource contexts/example.cue >$(BIN)/play.out 2>&1
	@grep -q '"name": "cart is not open"' $(BIN)/play.out
	@grep -q '"name": "payment exceeds the amount due"' $(BIN)/play.out
	@tail -12 $(BIN)/play.out | grep -q '"status": "paid"'
	@echo "make play: the story plays as told"

# The reliability suite at full size (RELIABILITY.md): SOAK_CYCLES
# SIGKILL-and-restart cycles of serve under load, each with a longer load,
# the hostile definition with payloads near the body limit, the hostile HTTP
# table and the storage faults, natively and under workerd, and the Worker's
# live stream. `make test` runs the same tests once, at CI size.
SOAK_CYCLES ?= 20
.PHONY: soak
soak: build npm
	set -o pipefail; CUESOURCE_SOAK=1 $(GO) test -count=$(SOAK_CYCLES) -timeout 80m -run 'TestKillRestart' -v ./e2e/native/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|killrestart_test'
	CUESOURCE_SOAK=1 $(GO) test -count=1 -timeout 30m -run 'Hostile|DiskFull|DamagedStore|SecondServer|ReadOnlyData|Stream' ./e2e/native/ ./e2e/workerd/

# The benchmarks in bench/ (BENCHMARKS.md): the interpreter against the
# hand-written cart, durable throughput, lens chains, replay,
# rehydration from a snapshot (BenchmarkRehydrate) and identity and rules
# per command (BenchmarkAuth), and a command claiming a unique key
# against the same without the constraint (BenchmarkUniqueClaim). BENCH
# picks some, in one process: make bench BENCH='LensChain|Replay'.
BENCH ?= .
bench:
	@mkdir -p $(BIN)
	set -o pipefail; $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 6 ./bench/ | tee $(BIN)/bench.txt

# The SQLite driver comparison behind store/sqlite/DRIVERS.md.
bench-drivers:
	$(GO) test -tags drivers -run '^$$' -bench Driver -benchmem -count 6 ./store/sqlite/

# Durable throughput: raw SQLite, the store's transactions, commands over HTTP.
bench-durable:
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench 'RawSQLite|StoreAppend|HTTP' -benchmem -count 6 ./bench/ | tee $(BIN)/bench-durable.txt

# The group-commit target in back-to-back pairs, one process each: raw
# one-row SQLite transactions/s against commands/s (64 clients, 1000 carts).
bench-groupcommit:
	@mkdir -p $(BIN)
	@for i in $$(seq 1 12); do \
		$(GO) test -run '^$$' -bench 'RawSQLite/sync=full/rows=1$$|HTTP$$/spread/clients=64$$' -benchtime 2s -count 1 ./bench/ | grep -E '^(Benchmark|--- FAIL|FAIL)'; \
	done | tee $(BIN)/bench-groupcommit.txt

# The Workers runtime: cuesource Workers (the example context as built, and
# its cart alone) against a hand-written JavaScript Worker with the same SQL,
# all under workerd (bench/workers).
# Results: the table on stdout (and .bin/bench-workers.txt), the JSON in
# .bin/bench-workers.json.
.PHONY: bench-workers
bench-workers: build npm
	$(BIN)/cuesource worker build contexts/example.cue -o $(BIN)/worker-example
	$(BIN)/cuesource worker build bench/workers/cart.cue -o $(BIN)/worker-cart
	set -o pipefail; scripts/node bench/workers/bench.mjs --example $(BIN)/worker-example --cart $(BIN)/worker-cart \
		--baseline bench/workers/baseline --out $(BIN)/bench-workers.json | tee $(BIN)/bench-workers.txt
	$(BIN)/cuesource worker build bench/workers/keys.cue -o $(BIN)/worker-keys
	set -o pipefail; scripts/node bench/workers/keys.mjs --worker $(BIN)/worker-keys | tee -a $(BIN)/bench-workers.txt

# The pinned JavaScript toolchain for the Workers build (Node 22, wrangler,
# Miniflare 4), installed on demand from package-lock.json with the machine's
# npm; scripts/node and scripts/wrangler run it offline.
NPM ?= npm
NPM_STAMP := node_modules/.stamp

.PHONY: npm
npm: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

# Headless Chromium for the playground's browser test, from Debian (never a
# browser download of playwright's own): installed only when missing.
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || { \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y chromium; }

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
