package auth_test

import (
	"context"
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
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuesource/cuesource/auth"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ecKey  = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	rsaKey = must(rsa.GenerateKey(rand.Reader, 2048))
	edKey  = func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }()
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "ada", "iss": "https://id.example", "aud": "shop", "exp": now.Add(time.Hour).Unix(), "roles": []any{"customer"}}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func jwks(t *testing.T, keys map[string]any) []byte {
	t.Helper()
	var set []any
	for kid, k := range keys {
		set = append(set, must(auth.JWK(k, kid)))
	}
	return must(json.Marshal(map[string]any{"keys": set}))
}

// unsigned builds a token from a header and claims with any signature.
func unsigned(header, body map[string]any, sig []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc(must(json.Marshal(header))) + "." + enc(must(json.Marshal(body))) + "." + enc(sig)
}

func verifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	cfg.Issuer, cfg.Audience, cfg.Now = "https://id.example", "shop", func() time.Time { return now }
	return must(auth.New(cfg))
}

func reason(err error) string {
	var ae *auth.Error
	if errors.As(err, &ae) {
		return ae.Reason
	}
	if err == nil {
		return ""
	}
	return "not an *auth.Error: " + err.Error()
}

func TestVerify(t *testing.T) {
	static := must(auth.StaticKeys(jwks(t, map[string]any{"ec1": ecKey, "rsa1": rsaKey, "ed1": edKey})))
	hs := verifier(t, auth.Config{Secret: secret})
	asym := verifier(t, auth.Config{Keys: static})
	both := verifier(t, auth.Config{Secret: secret, Keys: static, Algorithms: []string{"HS256", "RS256", "ES256"}})
	pubDER := must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))
	confused := func(key []byte) string {
		h := map[string]any{"alg": "HS256", "typ": "JWT", "kid": "rsa1"}
		enc := base64.RawURLEncoding.EncodeToString
		head := enc(must(json.Marshal(h))) + "." + enc(must(json.Marshal(claims(nil))))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(head))
		return head + "." + enc(m.Sum(nil))
	}
	forged := must(auth.Mint(claims(nil), []byte("another secret that is long enough!!"), ""))
	for _, tc := range []struct {
		name  string
		v     *auth.Verifier
		token string
		want  string // reason, "" for accepted
	}{
		{"hs256", hs, must(auth.Mint(claims(nil), secret, "")), ""},
		{"es256", asym, must(auth.Mint(claims(nil), ecKey, "ec1")), ""},
		{"rs256", asym, must(auth.Mint(claims(nil), rsaKey, "rsa1")), ""},
		{"eddsa", asym, must(auth.Mint(claims(nil), edKey, "ed1")), ""},
		{"EdDSA token naming an EC key", asym, must(auth.Mint(claims(nil), edKey, "ec1")), auth.ReasonAlgorithm},
		{"forged signature", hs, forged, auth.ReasonSignature},
		{"tampered claims", hs, func() string {
			tok := must(auth.Mint(claims(nil), secret, ""))
			parts := strings.Split(tok, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString(must(json.Marshal(claims(map[string]any{"sub": "root"}))))
			return strings.Join(parts, ".")
		}(), auth.ReasonSignature},
		{"alg none", hs, unsigned(map[string]any{"alg": "none"}, claims(nil), nil), auth.ReasonAlgorithm},
		{"alg none, asymmetric", asym, unsigned(map[string]any{"alg": "none", "kid": "ec1"}, claims(nil), nil), auth.ReasonAlgorithm},
		{"HS256 signed with the RSA public key", asym, confused(pubDER), auth.ReasonAlgorithm},
		{"HS256 signed with the RSA public key, HS256 allowed", both, confused(pubDER), auth.ReasonSignature},
		{"ES256 token against an RSA key", asym, must(auth.Mint(claims(nil), ecKey, "rsa1")), auth.ReasonAlgorithm},
		{"RS256 where only HS256 is allowed", hs, must(auth.Mint(claims(nil), rsaKey, "rsa1")), auth.ReasonAlgorithm},
		{"expired", hs, must(auth.Mint(claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}), secret, "")), auth.ReasonExpired},
		{"expired within the skew", hs, must(auth.Mint(claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), secret, "")), ""},
		{"not yet valid", hs, must(auth.Mint(claims(map[string]any{"nbf": now.Add(time.Minute).Unix()}), secret, "")), auth.ReasonNotYetValid},
		{"no exp", hs, must(auth.Mint(claims(map[string]any{"exp": nil}), secret, "")), auth.ReasonClaims},
		{"wrong iss", hs, must(auth.Mint(claims(map[string]any{"iss": "https://evil.example"}), secret, "")), auth.ReasonIssuer},
		{"wrong aud", hs, must(auth.Mint(claims(map[string]any{"aud": "bank"}), secret, "")), auth.ReasonAudience},
		{"aud list naming us", hs, must(auth.Mint(claims(map[string]any{"aud": []any{"bank", "shop"}}), secret, "")), ""},
		{"exp of the wrong type", hs, must(auth.Mint(claims(map[string]any{"exp": "tomorrow"}), secret, "")), auth.ReasonClaims},
		{"unknown kid", asym, must(auth.Mint(claims(nil), ecKey, "ec9")), auth.ReasonUnknownKey},
		{"100 KB token", hs, strings.Repeat("a", 100<<10), auth.ReasonTooLarge},
		{"garbage", hs, "not.a.token", auth.ReasonMalformed},
		{"empty", hs, "", auth.ReasonMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.Verify(context.Background(), tc.token)
			if got := reason(err); got != tc.want {
				t.Fatalf("reason %q, want %q (%v)", got, tc.want, err)
			}
			if tc.want == "" && c["sub"] != "ada" {
				t.Fatalf("claims %v", c)
			}
			if err != nil && strings.Contains(err.Error(), "ada") {
				t.Fatalf("the error shows a claim value: %v", err)
			}
		})
	}
}

