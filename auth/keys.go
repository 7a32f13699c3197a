package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// MaxJWKSBytes bounds a fetched key set.
const MaxJWKSBytes = 256 << 10

// Key is one public key of a JWKS.
type Key struct {
	ID     string
	Alg    string // the key's declared alg, "" if none
	Public any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// ParseJWKS reads a JSON Web Key Set (RFC 7517): RSA, EC (P-256, P-384,
// P-521) and OKP (Ed25519) public keys for signing. Keys of other types
// or uses are skipped; a key of a known type that does not decode is an
// error.
func ParseJWKS(data []byte) (map[string]Key, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("a JWKS is {\"keys\": [...]}: %v", err)
	}
	out := map[string]Key{}
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var pub any
		var err error
		switch k.Kty {
		case "RSA":
			pub, err = rsaKey(k.N, k.E)
		case "EC":
			pub, err = ecKey(k.Crv, k.X, k.Y)
		case "OKP":
			if k.Crv != "Ed25519" {
				continue
			}
			var x []byte
			if x, err = b64(k.X); err == nil && len(x) != ed25519.PublicKeySize {
				err = errors.New("x is not an Ed25519 public key")
			}
			pub = ed25519.PublicKey(x)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %d (%s): %v", i, k.Kty, err)
		}
		out[k.Kid] = Key{ID: k.Kid, Alg: k.Alg, Public: pub}
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := b64(n)
	if err != nil || len(nb) < 256 {
		return nil, errors.New("n is not a modulus of at least 2048 bits")
	}
	eb, err := b64(e)
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("e is not a small exponent")
	}
	exp := new(big.Int).SetBytes(eb).Int64()
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(exp)}, nil
}

func ecKey(crv, x, y string) (*ecdsa.PublicKey, error) {
	var c elliptic.Curve
	switch crv {
	case "P-256":
		c = elliptic.P256()
	case "P-384":
		c = elliptic.P384()
	case "P-521":
		c = elliptic.P521()
	default:
		return nil, fmt.Errorf("curve %.20q is not P-256, P-384 or P-521", crv)
	}
	xb, err1 := b64(x)
	yb, err2 := b64(y)
	size := (c.Params().BitSize + 7) / 8
	if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
		return nil, errors.New("x and y are not coordinates on the curve")
	}
	// Uncompressed point form, checked to be on the curve by the parser.
	raw := append([]byte{4}, append(xb, yb...)...)
	pub, err := ecdsa.ParseUncompressedPublicKey(c, raw)
	if err != nil {
		return nil, errors.New("x and y are not a point on the curve")
	}
	return pub, nil
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
	set     map[string]Key
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
func (k *Keys) Get(ctx context.Context, kid string) (Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fetcher != nil {
		stale := k.set == nil || k.now().Sub(k.fetched) > k.TTL
		_, known := k.find(kid)
		if stale || !known && k.now().Sub(k.fetched) >= k.MinRefresh {
			if err := k.refresh(ctx); err != nil && k.set == nil {
				return Key{}, err
			}
		}
	}
	key, ok := k.find(kid)
	if !ok {
		return Key{}, refuse(ReasonUnknownKey, "no key of the trusted set has the token's kid")
	}
	return key, nil
}

func (k *Keys) find(kid string) (Key, bool) {
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
	var set map[string]Key
	if err == nil {
		set, err = ParseJWKS(data)
	}
	if err != nil {
		return err
	}
	k.set = set
	return nil
}
