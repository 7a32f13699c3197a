package api_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store/sqlite"
)

var (
	ownedOnce sync.Once
	ownedProg *interpreter.Program
	ownedErr  error
	jwtSecret = []byte("a secret of at least thirty-two bytes!")
)

func owned(t testing.TB) *interpreter.Program {
	t.Helper()
	ownedOnce.Do(func() { ownedProg, ownedErr = compile("../contexts/owned/owned.cue") })
	require.NoError(t, ownedErr)
	return ownedProg
}

// token mints a token for the owned context: sub and roles, signed with
// key (the HS256 secret when nil), with claims changed by extra (a nil
// value removes the claim).
func token(t testing.TB, sub string, roles []string, key any, kid string, extra map[string]any) string {
	t.Helper()
	c := map[string]any{"sub": sub, "roles": roles, "iss": "https://id.example", "aud": "owned", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	if key == nil {
		key = jwtSecret
	}
	tok, err := auth.Mint(c, key, kid)
	require.NoError(t, err)
	return tok
}

func ownedServer(t *testing.T, cfg auth.Config, opt api.Options) *server {
	t.Helper()
	cfg.Issuer, cfg.Audience = "https://id.example", "owned"
	v, err := auth.New(cfg)
	require.NoError(t, err)
	opt.Identity = v
	return newServerReadSide(t, owned(t), opt)
}

// newServerReadSide is newServerFor with the projections and queries
// running, as `cuesource serve` has them.
func newServerReadSide(t *testing.T, p *interpreter.Program, opt api.Options) *server {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "owned.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	backend := native.New(p, st, engine.Options{})
	t.Cleanup(backend.Close)
	queries, err := st.OpenQueries(t.Context(), 2)
	require.NoError(t, err)
	t.Cleanup(func() { _ = queries.Close() })
	runner, err := projections.New(p, st, projections.Options{Waiter: backend, Queries: queries})
	require.NoError(t, err)
	require.NoError(t, runner.Start(t.Context()))
	t.Cleanup(runner.Close)
	opt.ReadModels = runner
	s := &server{t: t, store: st, backend: backend, ended: make(chan string, 1024)}
	ts := httptest.NewServer(nethttp.Handler(api.New(p, backend, opt), nethttp.Options{}))
	t.Cleanup(ts.Close)
	s.url, s.client = ts.URL, ts.Client()
	return s
}

func bearerOf(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// assertInvalidToken checks a 401 for a token that does not verify: the
// reason in the problem and in WWW-Authenticate, and no claim value.
func assertInvalidToken(t *testing.T, r *reply, reason string) {
	t.Helper()
	m := assertProblem(t, r, http.StatusUnauthorized, "invalid_token")
	assert.Equal(t, reason, m["reason"])
	assert.Equal(t, `Bearer error="invalid_token", error_description="`+reason+`"`, r.Header.Get("WWW-Authenticate"))
	assert.NotContains(t, string(r.Body), "ada")
	assert.NotContains(t, string(r.Body), string(jwtSecret))
}

// Every attack on the token is a 401 with its reason, on a command, a
// read and the log alike.
func TestAuthRefusesTokens(t *testing.T) {
	s := ownedServer(t, auth.Config{Secret: jwtSecret}, api.Options{})
	enc := base64.RawURLEncoding.EncodeToString
	seg := func(v any) string { b, _ := json.Marshal(v); return enc(b) }
	claims := map[string]any{"sub": "ada", "roles": []string{"customer"}, "iss": "https://id.example", "aud": "owned", "exp": time.Now().Add(time.Hour).Unix()}
	good := token(t, "ada", []string{"customer"}, nil, "", nil)
	parts := strings.Split(good, ".")
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"forged signature", token(t, "ada", []string{"customer"}, []byte("another secret, also thirty-two bytes"), "", nil), auth.ReasonSignature},
		{"claims changed under the signature", parts[0] + "." + seg(map[string]any{"sub": "ada", "roles": []string{"support"}, "iss": "https://id.example", "aud": "owned", "exp": claims["exp"]}) + "." + parts[2], auth.ReasonSignature},
		{"alg none", seg(map[string]any{"alg": "none", "typ": "JWT"}) + "." + seg(claims) + ".", auth.ReasonAlgorithm},
		{"expired", token(t, "ada", []string{"customer"}, nil, "", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), auth.ReasonExpired},
		{"not yet valid", token(t, "ada", []string{"customer"}, nil, "", map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), auth.ReasonNotYetValid},
		{"wrong iss", token(t, "ada", []string{"customer"}, nil, "", map[string]any{"iss": "https://evil.example"}), auth.ReasonIssuer},
		{"wrong aud", token(t, "ada", []string{"customer"}, nil, "", map[string]any{"aud": "shop"}), auth.ReasonAudience},
		{"100 KB token", strings.Repeat("x", 100<<10), auth.ReasonTooLarge},
		{"claims of the wrong type", token(t, "ada", nil, nil, "", map[string]any{"roles": "support"}), "invalid_claims"},
		{"exp of the wrong type", token(t, "ada", []string{"customer"}, nil, "", map[string]any{"exp": "soon"}), auth.ReasonClaims},
		{"no sub", token(t, "", []string{"customer"}, nil, "", map[string]any{"sub": nil}), "invalid_claims"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertInvalidToken(t, s.do(http.MethodPost, "/cart/c1/Open", "", bearerOf(tc.token)...), tc.reason)
			assertInvalidToken(t, s.do(http.MethodGet, "/cart/c1", "", bearerOf(tc.token)...), tc.reason)
			assertInvalidToken(t, s.do(http.MethodGet, "/events", "", bearerOf(tc.token)...), tc.reason)
		})
	}
	t.Run("token in the query string", func(t *testing.T) {
		assertInvalidToken(t, s.do(http.MethodGet, "/cart/c1?access_token="+good, ""), "token_in_query")
		assertInvalidToken(t, s.do(http.MethodGet, "/events?access_token="+good, "", "Accept", "text/event-stream"), "token_in_query")
	})
	assert.Zero(t, s.eventCountAs(token(t, "sam", []string{"support"}, nil, "", nil)), "nothing was written")
}