type fetcher struct {
	jwks  atomic.Value // []byte
	count atomic.Int32
}

func (f *fetcher) Fetch(context.Context) ([]byte, error) {
	f.count.Add(1)
	return f.jwks.Load().([]byte), nil
}

// A token signed with a key the set did not have fetches the set again
// and is accepted once the set has it; a made-up kid fetches at most once
// per MinRefresh.
func TestRotatedJWKS(t *testing.T) {
	f := &fetcher{}
	f.jwks.Store(jwks(t, map[string]any{"ec1": ecKey}))
	keys := auth.FetchedKeys(f)
	keys.MinRefresh = 0
	v := verifier(t, auth.Config{Keys: keys})
	if _, err := v.Verify(context.Background(), must(auth.Mint(claims(nil), ecKey, "ec1"))); err != nil {
		t.Fatal(err)
	}
	ec2 := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tok2 := must(auth.Mint(claims(nil), ec2, "ec2"))
	if _, err := v.Verify(context.Background(), tok2); reason(err) != auth.ReasonUnknownKey {
		t.Fatalf("before rotation: %v", err)
	}
	f.jwks.Store(jwks(t, map[string]any{"ec1": ecKey, "ec2": ec2}))
	if _, err := v.Verify(context.Background(), tok2); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	keys.MinRefresh = time.Hour
	before := f.count.Load()
	for range 5 {
		if _, err := v.Verify(context.Background(), must(auth.Mint(claims(nil), ec2, "made-up"))); reason(err) != auth.ReasonUnknownKey {
			t.Fatal(err)
		}
	}
	if n := f.count.Load() - before; n != 0 {
		t.Fatalf("%d fetches for unknown kids within MinRefresh, want 0", n)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  auth.Config
		want string
	}{
		{auth.Config{}, "nothing could verify"},
		{auth.Config{Secret: []byte("short")}, "at least 32 bytes"},
		{auth.Config{Secret: secret, Algorithms: []string{"none"}}, `"none" is not one of`},
		{auth.Config{Secret: secret, Algorithms: []string{"RS256"}}, "needs keys"},
	} {
		if _, err := auth.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg.Algorithms, err, tc.want)
		}
	}
}

