//go:build !js

package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"time"
)

// DevTTL is how long a development token is valid.
const DevTTL = time.Hour

// DevIssuer is the iss of a development token when the context names no
// issuer.
const DevIssuer = "cuesource-dev"

// Dev is a random HS256 key made at start for development tokens (natively:
// a Worker mints none, so it is not built for GOOS=js): the
// playground mints tokens with it for the identities a person picks, and
// the server verifies them beside the context's own source. The key lives
// only in this process's memory, so no other process, and no later run
// of this one, accepts a token it minted.
type Dev struct {
	secret []byte
	v      *Verifier
	iss    string
	aud    string
	now    func() time.Time
}

// NewDev makes a key. Its tokens carry issuer and audience (the context's,
// so rules and checks see what a real token would carry); an empty issuer
// is DevIssuer.
func NewDev(issuer, audience string) (*Dev, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if issuer == "" {
		issuer = DevIssuer
	}
	v, err := New(Config{Algorithms: []string{"HS256"}, Secret: secret, Issuer: issuer, Audience: audience})
	if err != nil {
		return nil, err
	}
	return &Dev{secret: secret, v: v, iss: issuer, aud: audience, now: time.Now}, nil
}

// Mint signs claims (a copy, with iat, exp, iss and aud set here) as a
// token valid for DevTTL.
func (d *Dev) Mint(claims map[string]any) (string, time.Time, error) {
	if claims == nil {
		return "", time.Time{}, errors.New("auth: no claims")
	}
	c := maps.Clone(claims)
	now := d.now()
	exp := now.Add(DevTTL).Truncate(time.Second)
	c["iat"], c["exp"], c["iss"] = now.Unix(), exp.Unix(), d.iss
	if d.aud != "" {
		c["aud"] = d.aud
	} else {
		delete(c, "aud")
	}
	delete(c, "nbf")
	tok, err := Mint(c, d.secret, "")
	return tok, exp, err
}

// Verify verifies a token this key minted.
func (d *Dev) Verify(ctx context.Context, token string) (map[string]any, error) {
	return d.v.Verify(ctx, token)
}

// Source verifies tokens: a *Verifier or a *Dev.
type Source interface {
	Verify(ctx context.Context, token string) (map[string]any, error)
}

// Any verifies a token with each source in turn and takes the first that
// verifies it. A source whose key verified the signature answers for the
// token (expired, wrong audience, ...); when none did, the last source's
// answer stands, so the context's own source goes last and a client that
// never saw a development key learns nothing of one.
type Any []Source

// Verify implements Source.
func (a Any) Verify(ctx context.Context, token string) (map[string]any, error) {
	if len(a) == 0 {
		return nil, refuse(ReasonSignature, "no key verifies tokens here")
	}
	var err error
	for i, s := range a {
		var claims map[string]any
		claims, err = s.Verify(ctx, token)
		if err == nil || i == len(a)-1 || !notSigned(err) {
			return claims, err
		}
	}
	return nil, err
}

// notSigned: the source's keys did not sign the token, so another
// source's may have.
func notSigned(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Reason {
	case ReasonAlgorithm, ReasonUnknownKey, ReasonSignature, ReasonKeysUnusable:
		return true
	}
	return false
}