// An HS256 token signed with the RSA public key the server verifies
// RS256 with: the allow-list is the configuration's, so the token's alg
// is refused, and with HS256 allowed too, HS256 verifies only with the
// secret.
func TestAuthRefusesAlgorithmConfusion(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwk, err := auth.JWK(rk, "r1")
	require.NoError(t, err)
	set, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	keys, err := auth.StaticKeys(set)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	seg := func(v any) string { b, _ := json.Marshal(v); return enc(b) }
	head := seg(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "r1"}) + "." +
		seg(map[string]any{"sub": "ada", "roles": []string{"customer"}, "iss": "https://id.example", "aud": "owned", "exp": time.Now().Add(time.Hour).Unix()})
	m := hmac.New(sha256.New, pub)
	m.Write([]byte(head))
	confused := head + "." + enc(m.Sum(nil))

	s := ownedServer(t, auth.Config{Keys: keys}, api.Options{})
	assertInvalidToken(t, s.do(http.MethodPost, "/cart/c1/Open", "", bearerOf(confused)...), auth.ReasonAlgorithm)
	s = ownedServer(t, auth.Config{Keys: keys, Secret: jwtSecret, Algorithms: []string{"HS256", "RS256"}}, api.Options{})
	assertInvalidToken(t, s.do(http.MethodPost, "/cart/c1/Open", "", bearerOf(confused)...), auth.ReasonSignature)
	// The key itself verifies what it signed.
	s.post("/cart/c1/Open", "", http.StatusCreated, bearerOf(token(t, "ada", []string{"customer"}, rk, "r1", nil))...)
}

// A token signed with a key the JWKS (served over HTTP) did not have is
// refused as unknown_key; once the set is rotated to hold it, it is
// accepted.
func TestAuthRotatedJWKS(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var served atomic.Value
	publish := func(keys map[string]*ecdsa.PrivateKey) {
		var set []any
		for kid, k := range keys {
			j, err := auth.JWK(k, kid)
			require.NoError(t, err)
			set = append(set, j)
		}
		b, _ := json.Marshal(map[string]any{"keys": set})
		served.Store(b)
	}
	publish(map[string]*ecdsa.PrivateKey{"k1": k1})
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(served.Load().([]byte))
	}))
	t.Cleanup(jwks.Close)
	keys := auth.FetchedKeys(&auth.HTTPFetcher{URL: jwks.URL})
	keys.MinRefresh = 0
	s := ownedServer(t, auth.Config{Keys: keys}, api.Options{})
	s.post("/cart/c1/Open", "", http.StatusCreated, bearerOf(token(t, "ada", []string{"customer"}, k1, "k1", nil))...)
	tok2 := token(t, "ada", []string{"customer"}, k2, "k2", nil)
	assertInvalidToken(t, s.do(http.MethodPost, "/cart/c2/Open", "", bearerOf(tok2)...), auth.ReasonUnknownKey)
	publish(map[string]*ecdsa.PrivateKey{"k1": k1, "k2": k2})
	s.post("/cart/c2/Open", "", http.StatusCreated, bearerOf(tok2)...)
	assert.Equal(t, int32(3), fetches.Load(), "first use, the unknown kid, the rotated set")
}

