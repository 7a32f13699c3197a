package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs claims as a token: HS256 with a []byte secret, RS256, ES256
// or EdDSA with a private key; kid, when set, goes in the header. It is
// for tests, `cuesource token` and a Dev key; a server mints only with a
// Dev key, and only when started to (play, serve --dev-tokens).
func Mint(claims map[string]any, key any, kid string) (string, error) {
	var m jwt.SigningMethod
	switch key.(type) {
	case []byte:
		m = jwt.SigningMethodHS256
	case *rsa.PrivateKey:
		m = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		m = jwt.SigningMethodES256
	case ed25519.PrivateKey:
		m = jwt.SigningMethodEdDSA
	default:
		return "", errors.New("auth: unsupported key type")
	}
	t := jwt.NewWithClaims(m, jwt.MapClaims(claims))
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}

// JWK is the public JWK of a private key (RSA, P-256 or Ed25519) under
// kid, for a static key set beside tokens Mint signs with the key.
func JWK(key any, kid string) (map[string]any, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PrivateKey:
		raw, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, err
		}
		n := (len(raw) - 1) / 2
		return map[string]any{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": k.Curve.Params().Name,
			"x": enc(raw[1 : 1+n]), "y": enc(raw[1+n:])}, nil
	case ed25519.PrivateKey:
		return map[string]any{"kty": "OKP", "kid": kid, "alg": "EdDSA", "use": "sig", "crv": "Ed25519",
			"x": enc(k.Public().(ed25519.PublicKey))}, nil
	}
	return nil, errors.New("auth: unsupported key type")
}
