package openapi

import (
	"strings"
)

// withAuth declares a context's auth in doc: the bearer scheme is a
// verified JWT (or the server's static tokens), every route that serves
// data answers 401 for a token that does not verify and 403 for a caller
// no rule allows, and an instance's reads answer 404 as a missing
// instance does.
func (b *builder) withAuth(doc map[string]any) {
	a := b.m.Auth
	if a == nil {
		return
	}
	comps := doc["components"].(map[string]any)
	schemes := comps["securitySchemes"].(map[string]any)
	desc := "A JWT the context's auth verifies (" + algorithms(a.Algorithms, a.SecretEnv != "", a.JWKSURL != "" || len(a.JWKS) > 0) +
		"), or the server's token. Without one, only what a rule opens with anonymous: true answers."
	if strings.EqualFold(a.Header, "Authorization") {
		schemes["bearer"] = map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": desc}
	} else {
		schemes["bearer"] = map[string]any{"type": "apiKey", "in": "header", "name": a.Header, "description": desc}
	}
	responses := comps["responses"].(map[string]any)
	unauth := problem("unauthorized: no token was sent where no rule opens the route to anyone; " +
		"invalid_token: the token does not verify, and reason says why (missing, too_large, malformed, algorithm_not_allowed, " +
		"unknown_key, bad_signature, expired, not_yet_valid, wrong_issuer, wrong_audience, invalid_claims, token_in_query).")
	unauth["headers"] = map[string]any{"WWW-Authenticate": map[string]any{
		"description": `Bearer realm="cuesource" without a token; Bearer error="invalid_token", error_description="<reason>" for a token that does not verify.`,
		"schema":      map[string]any{"type": "string"}}}
	responses["Unauthorized"] = unauth
	responses["Forbidden"] = problem("forbidden: no rule allows this caller; name is the rule the answer names.")
	for path, item := range b.paths {
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			rs := op["responses"].(map[string]any)
			u, _ := rs["401"].(map[string]any)
			if _, ok := u["$ref"]; !ok || id == "openapi" || id == "healthz" || id == "projections" {
				continue // admin routes, the documents about the API, and what any caller may read
			}
			rs["403"] = ref("responses", "Forbidden")
			if _, ok := rs["503"]; !ok {
				rs["503"] = problem("keys_unavailable: the keys that verify tokens could not be fetched; retry after Retry-After.")
			}
			agg, _, _ := strings.Cut(id, ".")
			if method == "get" && strings.HasPrefix(path, "/"+agg+"/{id}") {
				// An instance's reads: a missing instance, or one a read
				// rule hides, is a 404.
				if _, ok := rs["404"]; !ok {
					rs["404"] = problem("instance_missing: the instance has no events, or a read rule hides it from this caller.")
				}
			}
		}
	}
}

func algorithms(list []string, secret, keys bool) string {
	if len(list) > 0 {
		return strings.Join(list, ", ")
	}
	var out []string
	if secret {
		out = append(out, "HS256")
	}
	if keys {
		out = append(out, "RS256", "ES256", "EdDSA")
	}
	return strings.Join(out, ", ")
}
