package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cuesource/cuesource/auth"
)

// token mints a test token for a context's auth: HS256 with the secret in
// the context's secretEnv, or signed with a dev key (--key FILE, a PEM
// private key; made, with its public JWKS beside it, when FILE does not
// exist). A server never mints; this is for development and tests.
func (c *command) token(args []string) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "the caller's `id` (sub)")
	roles := fs.String("roles", "", "comma-separated `roles` (the roles claim)")
	claims := fs.String("claims", "", "more claims as a JSON `object`")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	keyFile := fs.String("key", "", "sign with this PEM private key `file` (RSA, P-256 or Ed25519); made if absent, with FILE.jwks.json")
	kid := fs.String("kid", "dev", "the key's `id` (kid)")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	fail := func(err error) int { fmt.Fprintln(c.stderr, "cuesource token:", err); return 1 }
	a := p.Manifest.Auth
	if a == nil {
		return fail(errors.New("the context declares no auth"))
	}
	if *sub == "" {
		return fail(errors.New("--sub is required"))
	}
	cl := map[string]any{}
	if *claims != "" {
		if err := json.Unmarshal([]byte(*claims), &cl); err != nil {
			return fail(fmt.Errorf("--claims: %v", err))
		}
	}
	cl["sub"] = *sub
	if *roles != "" {
		var rs []any
		for _, r := range strings.Split(*roles, ",") {
			rs = append(rs, r)
		}
		cl["roles"] = rs
	}
	now := time.Now()
	cl["iat"], cl["exp"] = now.Unix(), now.Add(*ttl).Unix()
	if a.Issuer != "" {
		cl["iss"] = a.Issuer
	}
	if a.Audience != "" {
		cl["aud"] = a.Audience
	}
	if vs := p.Auth.CheckClaims(cl); len(vs) > 0 {
		return fail(fmt.Errorf("the claims do not fit #claims: %s", vs[0]))
	}
	var key any
	switch {
	case *keyFile != "":
		k, err := devKey(*keyFile, *kid)
		if err != nil {
			return fail(err)
		}
		key = k
	case a.SecretEnv != "":
		s := os.Getenv(a.SecretEnv)
		if s == "" {
			return fail(fmt.Errorf("%s is not set (the context's HS256 secret); or sign with --key", a.SecretEnv))
		}
		key = []byte(s)
	default:
		return fail(errors.New("the context verifies with keys: sign with --key FILE (a dev key)"))
	}
	tok, err := auth.Mint(cl, key, *kid)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(c.stdout, tok)
	return 0
}

// devKey reads a PEM private key, or makes a P-256 one at path with its
// public JWKS at path.jwks.json.
func devKey(path, kid string) (any, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		jwk, err := auth.JWK(k, kid)
		if err != nil {
			return nil, err
		}
		set, _ := json.MarshalIndent(map[string]any{"keys": []any{jwk}}, "", "  ")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return k, os.WriteFile(path+".jwks.json", append(set, '\n'), 0o644)
	}
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s is not PEM", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%s holds no RSA, EC or Ed25519 private key", path)
}
