package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MaxJWKSBytes bounds a fetched key set.
const MaxJWKSBytes = 256 << 10

// Key is one public key of a JWKS, as its JWK (RFC 7517, 7518, 8037):
// checked for shape here, turned into a key by the Crypto that verifies
// with it (natively the standard library's types, on Workers WebCrypto's
// importKey of the same JWK).
type Key struct {
	ID  string
	Alg string // the key's declared alg, "" if none
	// Kty is RSA, EC or OKP; Crv the curve of EC (P-256, P-384, P-521)
	// and OKP (Ed25519) keys; N and E an RSA key's, X and Y an EC key's
	// coordinates (X alone for Ed25519), base64url as in the JWK.
	Kty, Crv, N, E, X, Y string

	// native is the key in the Crypto's own form, made once.
	once   sync.Once
	native any
	bad    error
}

// Native returns the key in a Crypto's own form, made by make the first
// time (and remembered, with its error).
func (k *Key) Native(make func(*Key) (any, error)) (any, error) {
	k.once.Do(func() { k.native, k.bad = make(k) })
	return k.native, k.bad
}

// JWK is the key as a public JWK, for an importKey.
func (k *Key) JWK() map[string]string {
	m := map[string]string{"kty": k.Kty}
	for name, v := range map[string]string{"crv": k.Crv, "n": k.N, "e": k.E, "x": k.X, "y": k.Y} {
		if v != "" {
			m[name] = v
		}
	}
	return m
}

// fits says whether k is of alg's key type (ES256: P-256 only).
func (k *Key) fits(alg string) bool {
	switch alg {
	case "RS256":
		return k.Kty == "RSA"
	case "ES256":
		return k.Kty == "EC" && k.Crv == "P-256"
	case "EdDSA":
		return k.Kty == "OKP" && k.Crv == "Ed25519"
	}
	return false
}

// checkKey checks a key beyond its shape (a point on its curve) where
// the standard library is linked; nil in the wasm engine, whose WebCrypto
// checks it when it imports it.
var checkKey func(*Key) error

// ParseJWKS reads a JSON Web Key Set (RFC 7517): RSA, EC (P-256, P-384,
// P-521) and OKP (Ed25519) public keys for signing. Keys of other types
// or uses are skipped; a key of a known type that does not decode is an
// error.
func ParseJWKS(data []byte) (map[string]*Key, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("a JWKS is {\"keys\": [...]}: %v", err)
	}
	out := map[string]*Key{}
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		key := &Key{ID: k.Kid, Alg: k.Alg, Kty: k.Kty}
		var err error
		switch k.Kty {
		case "RSA":
			key.N, key.E = k.N, k.E
			nb, err1 := b64.DecodeString(k.N)
			eb, err2 := b64.DecodeString(k.E)
			switch {
			case err1 != nil || len(nb) < 256:
				err = errors.New("n is not a modulus of at least 2048 bits")
			case err2 != nil || len(eb) == 0 || len(eb) > 4:
				err = errors.New("e is not a small exponent")
			}
		case "EC":
			key.Crv, key.X, key.Y = k.Crv, k.X, k.Y
			size := map[string]int{"P-256": 32, "P-384": 48, "P-521": 66}[k.Crv]
			xb, err1 := b64.DecodeString(k.X)
			yb, err2 := b64.DecodeString(k.Y)
			switch {
			case size == 0:
				err = fmt.Errorf("curve %.20q is not P-256, P-384 or P-521", k.Crv)
			case err1 != nil || err2 != nil || len(xb) != size || len(yb) != size:
				err = errors.New("x and y are not coordinates on the curve")
			}
		case "OKP":
			if k.Crv != "Ed25519" {
				continue
			}
			key.Crv, key.X = k.Crv, k.X
			if x, err1 := b64.DecodeString(k.X); err1 != nil || len(x) != 32 {
				err = errors.New("x is not an Ed25519 public key")
			}
		default:
			continue
		}
		if err == nil && checkKey != nil {
			err = checkKey(key)
		}
		if err != nil {
			return nil, fmt.Errorf("key %d (%s): %v", i, k.Kty, err)
		}
		out[k.Kid] = key
	}
	return out, nil
}

// Fetcher fetches a JWKS document: natively over HTTP, on Workers through
// the shell.
type Fetcher interface {
	Fetch(ctx context.Context) ([]byte, error)
}

// Keys is a JWKS: static, or fetched and cached. Safe for concurrent use.
type Keys struct {
	fetcher Fetcher
	// MinRefresh is the least time between fetches, so tokens with made-up
	// kids cannot make the server fetch on every request; TTL is how long
	// a fetched set is used before it is fetched again.
	MinRefresh, TTL time.Duration
	now             func() time.Time

	mu      sync.Mutex
	set     map[string]*Key
	fetched time.Time
}

// StaticKeys is a key set that never changes.
func StaticKeys(jwks []byte) (*Keys, error) {
	set, err := ParseJWKS(jwks)
	if err != nil {
		return nil, err
	}
	return &Keys{set: set, now: time.Now}, nil
}

// FetchedKeys is a key set fetched by f when first needed, again after
// TTL (10 minutes) and on an unknown kid (at most every MinRefresh, 30s).
func FetchedKeys(f Fetcher) *Keys {
	return &Keys{fetcher: f, MinRefresh: 30 * time.Second, TTL: 10 * time.Minute, now: time.Now}
}

// Get returns the key named kid; an empty kid names the set's only key.
func (k *Keys) Get(ctx context.Context, kid string) (*Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fetcher != nil {
		stale := k.set == nil || k.now().Sub(k.fetched) > k.TTL
		_, known := k.find(kid)
		if stale || !known && k.now().Sub(k.fetched) >= k.MinRefresh {
			if err := k.refresh(ctx); err != nil && k.set == nil {
				return nil, err
			}
		}
	}
	key, ok := k.find(kid)
	if !ok {
		return nil, refuse(ReasonUnknownKey, "no key of the trusted set has the token's kid")
	}
	return key, nil
}

func (k *Keys) find(kid string) (*Key, bool) {
	if kid == "" && len(k.set) == 1 {
		for _, key := range k.set {
			return key, true
		}
	}
	key, ok := k.set[kid]
	return key, ok && kid != ""
}

func (k *Keys) refresh(ctx context.Context) error {
	k.fetched = k.now()
	data, err := k.fetcher.Fetch(ctx)
	if err == nil && len(data) > MaxJWKSBytes {
		err = fmt.Errorf("the JWKS is over %d bytes", MaxJWKSBytes)
	}
	var set map[string]*Key
	if err == nil {
		set, err = ParseJWKS(data)
	}
	if err != nil {
		return err
	}
	k.set = set
	return nil
}