func (s *server) eventCountAs(tok string) int {
	s.t.Helper()
	r := s.do(http.MethodGet, "/events?limit=1000", "", bearerOf(tok)...)
	require.Equal(s.t, http.StatusOK, r.Status, r.String())
	var page struct{ Events []json.RawMessage }
	require.NoError(s.t, json.Unmarshal(r.Body, &page))
	return len(page.Events)
}

// Allow and deny, for every kind of rule.
func TestAuthRules(t *testing.T) {
	s := ownedServer(t, auth.Config{Secret: jwtSecret}, api.Options{Token: "machine-token"})
	ada := bearerOf(token(t, "ada", []string{"customer"}, nil, "", nil))
	bob := bearerOf(token(t, "bob", []string{"customer"}, nil, "", nil))
	sam := bearerOf(token(t, "sam", []string{"support"}, nil, "", nil))
	root := bearerOf(token(t, "root", []string{"admin"}, nil, "", nil))
	forbidden := func(r *reply, rule string) {
		t.Helper()
		m := assertProblem(t, r, http.StatusForbidden, "forbidden")
		if rule == "" {
			assert.NotContains(t, m, "name")
		} else {
			assert.Equal(t, rule, m["name"])
		}
		assert.NotContains(t, string(r.Body), "ada")
	}

	t.Run("command allow", func(t *testing.T) {
		r := s.post("/cart/a1/Open", "", http.StatusCreated, ada...)
		assert.Equal(t, "ada", r.json(t)["state"].(map[string]any)["owner"], "emits see caller")
		forbidden(s.do(http.MethodPost, "/cart/s1/Open", "", sam...), "customers open their own")
		assertProblem(t, s.do(http.MethodPost, "/cart/x1/Open", ""), http.StatusUnauthorized, "unauthorized")
	})
	t.Run("aggregate allow", func(t *testing.T) {
		s.post("/cart/a1/AddItem", `{"sku":"TEA-01","qty":1}`, http.StatusOK, ada...)
		forbidden(s.do(http.MethodPost, "/cart/a1/AddItem", `{"sku":"TEA-01","qty":1}`, bob...), "owner acts")
		// Before the lifecycle: a caller learns nothing of a cart that is not theirs.
		forbidden(s.do(http.MethodPost, "/cart/nobody/AddItem", `{"sku":"TEA-01","qty":1}`, bob...), "owner acts")
	})
	t.Run("idempotency key of another caller", func(t *testing.T) {
		// The key's record answers its own caller only: another one (who
		// may act on the cart too) is refused, never given the answer.
		body := `{"sku":"TEA-09","qty":1}`
		first := s.post("/cart/a1/AddItem", body, http.StatusOK, append(ada, "Idempotency-Key", "k-1")...)
		again := s.post("/cart/a1/AddItem", body, http.StatusOK, append(ada, "Idempotency-Key", "k-1")...)
		assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		assert.Equal(t, string(first.Body), string(again.Body))
		assertProblem(t, s.do(http.MethodPost, "/cart/a1/AddItem", body, append(root, "Idempotency-Key", "k-1")...), http.StatusConflict, "idempotency_key_reused")
	})
	t.Run("context allow", func(t *testing.T) {
		s.post("/cart/a1/AddItem", `{"sku":"TEA-02","qty":1}`, http.StatusOK, root...)
	})
	t.Run("documents", func(t *testing.T) {
		// With --token the documents about the API need a token, as
		// without auth; a verified one does.
		assertProblem(t, s.do(http.MethodGet, "/openapi.json", ""), http.StatusUnauthorized, "unauthorized")
		require.Equal(t, http.StatusOK, s.do(http.MethodGet, "/openapi.json", "", bob...).Status)
		require.Equal(t, http.StatusOK, s.do(http.MethodGet, "/openapi.json", "", bearerOf("machine-token")...).Status)
		assertInvalidToken(t, s.do(http.MethodGet, "/openapi.json", "", bearerOf(token(t, "ada", nil, []byte("another secret, also thirty-two bytes"), "", nil))...), auth.ReasonSignature)
	})
	t.Run("static token", func(t *testing.T) {
		s.post("/cart/a1/AddItem", `{"sku":"TEA-03","qty":1}`, http.StatusOK, bearerOf("machine-token")...)
		assertJSON(t, s.do(http.MethodGet, "/cart/a1", "", bearerOf("machine-token")...), http.StatusOK)
	})
	t.Run("read denied as missing", func(t *testing.T) {
		for _, path := range []string{"/cart/a1", "/cart/a1/events", "/cart/a1/history"} {
			assertJSON(t, s.do(http.MethodGet, path, "", ada...), http.StatusOK)
			assertJSON(t, s.do(http.MethodGet, path, "", sam...), http.StatusOK)
			denied := s.do(http.MethodGet, path, "", bob...)
			missing := s.do(http.MethodGet, strings.Replace(path, "a1", "zz", 1), "", bob...)
			assertProblem(t, denied, http.StatusNotFound, "instance_missing")
			assert.Equal(t, strings.ReplaceAll(string(missing.Body), "zz", "a1"), string(denied.Body), "a denied read looks like a missing instance")
			assertProblem(t, s.do(http.MethodGet, path, ""), http.StatusUnauthorized, "unauthorized")
		}
	})
	t.Run("read denied as forbidden", func(t *testing.T) {
		s.post("/note/n1/Write", `{"text":"hi"}`, http.StatusCreated, ada...)
		forbidden(s.do(http.MethodPost, "/note/n1/Write", `{"text":"mine"}`, bob...), "owner writes")
		for _, path := range []string{"/note/n1", "/note/n1/events", "/note/n1/history"} {
			assertJSON(t, s.do(http.MethodGet, path, "", ada...), http.StatusOK)
			forbidden(s.do(http.MethodGet, path, "", bob...), "owner reads")
		}
	})
	t.Run("queries", func(t *testing.T) {
		s.post("/cart/b1/Open", "", http.StatusCreated, bob...)
		rows := func(r *reply) []any { return assertJSON(t, r, http.StatusOK)["rows"].([]any) }
		mine := rows(s.do(http.MethodGet, "/queries/my_carts", "", ada...))
		require.Len(t, mine, 1)
		assert.Equal(t, "a1", mine[0].(map[string]any)["cart"])
		assertProblem(t, s.do(http.MethodGet, "/queries/my_carts?owner=bob", "", ada...), http.StatusBadRequest, "invalid_parameter")
		forbidden(s.do(http.MethodGet, "/queries/my_carts", "", sam...), "customers")
		assert.Len(t, rows(s.do(http.MethodGet, "/queries/carts_of?owner=bob", "", sam...)), 1)
		forbidden(s.do(http.MethodGet, "/queries/carts_of?owner=bob", "", ada...), "support")
		assertProblem(t, s.do(http.MethodGet, "/queries/carts_of?owner=bob", ""), http.StatusUnauthorized, "unauthorized")
		assert.Len(t, rows(s.do(http.MethodGet, "/queries/open_count", "")), 1, "anonymous: true opens a query to anyone")
	})
	t.Run("log", func(t *testing.T) {
		assertJSON(t, s.do(http.MethodGet, "/events", "", sam...), http.StatusOK)
		forbidden(s.do(http.MethodGet, "/events", "", ada...), "support reads the log")
		assertProblem(t, s.do(http.MethodGet, "/events", ""), http.StatusUnauthorized, "unauthorized")
		forbidden(s.do(http.MethodGet, "/events", "", append(ada, "Accept", "text/event-stream")...), "support reads the log")
		assertProblem(t, s.do(http.MethodGet, "/events", "", "Accept", "text/event-stream"), http.StatusUnauthorized, "unauthorized")

		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set(sam[0], sam[1])
		resp, err := s.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(line, "id: "), line)
	})
}

