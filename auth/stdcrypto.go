//go:build !js

package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
)

// StdCrypto verifies RS256, ES256 and EdDSA with the Go standard library:
// the native runtime's Crypto (a Worker's is WebCrypto, through its
// shell, so that the wasm engine links no RSA or ECDSA).
type StdCrypto struct{}

func init() {
	stdCrypto = StdCrypto{}
	checkKey = func(k *Key) error {
		_, err := k.Native(stdKey)
		return err
	}
}

// Verify implements Crypto.
func (StdCrypto) Verify(_ context.Context, alg string, key *Key, signed, sig []byte) (bool, error) {
	pub, err := key.Native(stdKey)
	if err != nil {
		return false, err
	}
	h := sha256.Sum256(signed)
	switch alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil, nil
	case "ES256":
		// JWS carries r and s as two 32-byte big-endian numbers (RFC 7518,
		// section 3.4), not ASN.1.
		if len(sig) != 64 {
			return false, nil
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub.(*ecdsa.PublicKey), h[:], r, s), nil
	case "EdDSA":
		return ed25519.Verify(pub.(ed25519.PublicKey), signed, sig), nil
	}
	return false, errors.New("unknown algorithm " + alg)
}

// stdKey makes the standard library's key of a JWK ParseJWKS checked the
// shape of.
func stdKey(k *Key) (any, error) {
	switch k.Kty {
	case "RSA":
		nb, _ := b64.DecodeString(k.N)
		eb, _ := b64.DecodeString(k.E)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}, nil
	case "EC":
		var c elliptic.Curve
		switch k.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		}
		xb, _ := b64.DecodeString(k.X)
		yb, _ := b64.DecodeString(k.Y)
		// Uncompressed point form, checked to be on the curve by the parser.
		pub, err := ecdsa.ParseUncompressedPublicKey(c, append([]byte{4}, append(xb, yb...)...))
		if err != nil {
			return nil, errors.New("x and y are not a point on the curve")
		}
		return pub, nil
	case "OKP":
		x, _ := b64.DecodeString(k.X)
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("unknown key type " + k.Kty)
}
