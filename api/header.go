package api

import "github.com/cuesource/cuesource/internal/httptext"

// Header is an HTTP header map with canonical keys, like net/http's, which
// this package does not import: its wasm build (the Workers runtime) would
// carry net/http, TLS and x509 for a map type and a few constants, 0.5 MB
// gzipped over the script size budget.
type Header map[string][]string

// Get returns the first value of key.
func (h Header) Get(key string) string {
	if v := h[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key.
func (h Header) Set(key, value string) { h[canonicalKey(key)] = []string{value} }

// Add appends a value to key.
func (h Header) Add(key, value string) {
	k := canonicalKey(key)
	h[k] = append(h[k], value)
}

// Del removes key.
func (h Header) Del(key string) { delete(h, canonicalKey(key)) }

// canonicalKey is net/http's canonical form of a header key.
func canonicalKey(s string) string { return httptext.CanonicalKey(s) }

// The methods and status codes this package answers with.
const (
	methodGet    = "GET"
	methodHead   = "HEAD"
	methodPost   = "POST"
	methodDelete = "DELETE"

	statusOK                    = 200
	statusCreated               = 201
	statusNoContent             = 204
	statusNotModified           = 304
	statusBadRequest            = 400
	statusUnauthorized          = 401
	statusForbidden             = 403
	statusNotFound              = 404
	statusMethodNotAllowed      = 405
	statusNotAcceptable         = 406
	statusConflict              = 409
	statusPreconditionFailed    = 412
	statusRequestEntityTooLarge = 413
	statusUnsupportedMediaType  = 415
	statusUnprocessableEntity   = 422
	statusPreconditionRequired  = 428
	statusInternalServerError   = 500
	statusNotImplemented        = 501
	statusServiceUnavailable    = 503
	statusInsufficientStorage   = 507
)

// StatusText is the reason phrase of an HTTP status code, as net/http's
// StatusText gives it (a test keeps the two equal), "" for an unknown code.
func StatusText(code int) string { return httptext.StatusText(code) }

// Clone returns a copy of h.
func (h Header) Clone() Header {
	c := make(Header, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}