// A verified token is remembered, but only as itself and only until it
// expires: a token changed by a byte is verified afresh, and a remembered
// one is refused once its exp (with the skew) has passed.
func TestVerifiedCache(t *testing.T) {
	clock := now
	v := must(auth.New(auth.Config{Secret: secret, Issuer: "https://id.example", Audience: "shop", Now: func() time.Time { return clock }}))
	tok := must(auth.Mint(claims(map[string]any{"exp": now.Add(10 * time.Second).Unix()}), secret, ""))
	for range 2 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(must(json.Marshal(claims(map[string]any{"sub": "root", "exp": now.Add(10 * time.Second).Unix()}))))
	if _, err := v.Verify(context.Background(), strings.Join(parts, ".")); reason(err) != auth.ReasonSignature {
		t.Fatalf("a changed token beside a remembered one: %v", err)
	}
	clock = now.Add(10*time.Second + auth.DefaultSkew + time.Second)
	if _, err := v.Verify(context.Background(), tok); reason(err) != auth.ReasonExpired {
		t.Fatalf("a remembered token past its exp: %v", err)
	}
}

// recording is a Crypto that records what the policy asks it and answers
// as StdCrypto does: the Worker's WebCrypto sits at this boundary.
type recording struct {
	asked []string
}

func (r *recording) Verify(ctx context.Context, alg string, key *auth.Key, signed, sig []byte) (bool, error) {
	r.asked = append(r.asked, alg+" "+key.ID+" "+key.JWK()["kty"])
	return auth.StdCrypto{}.Verify(ctx, alg, key, signed, sig)
}

// The policy is the package's: a Crypto is asked only for a public-key
// signature of an algorithm the list allows, with the key the kid names
// and of that algorithm's type; HS256 and every token refused before its
// signature never reach it.
func TestCryptoBoundary(t *testing.T) {
	static := must(auth.StaticKeys(jwks(t, map[string]any{"ec1": ecKey, "rsa1": rsaKey, "ed1": edKey})))
	rec := &recording{}
	v := verifier(t, auth.Config{Secret: secret, Keys: static, Crypto: rec, Algorithms: []string{"HS256", "ES256", "RS256", "EdDSA"}})
	for _, tc := range []struct {
		token string
		want  string
	}{
		{must(auth.Mint(claims(nil), secret, "")), ""},
		{unsigned(map[string]any{"alg": "none", "kid": "ec1"}, claims(nil), nil), auth.ReasonAlgorithm},
		{must(auth.Mint(claims(nil), ecKey, "rsa1")), auth.ReasonAlgorithm},
		{must(auth.Mint(claims(nil), ecKey, "ec9")), auth.ReasonUnknownKey},
		{must(auth.Mint(claims(nil), ecKey, "ec1")), ""},
		{must(auth.Mint(claims(nil), rsaKey, "rsa1")), ""},
		{must(auth.Mint(claims(nil), edKey, "ed1")), ""},
	} {
		if _, err := v.Verify(context.Background(), tc.token); reason(err) != tc.want {
			t.Errorf("reason %q, want %q", reason(err), tc.want)
		}
	}
	want := []string{"ES256 ec1 EC", "RS256 rsa1 RSA", "EdDSA ed1 OKP"}
	if strings.Join(rec.asked, ", ") != strings.Join(want, ", ") {
		t.Fatalf("the Crypto was asked %q, want %q", rec.asked, want)
	}
}

