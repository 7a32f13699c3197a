package scenario_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/scenario"
	"github.com/cuesource/cuesource/store/sqlite"
)

// A bank whose scenarios give events of other instances (another account,
// a customer) and expect the read side: an inline projection, an async
// one keyed by a payload field, one over another aggregate, and a query.
const bank = `package bank

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "bank"
	aggregates: account: {
		#state: {owner: string, balance: number}
		initial: {owner: "", balance: 0}
		commands: {
			Open: {
				instance: "new"
				#payload: owner: string
				emit: [{event: "Opened", payload: owner: "cmd.owner"}]
			}
			Deposit: {
				#payload: amount: number & >0
				emit: [{event: "Deposited", payload: amount: "cmd.amount"}]
			}
			Flag: {
				#payload: note: string
				emit: [{event: "Flagged", payload: note: "cmd.note"}]
			}
		}
		events: {
			Opened: {#payload: owner: string, apply: owner: "event.owner"}
			Deposited: {#payload: amount: number, apply: balance: "state.balance + event.amount"}
			Flagged: #payload: note: string
		}
	}
	aggregates: customer: {
		#state: name: string
		initial: name: ""
		commands: Register: {
			#payload: name: string
			emit: [{event: "Registered", payload: name: "cmd.name"}]
		}
		events: Registered: {#payload: name: string, apply: name: "event.name"}
	}
	projections: {
		balances: {
			mode: "inline"
			columns: {owner: "TEXT", balance: "REAL", deposits: "INTEGER"}
			on: {
				"account.Opened": upsert: {owner: "event.owner", balance: "0", deposits: "0"}
				"account.Deposited": upsert: {balance: "(row.balance ?? 0) + event.amount", deposits: "(row.deposits ?? 0) + 1"}
			}
		}
		owners: {
			key: "event.owner"
			columns: {accounts: "JSON", n: "INTEGER"}
			on: "account.Opened": upsert: {
				accounts: "row.accounts == nil ? [meta.aggregateId] : append(row.accounts, meta.aggregateId)"
				n:        "(row.n ?? 0) + 1"
			}
		}
		names: {
			columns: name: "TEXT"
			on: "customer.Registered": upsert: name: "event.name"
		}
		flags: {
			columns: n: "INTEGER"
			on: "account.Flagged": upsert: n: "int(event.note)"
		}
	}
	queries: accounts_of: {
		sql: "SELECT key AS account, balance, deposits FROM balances WHERE owner = :owner ORDER BY key"
		#params: owner: string
	}
	scenarios: {
		"the read side holds every instance's events": {
			aggregate: "account"
			id:        "acc-1"
			given: [
				{event: "Opened", payload: owner: "ada"},
				{aggregate: "account", id: "acc-2", event: "Opened", payload: owner: "ada"},
				{id: "acc-2", event: "Deposited", payload: amount: 5},
				{aggregate: "customer", id: "cust-ada", event: "Registered", payload: name: "Ada"},
			]
			when: {command: "Deposit", payload: amount: 10}
			then: {
				state: {owner: "ada", balance: 10}
				query: accounts_of: {
					params: owner: "ada"
					rows: [{account: "acc-1", balance: 10, deposits: 1}, {account: "acc-2", balance: 5}]
				}
				projection: {
					owners: {key: "ada", row: {accounts: ["acc-1", "acc-2"], n: 2}}
					names: {key: "cust-ada", row: name: "Ada"}
					balances: {key: "acc-3", row: null}
				}
			}
		}
		"a query with a row too few": {
			aggregate: "account"
			id:        "acc-1"
			given: [{aggregate: "account", id: "acc-2", event: "Opened", payload: owner: "ada"}]
			when: {command: "Open", payload: owner: "ada"}
			then: query: accounts_of: {
				params: owner: "ada"
				rows: [{account: "acc-1"}]
			}
		}
		"a query column differs": {
			aggregate: "account"
			id:        "acc-1"
			given: [{event: "Opened", payload: owner: "ada"}]
			when: {command: "Deposit", payload: amount: 10}
			then: query: accounts_of: {
				params: owner: "ada"
				rows: [{account: "acc-1", balance: 12}]
			}
		}
		"a projection column differs": {
			aggregate: "account"
			id:        "acc-1"
			given: [{aggregate: "customer", id: "cust-bob", event: "Registered", payload: name: "Bob"}]
			when: {command: "Open", payload: owner: "bob"}
			then: projection: {
				names: {key: "cust-bob", row: name: "Robert"}
				owners: {key: "bob", row: accounts: ["acc-1", "acc-9"]}
			}
		}
		"a projection row is missing": {
			aggregate: "account"
			id:        "acc-1"
			when: {command: "Open", payload: owner: "ada"}
			then: projection: names: {key: "ada", row: name: "Ada"}
		}
		"a projection row is there": {
			aggregate: "account"
			id:        "acc-1"
			when: {command: "Open", payload: owner: "ada"}
			then: projection: balances: {key: "acc-1", row: null}
		}
		"a projection failed": {
			aggregate: "account"
			id:        "acc-1"
			given: [{event: "Opened", payload: owner: "ada"}]
			when: {command: "Flag", payload: note: "not a number"}
			then: projection: flags: {key: "acc-1", row: n: 1}
		}
	}
}
`

