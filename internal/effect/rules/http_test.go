package rules

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Dates parse as net/http's ParseTime parses them.
func TestParseHTTPTime(t *testing.T) {
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		ts.Format(http.TimeFormat), ts.Format(time.RFC850), ts.Format(time.ANSIC),
		"Sat, 01 Mar 2025 12:00:00 UTC", "2025-03-01T12:00:00Z", "", "soon",
	} {
		want, wantErr := http.ParseTime(s)
		got, err := parseHTTPTime(s)
		assert.Equal(t, wantErr == nil, err == nil, s)
		assert.True(t, want.Equal(got), s)
	}
	now := ts.Add(-time.Minute)
	assert.Equal(t, time.Minute, retryAfter(ts.Format(http.TimeFormat), now))
	assert.Equal(t, 3*time.Second, retryAfter(" 3 ", now))
	assert.Equal(t, time.Duration(0), retryAfter("-3", now))
	assert.Equal(t, time.Duration(0), retryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
}

func TestRedact(t *testing.T) {
	assert.Equal(t, "https://hooks.example/in", redact("https://u:p@hooks.example/in?sig=x#f"))
	assert.Equal(t, "(url)", redact("http://[::1"))
}
