//go:build !js

package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
)

// Mint signs claims as a token: HS256 with a []byte secret, RS256, ES256
// or EdDSA with a private key; kid, when set, goes in the header. It is
// for tests, `cuesource token` and a Dev key; a server mints only with a
// Dev key, and only when started to (play, serve --dev-tokens).
func Mint(claims map[string]any, key any, kid string) (string, error) {
	var alg string
	switch key.(type) {
	case []byte:
		alg = "HS256"
	case *rsa.PrivateKey:
		alg = "RS256"
	case *ecdsa.PrivateKey:
		alg = "ES256"
	case ed25519.PrivateKey:
		alg = "EdDSA"
	default:
		return "", errors.New("auth: unsupported key type")
	}
	header := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc(h) + "." + enc(c)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	switch k := key.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, k, digest[:]); err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(signed))
	}
	if err != nil {
		return "", err
	}
	return signed + "." + enc(sig), nil
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
