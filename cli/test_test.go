package cli

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store/sqlite"
)

// `test --url` reports the read side as `test` does: each scenario of
// the test_read_side script, played against a server of its own (its
// query reads every account of the server), passes or fails with the same
// report, positions and all, with the instance ids suffixed (the suffix
// taken out of the rows) and as written.
func TestReadSideOverURL(t *testing.T) {
	ar, err := txtar.ParseFile("testdata/script/test_read_side.txtar")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range ar.Files {
		if f.Name == "ctx.cue" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "ctx.cue"), f.Data, 0o644))
		}
	}
	t.Chdir(dir) // the reports name ctx.cue as the script's do
	p, err := compileProgram("ctx.cue")
	require.NoError(t, err)
	run := func(args ...string) (int, string) {
		var out, errb strings.Builder
		code := Run(append([]string{"test", "ctx.cue"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	for _, s := range p.Manifest.Scenarios {
		only := "^" + regexp.QuoteMeta(s.Name) + "$"
		wantCode, want := run("-run", only)
		for _, keep := range []string{"--keep-ids=false", "--keep-ids=true"} {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bank.db"), sqlite.Options{Sync: sqlite.SyncNormal})
			require.NoError(t, err)
			b := native.New(p, st, engine.Options{})
			rm, err := projections.New(p, st, projections.Options{Waiter: b})
			require.NoError(t, err)
			require.NoError(t, rm.Start(ctx))
			srv := httptest.NewServer(nethttp.Handler(api.New(p, b, api.Options{AdminToken: "adm", ReadModels: rm}), nethttp.Options{}))
			code, got := run("-run", only, "--url", srv.URL, "--admin-token", "adm", keep)
			srv.Close()
			rm.Close()
			b.Close()
			require.NoError(t, st.Close())
			assert.Equal(t, wantCode, code, "%s %s: %s", s.Name, keep, got)
			assert.Equal(t, want, got, "%s %s", s.Name, keep)
		}
	}
}
