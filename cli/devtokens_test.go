package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/store/sqlite"
	"github.com/cuesource/cuesource/web"
)

const ownedSecret = "a secret of the owned context, 32+ bytes long"

const admin = "the admin token"

// server serves the owned context as serve does, with the development
// key dev (nil: serve without --dev-tokens), and the admin token.
func server(t *testing.T, dev *auth.Dev) string {
	t.Helper()
	t.Setenv("OWNED_JWT_SECRET", ownedSecret)
	ctx := context.Background()
	p, err := compileProgram("../contexts/owned")
	require.NoError(t, err)
	f := serverFlags{data: t.TempDir(), sync: "normal", timeout: 10 * time.Second, queryConns: 1, dev: dev, adminToken: admin}
	st, err := sqlite.Open(ctx, filepath.Join(f.data, "owned.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	stk, err := newStack(ctx, p, st, &f, log)
	require.NoError(t, err)
	t.Cleanup(stk.close)
	srv := httptest.NewServer(serveHandler(stk, &f, log, web.Handler(web.Options{})))
	t.Cleanup(srv.Close)
	return srv.URL
}

type answer struct {
	status int
	body   map[string]any
	header http.Header
}

func call(t *testing.T, method, url, token, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &a.body), "%s", data)
	}
	return a
}