// What the JWS reader refuses beyond the attacks of TestVerify: shapes
// golang-jwt refused too, now the package's own.
func TestVerifyShapes(t *testing.T) {
	hs := verifier(t, auth.Config{Secret: secret})
	static := must(auth.StaticKeys(jwks(t, map[string]any{"ec1": ecKey})))
	asym := verifier(t, auth.Config{Keys: static})
	sign := func(header, body string) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(header + "." + body))
		return header + "." + body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	enc := func(v any) string { return base64.RawURLEncoding.EncodeToString(must(json.Marshal(v))) }
	head := enc(map[string]any{"alg": "HS256"})
	der := func() string {
		// An ES256 signature in ASN.1 (what crypto/ecdsa's SignASN1 gives),
		// not JWS's r and s: refused.
		tok := must(auth.Mint(claims(nil), ecKey, "ec1"))
		parts := strings.Split(tok, ".")
		h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		sig := must(ecdsa.SignASN1(rand.Reader, ecKey, h[:]))
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}()
	for _, tc := range []struct {
		name  string
		v     *auth.Verifier
		token string
		want  string
	}{
		{"claims are not an object", hs, sign(head, enc([]any{"ada"})), auth.ReasonMalformed},
		{"claims are null", hs, sign(head, enc(nil)), auth.ReasonMalformed},
		{"header is not JSON", hs, sign(base64.RawURLEncoding.EncodeToString([]byte("{alg")), enc(claims(nil))), auth.ReasonMalformed},
		{"padded base64", hs, sign(head, enc(claims(nil))+"=="), auth.ReasonMalformed},
		{"four parts", hs, sign(head, enc(claims(nil))) + ".x", auth.ReasonMalformed},
		{"aud of the wrong type", hs, sign(head, enc(claims(map[string]any{"aud": 7}))), auth.ReasonClaims},
		{"iss of the wrong type", hs, sign(head, enc(claims(map[string]any{"iss": true}))), auth.ReasonClaims},
		{"no iss where one is configured", hs, sign(head, enc(claims(map[string]any{"iss": nil}))), auth.ReasonClaims},
		{"no aud where one is configured", hs, sign(head, enc(claims(map[string]any{"aud": nil}))), auth.ReasonClaims},
		{"nbf within the skew", hs, sign(head, enc(claims(map[string]any{"nbf": now.Add(10 * time.Second).Unix()}))), ""},
		{"fractional exp", hs, sign(head, enc(claims(map[string]any{"exp": float64(now.Add(time.Hour).Unix()) + 0.5}))), ""},
		{"ES256 signature in ASN.1", asym, der, auth.ReasonSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.v.Verify(context.Background(), tc.token); reason(err) != tc.want {
				t.Fatalf("reason %q, want %q (%v)", reason(err), tc.want, err)
			}
		})
	}
}

// A key set is read strictly: a key of a known type that does not decode
// is an error (natively a point must be on its curve), a key of another
// type or use is skipped.
func TestParseJWKS(t *testing.T) {
	good := must(auth.JWK(ecKey, "ec1"))
	off := map[string]any{}
	for k, v := range good {
		off[k] = v
	}
	off["y"] = off["x"] // the same bytes: not on the curve
	for _, tc := range []struct {
		name string
		keys []any
		want string // "" for accepted
	}{
		{"EC", []any{good}, ""},
		{"EC off the curve", []any{off}, "not a point on the curve"},
		{"EC of an unknown curve", []any{map[string]any{"kty": "EC", "kid": "x", "crv": "P-192", "x": "AA", "y": "AA"}}, "is not P-256, P-384 or P-521"},
		{"short RSA", []any{map[string]any{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}}, "at least 2048 bits"},
		{"Ed25519 of the wrong size", []any{map[string]any{"kty": "OKP", "kid": "e", "crv": "Ed25519", "x": "AQAB"}}, "not an Ed25519 public key"},
		{"an encryption key and an unknown type are skipped", []any{map[string]any{"kty": "RSA", "use": "enc"}, map[string]any{"kty": "oct", "k": "AA"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.ParseJWKS(must(json.Marshal(map[string]any{"keys": tc.keys})))
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}
