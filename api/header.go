package api

import "strings"

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

// canonicalKey is net/http's canonical form: the first letter and every
// letter after a hyphen upper case, the rest lower case; a key with a byte
// that is not a token character is left as it is.
func canonicalKey(s string) string {
	upper := true
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !tokenByte(c) {
			return s
		}
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		upper = c == '-'
	}
	return b.String()
}

func tokenByte(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

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
	statusServiceUnavailable    = 503
)

// statusText is the reason phrase of the codes above, as net/http names
// them (a test keeps the two equal).
var statusText = map[int]string{
	statusOK:                    "OK",
	statusCreated:               "Created",
	statusNoContent:             "No Content",
	statusNotModified:           "Not Modified",
	statusBadRequest:            "Bad Request",
	statusUnauthorized:          "Unauthorized",
	statusNotFound:              "Not Found",
	statusMethodNotAllowed:      "Method Not Allowed",
	statusNotAcceptable:         "Not Acceptable",
	statusConflict:              "Conflict",
	statusPreconditionFailed:    "Precondition Failed",
	statusRequestEntityTooLarge: "Request Entity Too Large",
	statusUnsupportedMediaType:  "Unsupported Media Type",
	statusUnprocessableEntity:   "Unprocessable Entity",
	statusPreconditionRequired:  "Precondition Required",
	statusInternalServerError:   "Internal Server Error",
	statusServiceUnavailable:    "Service Unavailable",
}

// Clone returns a copy of h.
func (h Header) Clone() Header {
	c := make(Header, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}