// What each scenario of bank reports, in process and over HTTP alike
// (FILE stands for the context's path); "" passes.
var bankWant = map[string][]string{
	"the read side holds every instance's events": nil,
	"a query with a row too few": {"then.query.accounts_of (FILE:99:17): want 1 row, got 2:\n" +
		`    want: {"account":"acc-1"}` + "\n" +
		`    got:  {"account":"acc-1","balance":0,"deposits":0}` + "\n" +
		`          {"account":"acc-2","balance":0,"deposits":0}`},
	"a query column differs": {"then.query.accounts_of.rows[0].balance (FILE:111:12):\n    want: 12\n    got:  10"},
	"a projection column differs": {
		"then.projection.names.row.name (FILE:120:30):\n    want: \"Robert\"\n    got:  \"Bob\"",
		"then.projection.owners.row.accounts (FILE:121:26):\n    want: [\"acc-1\",\"acc-9\"]\n    got:  [\"acc-1\"]",
	},
	"a projection row is missing": {"then.projection.names (FILE:128:42): no row under key \"ada\":\n    want: {\"name\":\"Ada\"}"},
	"a projection row is there":   {`then.projection.balances (FILE:134:52): want no row under key "acc-1", got {"balance":0,"deposits":0,"key":"acc-1","owner":"ada"}`},
	"a projection failed":         {"then.projection.flags (FILE:141:22): projection flags failed at position "},
}

func compileBank(t *testing.T) (*interpreter.Program, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bank.cue")
	require.NoError(t, os.WriteFile(path, []byte(bank), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	require.Empty(t, projections.CheckQueries(p))
	return p, path
}

// checkBank compares a scenario's failures with bankWant's.
func checkBank(t *testing.T, path string, s *manifest.Scenario, r scenario.Result) {
	t.Helper()
	want, ok := bankWant[s.Name]
	require.True(t, ok, s.Name)
	got := make([]string, len(r.Failures))
	for i, f := range r.Failures {
		got[i] = strings.ReplaceAll(f, path, "FILE")
	}
	require.Len(t, got, len(want), "%s: %q", s.Name, got)
	for i := range want {
		if strings.HasSuffix(want[i], "position ") {
			assert.True(t, strings.HasPrefix(got[i], want[i]), "%s: %q", s.Name, got[i])
			assert.Contains(t, got[i], "upsert.n: invalid operation")
			continue
		}
		assert.Equal(t, want[i], got[i], s.Name)
	}
	assert.Equal(t, len(want) == 0, r.Pass, s.Name)
}

func TestScenarioReadSide(t *testing.T) {
	p, path := compileBank(t)
	require.Len(t, p.Manifest.Scenarios, len(bankWant))
	for _, s := range p.Manifest.Scenarios {
		checkBank(t, path, s, scenario.Run(p, s))
	}
}

// serveBank serves p natively over a fresh SQLite store, projections
// included, as `serve` does.
func serveBank(t *testing.T, p *interpreter.Program) string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bank.db"), sqlite.Options{Sync: sqlite.SyncNormal})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := native.New(p, st, engine.Options{})
	t.Cleanup(b.Close)
	rm, err := projections.New(p, st, projections.Options{Waiter: b})
	require.NoError(t, err)
	require.NoError(t, rm.Start(ctx))
	t.Cleanup(rm.Close)
	srv := httptest.NewServer(nethttp.Handler(api.New(p, b, api.Options{AdminToken: "adm", ReadModels: rm}), nethttp.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Over HTTP, the same scenarios report the same: with the run's suffix on
// every instance id (taken out of the rows answered), and with the ids as
// written.
func TestScenarioReadSideHTTP(t *testing.T) {
	p, path := compileBank(t)
	for _, keep := range []bool{false, true} {
		for _, s := range p.Manifest.Scenarios {
			// A server per scenario: the query reads every account of
			// the server.
			target := scenario.Target{URL: serveBank(t, p), AdminToken: "adm", KeepIDs: keep}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			checkBank(t, path, s, scenario.RunHTTP(ctx, target, s))
			cancel()
		}
	}
}
