package rules

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The HTTP method and status codes the rules look at; the package does
// not import net/http, which the wasm build must not link.
const (
	methodGet = "GET"

	statusOK                    = 200
	statusBadRequest            = 400
	statusNotFound              = 404
	statusRequestTimeout        = 408
	statusConflict              = 409
	statusPreconditionFailed    = 412
	statusRequestEntityTooLarge = 413
	statusUnprocessableEntity   = 422
	statusTooEarly              = 425
	statusTooManyRequests       = 429
)

// redact drops credentials and the query from a URL written to errors.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// retryAfter reads Retry-After: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := parseHTTPTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// httpTimeFormats are the date formats net/http's ParseTime accepts:
// its TimeFormat (RFC 7231's IMF-fixdate), RFC 850 and ANSI C's asctime.
var httpTimeFormats = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	time.RFC850,
	time.ANSIC,
}

// parseHTTPTime is net/http's ParseTime.
func parseHTTPTime(text string) (t time.Time, err error) {
	for _, layout := range httpTimeFormats {
		t, err = time.Parse(layout, text)
		if err == nil {
			return t, nil
		}
	}
	return t, err
}
