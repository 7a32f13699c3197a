//go:build !js

package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTPFetcher fetches a JWKS with net/http (natively; a Worker fetches
// through its shell, and links no net/http).
type HTTPFetcher struct {
	URL    string
	Client *http.Client
}

// Fetch GETs the JWKS, reading at most MaxJWKSBytes+1 bytes.
func (f *HTTPFetcher) Fetch(ctx context.Context) ([]byte, error) {
	c := f.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", f.URL, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
}
