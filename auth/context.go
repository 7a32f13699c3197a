package auth

import (
	"fmt"
	"time"

	"github.com/cuesource/cuesource/manifest"
)

// ForContext builds the verifier a context's auth declares: the HS256
// secret read with getenv, the keys from its static JWKS or fetched by
// fetch from its jwks URL (a runtime's Fetcher: natively HTTPFetcher),
// public-key signatures checked by crypto (nil: StdCrypto, natively).
func ForContext(a *manifest.Auth, getenv func(string) string, fetch Fetcher, crypto Crypto) (*Verifier, error) {
	cfg := Config{Algorithms: a.Algorithms, Issuer: a.Issuer, Audience: a.Audience, Crypto: crypto}
	if a.SecretEnv != "" {
		s := getenv(a.SecretEnv)
		if s == "" {
			return nil, fmt.Errorf("auth: the context reads its HS256 secret from %s, which is not set", a.SecretEnv)
		}
		cfg.Secret = []byte(s)
	}
	switch {
	case len(a.JWKS) > 0:
		k, err := StaticKeys(a.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: jwks: %v", err)
		}
		cfg.Keys = k
	case a.JWKSURL != "":
		if fetch == nil {
			return nil, fmt.Errorf("auth: this runtime cannot fetch %s", a.JWKSURL)
		}
		k := FetchedKeys(fetch)
		if a.JWKSRefresh != "" {
			d, err := time.ParseDuration(a.JWKSRefresh)
			if err != nil {
				return nil, fmt.Errorf("auth: jwks.refresh: %v", err)
			}
			k.MinRefresh = d
		}
		cfg.Keys = k
	}
	return New(cfg)
}
