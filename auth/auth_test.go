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
