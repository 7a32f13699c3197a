package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxTokenBytes bounds a token: a longer one is refused before it is
// decoded. Identity tokens are well under 4 KiB; 8 KiB leaves room for
// generous claims.
const MaxTokenBytes = 8 << 10

// DefaultSkew is the clock skew allowed on exp and nbf.
const DefaultSkew = 30 * time.Second

// The algorithms this package verifies.
var Algorithms = []string{"HS256", "RS256", "ES256", "EdDSA"}

// Crypto verifies the signatures of the public-key algorithms (RS256,
// ES256, EdDSA): natively the Go standard library (StdCrypto), on Workers
// the shell's WebCrypto. Everything else (the allow-list, which key for
// which algorithm, the claims) is this package's, the same everywhere.
type Crypto interface {
	// Verify reports whether sig is key's signature of signed under alg
	// (alg is the allow-list's and matches key's type). An error says the
	// signature could not be checked at all (not that it is bad).
	Verify(ctx context.Context, alg string, key *Key, signed, sig []byte) (bool, error)
}

// Config is how tokens are verified.
type Config struct {
	// Algorithms is the allow-list; empty means HS256 when Secret is set
	// and RS256, ES256 and EdDSA when Keys is, never both unless listed.
	Algorithms []string
	// Secret verifies HS256.
	Secret []byte
	// Keys verifies RS256, ES256 and EdDSA.
	Keys *Keys
	// Crypto checks RS256, ES256 and EdDSA signatures; nil: StdCrypto
	// where it is built (not in a Worker, which passes its own).
	Crypto Crypto
	// Issuer and Audience, when set, must be the token's iss and one of
	// its aud.
	Issuer, Audience string
	// Skew is the clock skew allowed on exp and nbf (DefaultSkew if 0).
	Skew time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// stdCrypto is the standard library's Crypto where it is linked (not in
// the wasm engine, which would grow by RSA's and ECDSA's code).
var stdCrypto Crypto

// Verifier verifies tokens under one Config. It is safe for concurrent
// use.
type Verifier struct {
	cfg Config

	// verified remembers tokens that verified, by their whole text, so a
	// client that sends the same token with every request pays for its
	// signature once (see CacheTTL).
	mu       sync.RWMutex
	verified map[string]verified
}

type verified struct {
	claims map[string]any
	until  time.Time
}

// CacheTTL bounds how long a verified token is remembered (never past its
// exp): a key removed from the JWKS stops verifying its tokens within it.
// CacheSize bounds how many are.
const (
	CacheTTL  = time.Minute
	CacheSize = 1024
)

// New returns a Verifier, or an error when the configuration cannot
// verify anything or allows what it cannot check.
func New(cfg Config) (*Verifier, error) {
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Crypto == nil {
		cfg.Crypto = stdCrypto
	}
	if len(cfg.Algorithms) == 0 {
		if cfg.Secret != nil {
			cfg.Algorithms = append(cfg.Algorithms, "HS256")
		}
		if cfg.Keys != nil {
			cfg.Algorithms = append(cfg.Algorithms, "RS256", "ES256", "EdDSA")
		}
	}
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("auth: no secret and no keys: nothing could verify a token")
	}
	for _, a := range cfg.Algorithms {
		switch {
		case !slices.Contains(Algorithms, a):
			return nil, fmt.Errorf("auth: algorithm %q is not one of %s", a, strings.Join(Algorithms, ", "))
		case a == "HS256" && len(cfg.Secret) < 32:
			return nil, errors.New("auth: HS256 needs a secret of at least 32 bytes")
		case a != "HS256" && cfg.Keys == nil:
			return nil, fmt.Errorf("auth: %s needs keys (a JWKS)", a)
		case a != "HS256" && cfg.Crypto == nil:
			return nil, fmt.Errorf("auth: this runtime has no verifier of %s signatures", a)
		}
	}
	return &Verifier{cfg: cfg, verified: map[string]verified{}}, nil
}

// Error is a refused token. Reason is one of the Reason constants; Detail
// says more, never with a claim value or key.
type Error struct {
	Reason string
	Detail string
}

func (e *Error) Error() string { return e.Reason + ": " + e.Detail }

// TokenReason is the reason, for callers that do not import this package
// (the API: a Worker that verifies elsewhere links none of it).
func (e *Error) TokenReason() string { return e.Reason }

// Why a token is refused.
const (
	ReasonMissing      = "missing"
	ReasonTooLarge     = "too_large"
	ReasonMalformed    = "malformed"
	ReasonAlgorithm    = "algorithm_not_allowed"
	ReasonUnknownKey   = "unknown_key"
	ReasonSignature    = "bad_signature"
	ReasonExpired      = "expired"
	ReasonNotYetValid  = "not_yet_valid"
	ReasonIssuer       = "wrong_issuer"
	ReasonAudience     = "wrong_audience"
	ReasonClaims       = "invalid_claims"
	ReasonKeysUnusable = "keys_unavailable"
)

func refuse(reason, detail string) *Error { return &Error{Reason: reason, Detail: detail} }

// Verify checks token and returns its claims as decoded JSON (numbers as
// float64), or an *Error. The claims may be shared with other calls for
// the same token: a caller must not change them.
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	if len(token) > MaxTokenBytes {
		return nil, refuse(ReasonTooLarge, fmt.Sprintf("the token is %d bytes, over the limit of %d", len(token), MaxTokenBytes))
	}
	if token == "" {
		return nil, refuse(ReasonMissing, "no token")
	}
	now := v.cfg.Now()
	v.mu.RLock()
	hit, ok := v.verified[token]
	v.mu.RUnlock()
	if ok && now.Before(hit.until) {
		return hit.claims, nil
	}
	claims, exp, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	v.remember(token, claims, exp, now)
	return claims, nil
}

