package edge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/internal/effect/rules"
)

// Identity on Workers: package auth's policy (the allow-list, the key for
// each algorithm, the claims, the reasons) runs here as natively; what
// needs the platform goes through the shell. HS256 is checked in Go
// (crypto/hmac, linked anyway); RS256, ES256 and EdDSA signatures by
// WebCrypto ("verify" operation: the shell imports the JWK and answers
// whether the signature verifies), so the engine links no RSA or ECDSA;
// a JWKS URL is fetched with the "fetch" operation. Both need the
// running script's host, which the serve and stream scripts put in the
// request's context.

type hostKey struct{}

func withHost(ctx context.Context, h *host) context.Context {
	return context.WithValue(ctx, hostKey{}, h)
}

func hostOf(ctx context.Context) (*host, error) {
	h, _ := ctx.Value(hostKey{}).(*host)
	if h == nil {
		return nil, errors.New("edge: no script to perform the operation")
	}
	return h, nil
}

// identity is the verifier of a context's auth: its HS256 secret from
// the Worker's environment (a Worker secret of the name secretEnv gives).
func identity(c *Core) (*auth.Verifier, error) {
	a := c.prog.Auth.Manifest
	return auth.ForContext(a, func(name string) string { return c.cfg.Env[name] }, &jwksFetcher{url: a.JWKSURL}, webCrypto{})
}

// webCrypto is auth.Crypto through the shell's crypto.subtle.verify.
type webCrypto struct{}

// verifyArg is a "verify" operation's argument: the key, the WebCrypto
// algorithms to import it with and to verify with, the signing input as
// text (it is base64url and a dot) and the signature in base64url.
type verifyArg struct {
	JWK    map[string]string `json:"jwk"`
	Import map[string]string `json:"import"`
	Params map[string]string `json:"params"`
	Data   string            `json:"data"`
	Sig    string            `json:"sig"`
}

// webCryptoAlgorithms are, per JWS algorithm, the WebCrypto algorithm
// to import a key with and the one to verify with.
var webCryptoAlgorithms = map[string][2]map[string]string{
	"RS256": {{"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}, {"name": "RSASSA-PKCS1-v1_5"}},
	"ES256": {{"name": "ECDSA", "namedCurve": "P-256"}, {"name": "ECDSA", "hash": "SHA-256"}},
	"EdDSA": {{"name": "Ed25519"}, {"name": "Ed25519"}},
}

func (webCrypto) Verify(ctx context.Context, alg string, key *auth.Key, signed, sig []byte) (bool, error) {
	h, err := hostOf(ctx)
	if err != nil {
		return false, err
	}
	algs, found := webCryptoAlgorithms[alg]
	if !found {
		return false, fmt.Errorf("no WebCrypto algorithm for %s", alg)
	}
	var ok bool
	a := verifyArg{JWK: key.JWK(), Import: algs[0], Params: algs[1], Data: string(signed), Sig: base64.RawURLEncoding.EncodeToString(sig)}
	if err := h.do(Op{Kind: "verify", Arg: a}, &ok); err != nil {
		return false, err
	}
	return ok, nil
}

// jwksFetcher is auth.Fetcher through the shell's fetch.
type jwksFetcher struct{ url string }

func (f *jwksFetcher) Fetch(ctx context.Context) ([]byte, error) {
	h, err := hostOf(ctx)
	if err != nil {
		return nil, err
	}
	a := fetchArg{Method: "GET", URL: f.url, Headers: map[string]string{"Accept": "application/json"},
		TimeoutMS: (10 * time.Second).Milliseconds(), MaxBytes: auth.MaxJWKSBytes + 1, Redirect: "manual"}
	var r struct {
		rules.Reply
		TimedOut bool   `json:"timedOut"`
		Error    string `json:"error"`
	}
	if err := h.do(Op{Kind: "fetch", Arg: a}, &r); err != nil {
		return nil, err
	}
	switch {
	case r.TimedOut:
		return nil, fmt.Errorf("GET %s: %s", f.url, r.Error)
	case r.Status != 200:
		return nil, fmt.Errorf("GET %s: %d", f.url, r.Status)
	}
	return []byte(r.Snippet), nil
}
