package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/interpreter"
)

// DevTokenPath mints development tokens (POST) and describes the claims
// they may carry (GET), for the admin token only: who may mint may act as
// anyone. Only a server with a development key answers it (`play`, `serve
// --dev-tokens`); any other answers as for an unknown admin route (404).
const DevTokenPath = "/admin/dev-token"

// maxClaimsBytes bounds a mint request: the token it makes must stay
// under auth.MaxTokenBytes anyway.
const maxClaimsBytes = 16 << 10

// devTokens serves DevTokenPath beside h. program is the context served
// now (a watch may swap it); admin is the server's admin token, which the
// route needs.
func devTokens(dev *auth.Dev, program func() *interpreter.Program, admin string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != DevTokenPath {
			h.ServeHTTP(w, r)
			return
		}
		if !hasBearer(r, admin) {
			nethttp.Write(w, api.Unauthorized("admin endpoints need the admin token"), r.Method)
			return
		}
		p := program()
		if p.Auth == nil {
			nethttp.Write(w, api.Problem(http.StatusNotFound, "not_found", "the context declares no auth: there are no identities to act as"), r.Method)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			describeClaims(w, r, p)
		case http.MethodPost:
			mintDev(w, r, p, dev)
		default:
			nethttp.Write(w, api.MethodNotAllowed("GET, HEAD, POST"), r.Method)
		}
	})
}

// hasBearer is api.Bearer over a net/http request: the API's rule.
func hasBearer(r *http.Request, token string) bool { return api.Bearer(api.Header(r.Header), token) }

// describeClaims answers the JSON Schema of the context's #claims, from
// which the playground builds its identity form.
func describeClaims(w http.ResponseWriter, r *http.Request, p *interpreter.Program) {
	writeJSON(w, r, http.StatusOK, map[string]any{
		"claims":     json.RawMessage(p.Auth.Manifest.Claims),
		"ttlSeconds": int(auth.DevTTL.Seconds()),
	})
}

// mintDev signs the claims of the body (a JSON object with a sub) with the
// development key, after checking them as a request would be: the token is
// verified and its claims must fit #claims.
func mintDev(w http.ResponseWriter, r *http.Request, p *interpreter.Program, dev *auth.Dev) {
	fail := func(status int, kind, detail string, ext map[string]any) {
		nethttp.Write(w, api.ProblemWith(status, kind, detail, ext), r.Method)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxClaimsBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		nethttp.Write(w, api.TooLarge(maxClaimsBytes), r.Method)
		return
	case err != nil:
		fail(http.StatusBadRequest, "invalid_json", "the body could not be read", nil)
		return
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&claims); err != nil || claims == nil || dec.More() {
		fail(http.StatusBadRequest, "invalid_json", "the body must be one JSON object of claims, such as {\"sub\": \"ada\", \"roles\": [\"customer\"]}", nil)
		return
	}
	if sub, _ := claims["sub"].(string); strings.TrimSpace(sub) == "" {
		fail(http.StatusBadRequest, "invalid_claims", "sub must be a non-empty string: the identity acted as", map[string]any{"violations": []interpreter.Violation{{Pointer: "/sub", Message: "required: a non-empty string"}}})
		return
	}
	tok, exp, err := dev.Mint(claims)
	if err != nil {
		fail(http.StatusInternalServerError, "internal", "the token could not be signed", nil)
		return
	}
	if len(tok) > auth.MaxTokenBytes {
		fail(http.StatusBadRequest, "invalid_claims", fmt.Sprintf("the claims make a token of %d bytes, over the limit of %d", len(tok), auth.MaxTokenBytes), nil)
		return
	}
	// What the server will read from the token, checked as it will be.
	verified, err := dev.Verify(r.Context(), tok)
	if err != nil {
		fail(http.StatusBadRequest, "invalid_claims", "the token does not verify: "+err.Error(), nil)
		return
	}
	if vs := p.Auth.CheckClaims(verified); len(vs) > 0 {
		fail(http.StatusBadRequest, "invalid_claims", "the claims do not fit the context's #claims", map[string]any{"violations": vs})
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"token": tok, "expires": exp.UTC()})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		nethttp.Write(w, api.Problem(http.StatusInternalServerError, "internal", "the answer could not be encoded"), r.Method)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// A minted token is a credential: never kept by a cache.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
