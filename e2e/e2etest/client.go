package e2etest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client talks to a running server or Worker.
type Client struct {
	Base string
	HTTP *http.Client
}

// NewClient returns a client of base (http://host:port) keeping up to 128
// connections alive.
func NewClient(base string) *Client {
	return &Client{Base: base, HTTP: &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        128,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     30 * time.Second,
		},
	}}
}

// Close closes the idle connections.
func (c *Client) Close() { c.HTTP.CloseIdleConnections() }

// Reply is a complete HTTP answer.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Reply) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// Do sends req and reads the whole answer; an error means no complete
// answer arrived.
func (c *Client) Do(req *http.Request) (Reply, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Request sends one request to path; header is a list of name, value
// pairs.
func (c *Client) Request(method, path string, body []byte, header ...string) (Reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return Reply{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.Do(req)
}

// Post sends a command with a JSON body and, when key is set, an
// Idempotency-Key.
func (c *Client) Post(path, key string, body []byte) (Reply, error) {
	h := []string{"Content-Type", "application/json"}
	if key != "" {
		h = append(h, "Idempotency-Key", key)
	}
	return c.Request(http.MethodPost, path, body, h...)
}

// GetJSON GETs path and decodes a 200 answer into v.
func (c *Client) GetJSON(path string, v any) (Reply, error) {
	r, err := c.Request(http.MethodGet, path, nil)
	if err != nil || r.Status != http.StatusOK {
		return r, err
	}
	return r, json.Unmarshal(r.Body, v)
}

// InstancePath is the URL path of an instance.
func InstancePath(agg, id string) string { return "/" + url.PathEscape(agg) + "/" + url.PathEscape(id) }

// LogEvent is an event as GET /events and GET /{agg}/{id}/events show it.
type LogEvent struct {
	ID        string          `json:"id"`
	Position  int64           `json:"position"`
	Aggregate string          `json:"aggregate"`
	Instance  string          `json:"instance"`
	Version   int64           `json:"version"`
	Type      string          `json:"type"`
	Time      time.Time       `json:"time"`
	CommandID string          `json:"commandId"`
	Payload   json.RawMessage `json:"payload"`
}
