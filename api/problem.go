package api

import (
	"errors"
	"fmt"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// ProblemType is the URI prefix of the problem types this API defines; the
// kind follows it (urn:cuesource:problem:guard).
const ProblemType = "urn:cuesource:problem:"

// problem is an RFC 9457 problem+json response.
func problem(status int, kind, detail string) Response {
	return problemWith(status, kind, detail, nil)
}

func problemWith(status int, kind, detail string, ext map[string]any) Response {
	body := map[string]any{
		"type":   ProblemType + kind,
		"title":  StatusText(status),
		"status": status,
		"detail": detail,
		"kind":   kind,
	}
	for k, v := range ext {
		body[k] = v
	}
	data, err := value.Encode(body)
	if err != nil {
		data = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		status = statusInternalServerError
	}
	return Response{Status: status, Header: Header{"Content-Type": {"application/problem+json"}}, Body: data}
}

// Problem, Unauthorized and MethodNotAllowed are the API's problems for
// routes a runtime serves beside it (`cuesource play`'s reset).
func Problem(status int, kind, detail string) Response { return problem(status, kind, detail) }
func Unauthorized(detail string) Response              { return unauthorized(detail) }
func MethodNotAllowed(allow string) Response           { return methodNotAllowed(allow) }

// ProblemWith is Problem with extension members (violations, ...).
func ProblemWith(status int, kind, detail string, ext map[string]any) Response {
	return problemWith(status, kind, detail, ext)
}

// TooLarge is the answer to a body over the limit of max bytes, which a
// runtime gives before (or instead of) reading the body.
func TooLarge(max int) Response {
	return problem(statusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over the limit of %d bytes", max))
}

func methodNotAllowed(allow string) Response {
	r := problem(statusMethodNotAllowed, "method_not_allowed", "this route answers "+allow)
	r.Header.Set("Allow", allow)
	return r
}

func unauthorized(detail string) Response {
	r := problem(statusUnauthorized, "unauthorized", detail)
	r.Header.Set("WWW-Authenticate", `Bearer realm="cuesource"`)
	return r
}

// storageRetryAfter is the Retry-After, in seconds, of the answers to a
// storage fault: long enough for an operator to free space.
const storageRetryAfter = "10"

// internal answers an error of the backend: the store's sentinels for a
// fault of its medium by what the client can do about it, anything else
// as a 500 that hides the cause from the client (the adapter logs it).
func internal(err error) Response {
	var r Response
	switch {
	case errors.Is(err, cuesource.ErrUnavailable):
		r = problem(statusServiceUnavailable, "unavailable", "the server is shutting down or not ready; retry")
		r.Header.Set("Retry-After", "1")
		return r
	case errors.Is(err, store.ErrStorageFull):
		r = problem(statusInsufficientStorage, "storage_full", "the server's storage is full: nothing was written; retry when space is freed")
		r.Header.Set("Retry-After", storageRetryAfter)
	case errors.Is(err, store.ErrArchiveUnreadable):
		// Named, since the operator restores that very segment.
		r = problem(statusInternalServerError, "archive_unreadable", sanitize(err.Error())+": restore the segment from a copy (cuesource archive verify names the bad ones)")
		r.Header.Set("X-Cuesource-Error", sanitize(err.Error()))
		return r
	case errors.Is(err, store.ErrStorageFailed):
		r = problem(statusServiceUnavailable, "storage_failed", "the server's storage failed to read or write (see its log and GET /healthz): nothing was written; retry later")
		r.Header.Set("Retry-After", storageRetryAfter)
	default:
		r = problem(statusInternalServerError, "internal", "the server failed; see its log")
	}
	r.Header.Set("X-Cuesource-Error", sanitize(err.Error()))
	return r
}

func sanitize(s string) string {
	out := []rune{}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		out = append(out, r)
		if len(out) > 300 {
			break
		}
	}
	return string(out)
}