// The OpenAPI document of a context with auth declares the JWT scheme,
// 403 wherever a rule decides, and 404 on an instance's reads.
func TestAuthOpenAPI(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]any }
		Components struct {
			SecuritySchemes map[string]map[string]any
			Responses       map[string]map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(api.OpenAPI(owned(t)), &doc))
	assert.Equal(t, "JWT", doc.Components.SecuritySchemes["bearer"]["bearerFormat"])
	assert.Contains(t, doc.Components.Responses["Unauthorized"]["description"], "invalid_token")
	for _, at := range []struct{ path, method string }{
		{"/cart/{id}", "get"}, {"/cart/{id}/events", "get"}, {"/cart/{id}/AddItem", "post"},
		{"/events", "get"}, {"/queries/my_carts", "get"},
	} {
		rs := doc.Paths[at.path][at.method].Responses
		assert.Contains(t, rs, "403", at.path)
		assert.Contains(t, rs, "401", at.path)
		if at.method == "get" && strings.HasPrefix(at.path, "/cart/") {
			assert.Contains(t, rs, "404", at.path)
		}
	}
	assert.NotContains(t, doc.Paths["/healthz"]["get"].Responses, "403")
	assert.NotContains(t, doc.Paths["/projections/{name}/{action}"]["post"].Responses, "403", "admin routes answer to the admin token only")
}

