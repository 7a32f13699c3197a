package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes bounds a token: a longer one is refused before it is
// decoded. Identity tokens are well under 4 KiB; 8 KiB leaves room for
// generous claims.
const MaxTokenBytes = 8 << 10

// DefaultSkew is the clock skew allowed on exp and nbf.
const DefaultSkew = 30 * time.Second

// The algorithms this package verifies.
var Algorithms = []string{"HS256", "RS256", "ES256", "EdDSA"}

// Config is how tokens are verified.
type Config struct {
	// Algorithms is the allow-list; empty means HS256 when Secret is set
	// and RS256, ES256 and EdDSA when Keys is, never both unless listed.
	Algorithms []string
	// Secret verifies HS256.
	Secret []byte
	// Keys verifies RS256, ES256 and EdDSA.
	Keys *Keys
	// Issuer and Audience, when set, must be the token's iss and one of
	// its aud.
	Issuer, Audience string
	// Skew is the clock skew allowed on exp and nbf (DefaultSkew if 0).
	Skew time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Verifier verifies tokens under one Config. It is safe for concurrent
// use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser

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
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms), jwt.WithLeeway(cfg.Skew),
		jwt.WithTimeFunc(cfg.Now), jwt.WithExpirationRequired(), jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{cfg: cfg, parser: jwt.NewParser(opts...), verified: map[string]verified{}}, nil
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
	claims, err := v.verify(ctx, token)
	if err == nil {
		v.remember(token, claims, now)
	}
	return claims, err
}

// remember keeps a verified token until CacheTTL has passed or it expires,
// whichever comes first.
func (v *Verifier) remember(token string, claims map[string]any, now time.Time) {
	until := now.Add(CacheTTL)
	if exp, err := jwt.MapClaims(claims).GetExpirationTime(); err == nil && exp != nil && exp.Add(v.cfg.Skew).Before(until) {
		until = exp.Add(v.cfg.Skew)
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

func (v *Verifier) verify(ctx context.Context, token string) (map[string]any, error) {
	var keyErr *Error
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		k, e := v.key(ctx, t)
		keyErr = e
		if e != nil {
			return nil, e
		}
		return k, nil
	})
	if err == nil {
		return claims, nil
	}
	if keyErr != nil {
		return nil, keyErr
	}
	// The parser refuses an algorithm off the list as a bad signature:
	// say what it is.
	if tok != nil && tok.Method != nil && !slices.Contains(v.cfg.Algorithms, tok.Method.Alg()) {
		return nil, refuse(ReasonAlgorithm, fmt.Sprintf("the algorithm %.20q is not allowed here (allowed: %s)", tok.Method.Alg(), strings.Join(v.cfg.Algorithms, ", ")))
	}
	return nil, classify(err)
}

// key is the key that verifies t: chosen by the algorithm the allow-list
// accepted, so a token cannot make a public key into an HMAC secret.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, *Error) {
	alg := t.Method.Alg()
	if !slices.Contains(v.cfg.Algorithms, alg) {
		return nil, refuse(ReasonAlgorithm, fmt.Sprintf("the algorithm %.20q is not allowed here (allowed: %s)", alg, strings.Join(v.cfg.Algorithms, ", ")))
	}
	if alg == "HS256" {
		return v.cfg.Secret, nil
	}
	kid, _ := t.Header["kid"].(string)
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
	ok := false
	switch alg {
	case "RS256":
		_, ok = k.Public.(*rsa.PublicKey)
	case "ES256":
		ec, isEC := k.Public.(*ecdsa.PublicKey)
		ok = isEC && ec.Curve.Params().Name == "P-256"
	case "EdDSA":
		_, ok = k.Public.(ed25519.PublicKey)
	}
	if !ok {
		return nil, refuse(ReasonAlgorithm, "the key named by kid is of another type than the algorithm")
	}
	return k.Public, nil
}

// classify turns a parser error into a Reason; the parser's own texts
// are not passed on (some quote the token).
func classify(err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(ReasonSignature, "the signature does not verify")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return refuse(ReasonAlgorithm, "the token's algorithm is not allowed here")
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(ReasonExpired, "the token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse(ReasonNotYetValid, "the token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(ReasonNotYetValid, "the token was issued in the future (iat)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse(ReasonIssuer, "the token's issuer (iss) is not the one this context trusts")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(ReasonAudience, "the token's audience (aud) does not name this context")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refuse(ReasonClaims, "the token lacks a required claim (exp, and iss and aud when configured)")
	case errors.Is(err, jwt.ErrInvalidType):
		return refuse(ReasonClaims, "a registered claim (exp, nbf, iat, iss, aud) has the wrong type")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ReasonMalformed, "the token is not a signed JWT (three base64url parts of JSON)")
	}
	return refuse(ReasonMalformed, "the token could not be read")
}
