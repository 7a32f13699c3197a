// Package auth verifies bearer JSON Web Tokens (RFC 7519/7515) and gives
// their claims: the identity a context's rules read as `caller`.
//
// # What it checks
//
// A token is refused, with a Reason that names why, when it is over
// MaxTokenBytes (before any parsing), when its algorithm is not in the
// allow-list the configuration fixes (never the token: "none" and an
// HS256 token signed with a public key are refused by that list), when
// its signature does not verify with the key the configuration names for
// that algorithm (HS256: the shared secret only; RS256, ES256, EdDSA: a
// JWKS key by kid, of the algorithm's key type only), and when iss, aud,
// exp or nbf do not hold, with Config.Skew of clock skew.
//
// # One policy, two runtimes
//
// The JWS is read and every decision made here, in plain Go, the same in
// the native server and in the Worker's wasm engine. HS256 is checked here
// (crypto/hmac). A public-key signature (RS256, ES256, EdDSA) is checked by
// a Crypto: natively StdCrypto (the standard library, built only where it
// is not GOOS=js, with Mint and JWK, so the wasm engine links no RSA or
// ECDSA code); on Workers the shell's WebCrypto (package internal/edge).
//
// # Keys
//
// A JWKS comes from a Fetcher: natively an HTTP GET (HTTPFetcher), on
// Workers the shell's fetch. Keys caches the set and fetches it again on
// a kid it does not know (at most once per Keys.MinRefresh), so a rotated
// set is picked up by the first token signed with a new key.
//
// # Development tokens
//
// A Dev key is made at start, in memory only, by the playground and by
// `serve --dev-tokens`: it mints tokens for identities a person picks,
// and Any verifies them beside the context's own source. No other
// process accepts them, and a server started without it has none.
//
// # What it never does
//
// It keeps no claim value or key material in an error: a Reason is a
// fixed word and a sentence about the token's shape, so answers and logs
// can carry it. It does no I/O itself apart from through a Fetcher.
package auth
