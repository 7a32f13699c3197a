//go:build unix

package workerd

import (
	"crypto/ecdsa"
	"crypto/ed25519"
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

	"github.com/cuesource/cuesource/auth"
)

// ownedSecret is the HS256 secret of the owned context in these tests:
// OWNED_JWT_SECRET natively, the Worker secret of that name on workerd.
const ownedSecret = "a secret of at least thirty-two bytes!"

// TestAuthSameAnswersAsNative sends the same requests with the same
// tokens to `cuesource serve` and to the Worker of the owned context
// (HS256 from the secret, RS256, ES256 and EdDSA from a static JWKS,
// which the Worker checks with WebCrypto) and compares the answers: the
// accepted tokens, every refused one with its reason, denied commands
// with the rule's name, denied reads as declared (404 for a cart, 403 for
// a note), query parameters bound from the caller, the log's rule, and
// the events each runtime reads back, which record in meta their actor
// and the context's declared metadata (read by a projection too).
func TestAuthSameAnswersAsNative(t *testing.T) {
	needWorkerd(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	var keys []any
	for kid, k := range map[string]any{"ec1": ecKey, "rsa1": rsaKey, "ed1": edKey} {
		jwk, err := auth.JWK(k, kid)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, jwk)
	}
	set, _ := json.Marshal(keys)
	src, err := os.ReadFile(contextPath("contexts/owned/owned.cue"))
	if err != nil {
		t.Fatal(err)
	}
	withKeys := strings.Replace(string(src), `secretEnv: "OWNED_JWT_SECRET"`, `secretEnv: "OWNED_JWT_SECRET"`+"\n\t\tjwks: keys: "+string(set), 1)
	// Declared metadata: the caller's roles on every event, AddItem's sku
	// on its events, both read by the carts projection.
	for old, repl := range map[string]string{
		`allow: "admins act": "'admin' in caller.roles"`: `allow: "admins act": "'admin' in caller.roles"` + "\n\tmeta: roles: \"caller.roles\"",
		`AddItem: {`: "AddItem: {\n\t\t\t\tmeta: sku: \"cmd.sku\"",
		`"cart.ItemAdded": upsert: by: "meta.actor"`: `"cart.ItemAdded": upsert: by: "meta.actor + '/' + meta.sku + '/' + join(meta.roles, ',')"`,
	} {
		if !strings.Contains(withKeys, old) {
			t.Fatalf("owned.cue has no %s", old)
		}
		withKeys = strings.Replace(withKeys, old, repl, 1)
	}
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "owned.cue")
	if err := os.WriteFile(ctx, []byte(withKeys), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "worker")
	if _, stderr, code := runCLI(t, time.Minute, "worker", "build", ctx, "-o", dir, "--wasm", engineWasm); code != 0 {
		t.Fatalf("worker build: %s", stderr)
	}
	t.Setenv("OWNED_JWT_SECRET", ownedSecret)
	srv := startServer(t, ctx, filepath.Join(tmp, "native"))
	w := startWorker(t, dir, "", "OWNED_JWT_SECRET="+ownedSecret)
	p := &pair{native: newClient(srv.url), worker: newClient(w.url)}
	defer p.native.Close()
	defer p.worker.Close()

	claims := func(sub string, roles []string, extra map[string]any) map[string]any {
		c := map[string]any{"sub": sub, "roles": roles, "iss": "https://id.example", "aud": "owned", "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	mint := func(c map[string]any, key any, kid string) []string {
		tok, err := auth.Mint(c, key, kid)
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + tok}
	}
	enc := base64.RawURLEncoding.EncodeToString
	seg := func(v any) string { b, _ := json.Marshal(v); return enc(b) }
	ada := mint(claims("ada", []string{"customer"}, nil), []byte(ownedSecret), "")
	bob := mint(claims("bob", []string{"customer"}, nil), ecKey, "ec1")
	cy := mint(claims("cy", []string{"customer"}, nil), rsaKey, "rsa1")
	dee := mint(claims("dee", []string{"customer"}, nil), edKey, "ed1")
	sam := mint(claims("sam", []string{"support"}, nil), []byte(ownedSecret), "")

	t.Run("tokens", func(t *testing.T) {
		p.command(t, 201, "/cart/c1/Open", ``, ada...)
		p.command(t, 201, "/cart/c2/Open", ``, bob...) // ES256, WebCrypto on workerd
		p.command(t, 201, "/cart/c3/Open", ``, cy...)  // RS256
		p.command(t, 201, "/cart/c4/Open", ``, dee...) // EdDSA
		p.sync(t)
		refused := map[string][]string{
			"bad_signature":         mint(claims("ada", []string{"customer"}, nil), []byte("another secret, also thirty-two bytes"), ""),
			"algorithm_not_allowed": {"Authorization", "Bearer " + seg(map[string]any{"alg": "none"}) + "." + seg(claims("ada", []string{"customer"}, nil)) + "."},
			"expired":               mint(claims("ada", []string{"customer"}, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), []byte(ownedSecret), ""),
			"not_yet_valid":         mint(claims("ada", []string{"customer"}, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), []byte(ownedSecret), ""),
			"wrong_audience":        mint(claims("ada", []string{"customer"}, map[string]any{"aud": "bank"}), []byte(ownedSecret), ""),
			"wrong_issuer":          mint(claims("ada", []string{"customer"}, map[string]any{"iss": "https://evil.example"}), []byte(ownedSecret), ""),
			"unknown_key":           mint(claims("ada", []string{"customer"}, nil), ecKey, "ec9"),
			"too_large":             {"Authorization", "Bearer " + strings.Repeat("a", 100<<10)},
			"invalid_claims":        mint(claims("ada", []string{"customer"}, map[string]any{"roles": "customer"}), []byte(ownedSecret), ""),
			// An ES256 token over a forged signature: WebCrypto says no.
			"bad_signature ES256": func() []string {
				h := mint(claims("ada", []string{"customer"}, nil), ecKey, "ec1")
				parts := strings.Split(h[1], ".")
				other := mint(claims("eve", []string{"customer"}, nil), ecKey, "ec1")
				parts[1] = strings.Split(other[1], ".")[1]
				return []string{h[0], strings.Join(parts, ".")}
			}(),
			// Algorithm confusion: HS256 signed with the RSA public key.
			"bad_signature confused": func() []string {
				der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
				head := seg(map[string]any{"alg": "HS256", "kid": "rsa1"}) + "." + seg(claims("ada", []string{"customer"}, nil))
				m := hmac.New(sha256.New, der)
				m.Write([]byte(head))
				return []string{"Authorization", "Bearer " + head + "." + enc(m.Sum(nil))}
			}(),
		}
		for why, h := range refused {
			n, wr := p.command(t, 401, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":1}`, h...)
			reason, _, _ := strings.Cut(why, " ")
			for _, r := range []reply{n, wr} {
				var m map[string]any
				_ = json.Unmarshal(r.Body, &m)
				if m["reason"] != reason {
					t.Errorf("%s: %v, want reason %s", why, r, reason)
				}
			}
		}
		// A token in the query string is refused, and so is a request
		// without one where no rule opens it.
		p.do(t, 401, http.MethodGet, "/cart/c1?access_token=x", nil)
		p.do(t, 401, http.MethodGet, "/cart/c1", nil)
	})

	t.Run("rules", func(t *testing.T) {
		p.command(t, 200, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":2}`, ada...)
		n, _ := p.command(t, 403, "/cart/c1/AddItem", `{"sku":"TEA-01","qty":1}`, bob...)
		if !strings.Contains(string(n.Body), `"name":"owner acts"`) {
			t.Errorf("a denied command answers %s, want the rule's name", n.Body)
		}
		p.command(t, 403, "/cart/c9/Open", ``, sam...) // support cannot open carts
		p.do(t, 200, http.MethodGet, "/cart/c1", nil, ada...)
		p.do(t, 404, http.MethodGet, "/cart/c1", nil, bob...) // as if missing
		p.do(t, 404, http.MethodGet, "/cart/c1/events", nil, bob...)
		p.do(t, 404, http.MethodGet, "/cart/c1/history", nil, bob...)
		p.do(t, 200, http.MethodGet, "/cart/c1/history", nil, ada...)
		p.do(t, 200, http.MethodGet, "/cart/c1", nil, sam...)
		p.command(t, 201, "/note/n1/Write", `{"text":"mine"}`, ada...)
		p.do(t, 403, http.MethodGet, "/note/n1", nil, bob...) // refused outright
		p.do(t, 403, http.MethodGet, "/note/n1/events", nil, bob...)
		p.sync(t)
	})

	t.Run("queries", func(t *testing.T) {
		p.do(t, 200, http.MethodGet, "/queries/my_carts", nil, ada...)
		p.do(t, 400, http.MethodGet, "/queries/my_carts?owner=bob", nil, ada...) // bound from the token
		p.do(t, 403, http.MethodGet, "/queries/carts_of?owner=ada", nil, ada...)
		if _, wr := p.do(t, 200, http.MethodGet, "/queries/carts_of?owner=ada", nil, sam...); !strings.Contains(string(wr.Body), `"by":"ada/TEA-01/customer"`) {
			t.Errorf("the carts projection on workerd does not read the declared meta: %s", wr.Body)
		}
		p.do(t, 200, http.MethodGet, "/queries/open_count", nil)
		p.do(t, 401, http.MethodGet, "/queries/my_carts", nil)
	})

	t.Run("meta", func(t *testing.T) {
		p.do(t, 403, http.MethodGet, "/events", nil, ada...)
		// The live stream is refused alike, before it opens (bob's token
		// is ES256: checked by WebCrypto from the stream script).
		stream := []string{"Accept", "text/event-stream"}
		p.do(t, 401, http.MethodGet, "/events", nil, stream...)
		p.do(t, 403, http.MethodGet, "/events", nil, append(stream, bob...)...)
		for _, read := range []struct {
			path  string
			who   []string
			actor string
		}{{"/cart/c1/events", ada, "ada"}, {"/cart/c2/events", bob, "bob"}, {"/events", sam, ""}} {
			_, wr := p.do(t, 200, http.MethodGet, read.path, nil, read.who...)
			var page struct {
				Events []struct {
					Instance string `json:"instance"`
					Type     string `json:"type"`
					Meta     struct {
						Actor         string   `json:"actor"`
						CorrelationID string   `json:"correlationId"`
						Roles         []string `json:"roles"`
						SKU           string   `json:"sku"`
					} `json:"meta"`
				} `json:"events"`
			}
			if err := json.Unmarshal(wr.Body, &page); err != nil || len(page.Events) == 0 {
				t.Fatalf("GET %s on workerd: %v (%v)", read.path, wr, err)
			}
			for _, e := range page.Events {
				want := read.actor
				if want == "" {
					want = map[string]string{"c1": "ada", "c2": "bob", "c3": "cy", "c4": "dee", "n1": "ada"}[e.Instance]
				}
				if e.Meta.Actor != want || e.Meta.CorrelationID == "" || len(e.Meta.Roles) != 1 {
					t.Errorf("GET %s on workerd: an event of %s has meta %+v, want actor %s, a correlation id and the roles", read.path, e.Instance, e.Meta, want)
				}
				if (e.Type == "ItemAdded") != (e.Meta.SKU == "TEA-01") {
					t.Errorf("GET %s on workerd: a %s event has meta.sku %q, want TEA-01 on ItemAdded only", read.path, e.Type, e.Meta.SKU)
				}
			}
		}
	})
}

// TestAuthJWKSURL: a context whose keys come from a JWKS URL. The Worker
// fetches the set through its shell's fetch (natively net/http): a token
// signed with a key of the set is accepted on both, one naming a kid the
// set does not have is refused as unknown_key, and the fetched set is
// kept (one fetch per runtime for all of it).
func TestAuthJWKSURL(t *testing.T) {
	needWorkerd(t)
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, err := auth.JWK(k1, "k1")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	var mu sync.Mutex // set, which the test rotates
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write(set)
	}))
	t.Cleanup(jwks.Close)
	src, err := os.ReadFile(contextPath("contexts/owned/owned.cue"))
	if err != nil {
		t.Fatal(err)
	}
	withURL := strings.Replace(string(src), `secretEnv: "OWNED_JWT_SECRET"`, `jwks: {url: "`+jwks.URL+`/jwks", refresh: "0s"}`, 1)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "owned.cue")
	if err := os.WriteFile(ctx, []byte(withURL), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "worker")
	if _, stderr, code := runCLI(t, time.Minute, "worker", "build", ctx, "-o", dir, "--wasm", engineWasm); code != 0 {
		t.Fatalf("worker build: %s", stderr)
	}
	srv := startServer(t, ctx, filepath.Join(tmp, "native"))
	w := startWorker(t, dir, "")
	p := &pair{native: newClient(srv.url), worker: newClient(w.url)}
	defer p.native.Close()
	defer p.worker.Close()
	mint := func(sub string, kid string) []string {
		tok, err := auth.Mint(map[string]any{"sub": sub, "roles": []string{"customer"}, "iss": "https://id.example", "aud": "owned",
			"exp": time.Now().Add(time.Hour).Unix()}, k1, kid)
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + tok}
	}
	p.command(t, 201, "/cart/c1/Open", ``, mint("ada", "k1")...)
	p.do(t, 200, http.MethodGet, "/cart/c1", nil, mint("ada", "k1")...)
	n, _ := p.command(t, 401, "/cart/c2/Open", ``, mint("bob", "k9")...)
	if !strings.Contains(string(n.Body), `"reason":"unknown_key"`) {
		t.Errorf("an unknown kid answers %s", n.Body)
	}
	// Natively: the first use, and the unknown kid (the set may have been
	// rotated); the same on the Worker, whose isolate keeps the set.
	if got := fetches.Load(); got < 2 || got > 4 {
		t.Errorf("%d fetches of the JWKS by both runtimes, want 2 to 4", got)
	}

	// The set rotates to k2: a token of k2 is refused while its kid is
	// unknown and the last fetch is younger than jwks.refresh, and
	// accepted once the set is fetched again. The refresh is 0s here so
	// the rotation shows at once; by default it is 30s.
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk2, err := auth.JWK(k2, "k2")
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := json.Marshal(map[string]any{"keys": []any{jwk2}})
	mu.Lock()
	set = rotated
	mu.Unlock()
	mint2 := func(sub string) []string {
		tok, err := auth.Mint(map[string]any{"sub": sub, "roles": []string{"customer"}, "iss": "https://id.example", "aud": "owned",
			"exp": time.Now().Add(time.Hour).Unix()}, k2, "k2")
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + tok}
	}
	before := fetches.Load()
	p.command(t, 201, "/cart/c3/Open", ``, mint2("cy")...)
	if got := fetches.Load() - before; got != 2 {
		t.Errorf("%d fetches for the rotated key by both runtimes, want one each", got)
	}
	// The old key left the set: its tokens are refused once their cached
	// verification is gone (a new token of k1 was never verified).
	n, _ = p.command(t, 401, "/cart/c4/Open", ``, mint("dan", "k1")...)
	if !strings.Contains(string(n.Body), `"reason":"unknown_key"`) {
		t.Errorf("a token of the rotated-out key answers %s", n.Body)
	}
}