type countingIdentity struct {
	v *auth.Verifier
	n atomic.Int32
}

func (c *countingIdentity) Verify(ctx context.Context, tok string) (map[string]any, error) {
	c.n.Add(1)
	return c.v.Verify(ctx, tok)
}

// Each request verifies its token once, whatever it runs (a command with
// its rules, a read with its rules, a query with bound parameters).
func TestAuthVerifiesOncePerRequest(t *testing.T) {
	v, err := auth.New(auth.Config{Secret: jwtSecret, Issuer: "https://id.example", Audience: "owned"})
	require.NoError(t, err)
	id := &countingIdentity{v: v}
	s := newServerReadSide(t, owned(t), api.Options{Identity: id})
	ada := bearerOf(token(t, "ada", []string{"customer"}, nil, "", nil))
	for _, r := range []struct{ method, path, body string }{
		{http.MethodPost, "/cart/a1/Open", ""},
		{http.MethodPost, "/cart/a1/AddItem", `{"sku":"TEA-01","qty":1}`},
		{http.MethodGet, "/cart/a1", ""},
		{http.MethodGet, "/cart/a1/events", ""},
		{http.MethodGet, "/queries/my_carts", ""},
	} {
		before := id.n.Load()
		got := s.do(r.method, r.path, r.body, ada...)
		require.Less(t, got.Status, 300, "%s %s: %s", r.method, r.path, got)
		assert.Equal(t, int32(1), id.n.Load()-before, "%s %s", r.method, r.path)
	}
}

// A JWKS that cannot be fetched is the server's trouble: 503 with
// Retry-After, not a 401 that blames the token.
func TestAuthKeysUnavailable(t *testing.T) {
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(jwks.Close)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s := ownedServer(t, auth.Config{Keys: auth.FetchedKeys(&auth.HTTPFetcher{URL: jwks.URL})}, api.Options{})
	r := s.do(http.MethodGet, "/cart/c1", "", bearerOf(token(t, "ada", []string{"customer"}, k, "k1", nil))...)
	assertProblem(t, r, http.StatusServiceUnavailable, "keys_unavailable")
	assert.Equal(t, "5", r.Header.Get("Retry-After"))
}