// remember keeps a verified token until CacheTTL has passed or it expires,
// whichever comes first.
func (v *Verifier) remember(token string, claims map[string]any, exp, now time.Time) {
	until := now.Add(CacheTTL)
	if end := exp.Add(v.cfg.Skew); end.Before(until) {
		until = end
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= CacheSize {
		for k, e := range v.verified {
			if !now.Before(e.until) {
				delete(v.verified, k)
			}
		}
		for k := range v.verified {
			if len(v.verified) < CacheSize {
				break
			}
			delete(v.verified, k) // any: map order is random
		}
	}
	v.verified[token] = verified{claims: claims, until: until}
}

// b64 is the strict base64url of JWS (RFC 7515, section 2): no padding,
// no stray bits.
var b64 = base64.RawURLEncoding.Strict()

var malformed = refuse(ReasonMalformed, "the token is not a signed JWT (three base64url parts of JSON)")

// verify checks a token in the order that says the most about a bad one
// without trusting it: its shape, its algorithm against the allow-list,
// the key the configuration names for that algorithm, the signature, and
// only then the claims. It returns the claims and their exp.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (map[string]any, time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, time.Time{}, malformed
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	head, err1 := b64.DecodeString(parts[0])
	body, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(head, &header) != nil {
		return nil, time.Time{}, malformed
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, time.Time{}, malformed
	}
	alg := header.Alg
	if !slices.Contains(v.cfg.Algorithms, alg) {
		return nil, time.Time{}, refuse(ReasonAlgorithm, fmt.Sprintf("the algorithm %.20q is not allowed here (allowed: %s)", alg, strings.Join(v.cfg.Algorithms, ", ")))
	}
	signed := []byte(token[:len(parts[0])+1+len(parts[1])])
	if alg == "HS256" {
		m := hmac.New(sha256.New, v.cfg.Secret)
		m.Write(signed)
		if !hmac.Equal(m.Sum(nil), sig) {
			return nil, time.Time{}, refuse(ReasonSignature, "the signature does not verify")
		}
	} else {
		key, err := v.key(ctx, alg, header.Kid)
		if err != nil {
			return nil, time.Time{}, err
		}
		ok, err := v.cfg.Crypto.Verify(ctx, alg, key, signed, sig)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("auth: checking the token's %s signature: %w", alg, err)
		}
		if !ok {
			return nil, time.Time{}, refuse(ReasonSignature, "the signature does not verify")
		}
	}
	exp, err := v.validate(claims, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	return claims, exp, nil
}

// key is the key that verifies a token of alg: chosen by the algorithm
// the allow-list accepted, so a token cannot make a public key into an
// HMAC secret, and of that algorithm's key type only.
func (v *Verifier) key(ctx context.Context, alg, kid string) (*Key, error) {
	k, err := v.cfg.Keys.Get(ctx, kid)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, refuse(ReasonKeysUnusable, "the signing keys could not be fetched")
	}
	if k.Alg != "" && k.Alg != alg {
		return nil, refuse(ReasonAlgorithm, "the key named by kid is for another algorithm")
	}
	if !k.fits(alg) {
		return nil, refuse(ReasonAlgorithm, "the key named by kid is of another type than the algorithm")
	}
	return k, nil
}

// validate checks the registered claims (RFC 7519, section 4.1): exp
// (required), nbf, iss and aud when configured, each of its type; it
// returns exp.
func (v *Verifier) validate(c map[string]any, now time.Time) (time.Time, error) {
	exp, hasExp, ok := numericDate(c["exp"])
	nbf, hasNbf, ok2 := numericDate(c["nbf"])
	_, _, ok3 := numericDate(c["iat"])
	iss, issOK := c["iss"].(string)
	aud, audOK := audiences(c["aud"])
	switch {
	case !ok || !ok2 || !ok3 || c["iss"] != nil && !issOK || !audOK:
		return exp, refuse(ReasonClaims, "a registered claim (exp, nbf, iat, iss, aud) has the wrong type")
	case !hasExp:
		return exp, refuse(ReasonClaims, "the token lacks a required claim (exp, and iss and aud when configured)")
	case !now.Before(exp.Add(v.cfg.Skew)):
		return exp, refuse(ReasonExpired, "the token has expired")
	case hasNbf && now.Add(v.cfg.Skew).Before(nbf):
		return exp, refuse(ReasonNotYetValid, "the token is not valid yet (nbf)")
	case v.cfg.Audience != "" && len(aud) == 0, v.cfg.Issuer != "" && iss == "":
		return exp, refuse(ReasonClaims, "the token lacks a required claim (exp, and iss and aud when configured)")
	case v.cfg.Audience != "" && !slices.Contains(aud, v.cfg.Audience):
		return exp, refuse(ReasonAudience, "the token's audience (aud) does not name this context")
	case v.cfg.Issuer != "" && iss != v.cfg.Issuer:
		return exp, refuse(ReasonIssuer, "the token's issuer (iss) is not the one this context trusts")
	}
	return exp, nil
}

// numericDate reads a NumericDate claim: absent, or a number of seconds.
func numericDate(v any) (t time.Time, present, ok bool) {
	if v == nil {
		return time.Time{}, false, true
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, true, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, true
}

// audiences reads aud: absent, a string or a list of strings.
func audiences(v any) ([]string, bool) {
	switch a := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{a}, true
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