func mint(t *testing.T, base, claims string) string {
	t.Helper()
	a := call(t, "POST", base+DevTokenPath, admin, claims)
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	require.Equal(t, "no-store", a.header.Get("Cache-Control"))
	tok, _ := a.body["token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// With a development key the server mints tokens for the identities the
// playground picks and accepts them beside the context's own; a server
// without one answers 404 and accepts none of them, and another key's
// tokens are not accepted either.
func TestDevTokens(t *testing.T) {
	dev := must(auth.NewDev("https://id.example", "owned"))
	a := server(t, dev)

	d := call(t, "GET", a+DevTokenPath, admin, "")
	require.Equal(t, http.StatusOK, d.status, "%v", d.body)
	require.Contains(t, d.body["claims"].(map[string]any)["properties"], "roles", "the #claims schema, for the identity form")

	ada := mint(t, a, `{"sub": "ada", "roles": ["customer"]}`)
	bob := mint(t, a, `{"sub": "bob", "roles": ["customer"]}`)
	r := call(t, "POST", a+"/cart/c1/Open", ada, "{}")
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	r = call(t, "POST", a+"/cart/c1/AddItem", bob, `{"sku": "TEA-01", "qty": 1}`)
	require.Equal(t, http.StatusForbidden, r.status, "%v", r.body)
	require.Equal(t, "owner acts", r.body["name"])
	r = call(t, "POST", a+"/cart/c1/AddItem", ada, `{"sku": "TEA-01", "qty": 1}`)
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)

	// The context's own tokens verify as before.
	own := must(auth.Mint(map[string]any{"sub": "cy", "roles": []any{"customer"}, "iss": "https://id.example", "aud": "owned", "exp": time.Now().Add(time.Hour).Unix()}, []byte(ownedSecret), ""))
	r = call(t, "POST", a+"/cart/c2/Open", own, "{}")
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)

	// Claims that do not fit #claims, or lack a sub, are refused, by where.
	for _, tc := range []struct{ body, kind, pointer string }{
		{`{"sub": "ada", "roles": "customer"}`, "invalid_claims", "/roles"},
		{`{"roles": ["customer"]}`, "invalid_claims", "/sub"},
		{`{"sub": 7}`, "invalid_claims", "/sub"},
		{`["ada"]`, "invalid_json", ""},
		{`{"sub": "ada"} {}`, "invalid_json", ""},
	} {
		r := call(t, "POST", a+DevTokenPath, admin, tc.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %v", tc.body, r.body)
		require.Equal(t, tc.kind, r.body["kind"], tc.body)
		if tc.pointer != "" {
			vs, _ := json.Marshal(r.body["violations"])
			require.Contains(t, string(vs), `"pointer":"`+tc.pointer+`"`, tc.body)
		}
	}
	r = call(t, "POST", a+DevTokenPath, admin, `{"sub": "ada", "x": "`+strings.Repeat("x", maxClaimsBytes)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%v", r.body)
	r = call(t, "PUT", a+DevTokenPath, admin, `{}`)
	require.Equal(t, http.StatusMethodNotAllowed, r.status, "%v", r.body)
	// Minting needs the admin token: who may mint may act as anyone.
	for _, tok := range []string{"", ada} {
		r = call(t, "POST", a+DevTokenPath, tok, `{"sub": "eve", "roles": ["support"]}`)
		require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
	}

	// serve without --dev-tokens: no such route, and a minted token is
	// one whose signature does not verify.
	b := server(t, nil)
	r = call(t, "POST", b+DevTokenPath, admin, `{"sub": "ada", "roles": ["customer"]}`)
	require.Equal(t, http.StatusNotFound, r.status, "%v", r.body)
	r = call(t, "GET", b+DevTokenPath, admin, "")
	require.Equal(t, http.StatusNotFound, r.status, "%v", r.body)
	r = call(t, "POST", b+"/cart/c1/Open", ada, "{}")
	require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
	require.Equal(t, auth.ReasonSignature, r.body["reason"])

	// Another server's development key does not verify them either.
	c := server(t, must(auth.NewDev("https://id.example", "owned")))
	r = call(t, "POST", c+"/cart/c1/Open", ada, "{}")
	require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
	require.Equal(t, auth.ReasonSignature, r.body["reason"])
	r = call(t, "POST", c+"/cart/c1/Open", mint(t, c, `{"sub": "ada", "roles": ["customer"]}`), "{}")
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
}

// serve --dev-tokens is refused for a context without auth, and without
// an admin token (which minting needs).
func TestDevTokensFlag(t *testing.T) {
	t.Setenv("CUESOURCE_ADMIN_TOKEN", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"../contexts/example.cue", "--admin-token", admin}, "--dev-tokens: the context declares no auth"},
		{[]string{"../contexts/owned"}, "--dev-tokens needs --admin-token"},
	} {
		var out, errb bytes.Buffer
		code := Run(append([]string{"serve", "--dev-tokens", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...), &out, &errb)
		require.Equal(t, 2, code, errb.String())
		require.Contains(t, errb.String(), tc.want)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// inspect --as reads a sub or claims, and learns at start whether the
// server mints tokens for them: a server without --dev-tokens, refused
// claims and a wrong admin token are each said.
func TestInspectAs(t *testing.T) {
	c, err := asClaims("ada")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sub": "ada"}, c)
	c, err = asClaims(`{"sub": "bob", "roles": ["support"]}`)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sub": "bob", "roles": []any{"support"}}, c)
	for _, bad := range []string{`{"roles": ["x"]}`, `{"sub": 1}`, `{nope`} {
		_, err := asClaims(bad)
		require.Error(t, err, bad)
	}

	ctx := context.Background()
	with := server(t, must(auth.NewDev("https://id.example", "owned")))
	require.NoError(t, mintAt(ctx, with, admin, map[string]any{"sub": "ada", "roles": []any{"customer"}}))
	err = mintAt(ctx, with, admin, map[string]any{"sub": "ada", "roles": "customer"})
	require.ErrorContains(t, err, "/roles")
	require.ErrorContains(t, mintAt(ctx, with, "wrong", map[string]any{"sub": "ada"}), "refused the admin token")
	without := server(t, nil)
	require.ErrorContains(t, mintAt(ctx, without, admin, map[string]any{"sub": "ada"}), "mints no tokens")

	var out, errb bytes.Buffer
	code := Run([]string{"inspect", "--as", "ada", "--addr", "127.0.0.1:0", with}, &out, &errb)
	require.Equal(t, 2, code, errb.String())
	require.Contains(t, errb.String(), "--as: needs --admin-token")
}

// The CLI's admin endpoints take a bearer token by the API's rule
// (api.Bearer): the scheme in any case, spaces after it.
func TestHasBearerIsTheAPIsRule(t *testing.T) {
	for _, h := range []string{"Bearer adm", "bearer adm", "BEARER   adm"} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		assert.True(t, hasBearer(r, "adm"), h)
	}
	for _, h := range []string{"", "Bearer", "Bearer adx", "Basic adm"} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		assert.False(t, hasBearer(r, "adm"), h)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer ")
	assert.False(t, hasBearer(r, ""), "no token configured: nothing passes")
}