// A runtime that loads a checked manifest (a Worker) enforces the same
// rules: CompileChecked compiles auth, its rules lazily, and the answers
// are those of Compile's program.
func TestAuthCompileChecked(t *testing.T) {
	m, err := compiler.Compile("../contexts/owned/owned.cue")
	require.NoError(t, err)
	p, err := interpreter.CompileChecked(m)
	require.NoError(t, err)
	require.NotNil(t, p.Auth)
	v, err := auth.New(auth.Config{Secret: jwtSecret, Issuer: "https://id.example", Audience: "owned"})
	require.NoError(t, err)
	s := newServerReadSide(t, p, api.Options{Identity: v})
	ada := bearerOf(token(t, "ada", []string{"customer"}, nil, "", nil))
	bob := bearerOf(token(t, "bob", []string{"customer"}, nil, "", nil))
	s.post("/cart/c1/Open", "", http.StatusCreated, ada...)
	m2 := assertProblem(t, s.do(http.MethodPost, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":1}`, bob...), http.StatusForbidden, "forbidden")
	assert.Equal(t, "owner acts", m2["name"])
	assertProblem(t, s.do(http.MethodGet, "/cart/c1", "", bob...), http.StatusNotFound, "instance_missing")
	assertJSON(t, s.do(http.MethodGet, "/cart/c1", "", ada...), http.StatusOK)
}

// Cloudflare Access is one configuration: the token comes in
// Cf-Access-Jwt-Assertion (ES256 or RS256 from the team's JWKS), and an
// Authorization header is not read for it.
func TestAuthCloudflareAccessHeader(t *testing.T) {
	m, err := compiler.Compile("../contexts/owned/owned.cue")
	require.NoError(t, err)
	m.Auth.Header = "Cf-Access-Jwt-Assertion"
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, err := auth.JWK(k, "team")
	require.NoError(t, err)
	set, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	keys, err := auth.StaticKeys(set)
	require.NoError(t, err)
	v, err := auth.New(auth.Config{Keys: keys, Issuer: "https://id.example", Audience: "owned"})
	require.NoError(t, err)
	s := newServerReadSide(t, p, api.Options{Identity: v})
	tok := token(t, "ada", []string{"customer"}, k, "team", nil)
	s.post("/cart/a1/Open", "", http.StatusCreated, "Cf-Access-Jwt-Assertion", tok)
	assertJSON(t, s.do(http.MethodGet, "/cart/a1", "", "Cf-Access-Jwt-Assertion", tok), http.StatusOK)
	assertProblem(t, s.do(http.MethodGet, "/cart/a1", "", bearerOf(tok)...), http.StatusUnauthorized, "unauthorized")
}

// ownedWithMeta is the owned context with declared metadata: the
// caller's roles on every event, a command's sku on AddItem's, and the
// carts projection reading both.
func ownedWithMeta(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("../contexts/owned/owned.cue")
	require.NoError(t, err)
	s := string(src)
	for old, repl := range map[string]string{
		`allow: "admins act": "'admin' in caller.roles"`: `allow: "admins act": "'admin' in caller.roles"
	meta: roles: "caller.roles"`,
		`AddItem: {`: `AddItem: {
				meta: {sku: "cmd.sku", qty: "cmd.qty"}`,
		`qty: int & >0 & <=100}`:                     `qty: *1 | int & >0 & <=100}`,
		`"cart.ItemAdded": upsert: by: "meta.actor"`: `"cart.ItemAdded": upsert: by: "meta.actor + '/' + meta.sku + '/' + join(meta.roles, ',')"`,
	} {
		require.Contains(t, s, old)
		s = strings.Replace(s, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "owned.cue")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	return path
}

// Declared metadata is recorded with each event beside the actor (the
// context's for every command, a command's own for its events), read by
// projections as meta.<name>, and shown by the event reads.
func TestAuthDeclaredMeta(t *testing.T) {
	p, err := compile(ownedWithMeta(t))
	require.NoError(t, err)
	v, err := auth.New(auth.Config{Secret: jwtSecret, Issuer: "https://id.example", Audience: "owned"})
	require.NoError(t, err)
	s := newServerReadSide(t, p, api.Options{Identity: v})
	ada := bearerOf(token(t, "ada", []string{"customer"}, nil, "", nil))
	s.post("/cart/c1/Open", "", http.StatusCreated, ada...)
	s.post("/cart/c1/AddItem", `{"sku":"TEA-01"}`, http.StatusOK, ada...) // qty by its default
	r := s.do(http.MethodGet, "/cart/c1/events", "", ada...)
	require.Equal(t, http.StatusOK, r.Status, r.String())
	var page struct {
		Events []struct {
			Type string         `json:"type"`
			Meta map[string]any `json:"meta"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &page))
	require.Len(t, page.Events, 2)
	assert.Equal(t, "CartOpened", page.Events[0].Type)
	assert.Equal(t, []any{"customer"}, page.Events[0].Meta["roles"])
	assert.NotContains(t, page.Events[0].Meta, "sku")
	assert.Equal(t, "ada", page.Events[1].Meta["actor"])
	assert.Equal(t, "TEA-01", page.Events[1].Meta["sku"])
	assert.Equal(t, 1.0, page.Events[1].Meta["qty"], "a command's meta reads its payload with the declared defaults, as its emits do")
	assert.Equal(t, []any{"customer"}, page.Events[1].Meta["roles"])
	sam := bearerOf(token(t, "sam", []string{"support"}, nil, "", nil))
	rows := s.do(http.MethodGet, "/queries/carts_of?owner=ada", "", sam...)
	require.Equal(t, http.StatusOK, rows.Status, rows.String())
	assert.Contains(t, string(rows.Body), `"by":"ada/TEA-01/customer"`)
}
