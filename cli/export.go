package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/value"
)

// export writes the global log as NDJSON: one stored event per line, as
// GET /events?raw=true gives it (with the name and version it was written
// with), in position order. It reads a stopped server's data directory, or
// a running server or Worker over HTTP, so a copy of production history
// can be checked offline (`cuesource lens check`).
func (c *command) export(args []string) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var f serverFlags
	f.register(fs)
	from := fs.String("url", "", "read the log from the server or Worker at `URL` (GET /events) instead of --data")
	out := fs.String("o", "-", "write to `FILE` (- for standard output)")
	after := fs.Int64("after", 0, "start after this log `position`")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	w := bufio.NewWriter(c.stdout)
	if *out != "-" {
		file, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource export:", err)
			return 1
		}
		defer file.Close()
		w = bufio.NewWriter(file)
	}
	var page func(after int64) ([]json.RawMessage, int64, error)
	if *from != "" {
		page = httpPages(*from, f.token)
	} else {
		ctx := context.Background()
		st, err := f.openExisting(ctx, p.Manifest.Name, false)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource export:", err)
			return 1
		}
		defer st.Close()
		page = func(after int64) ([]json.RawMessage, int64, error) {
			evs, err := st.ReadAll(ctx, after, api.MaxPage)
			if err != nil || len(evs) == 0 {
				return nil, after, err
			}
			lines := make([]json.RawMessage, 0, len(evs))
			for _, e := range evs {
				b, err := value.Encode(e) // as GET /events writes it
				if err != nil {
					return nil, after, err
				}
				lines = append(lines, b)
			}
			return lines, evs[len(evs)-1].Position, nil
		}
	}
	n := 0
	for next := *after; ; {
		lines, last, err := page(next)
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource export:", err)
			return 1
		}
		if len(lines) == 0 {
			break
		}
		for _, l := range lines {
			w.Write(l)
			w.WriteByte('\n')
		}
		n += len(lines)
		next = last
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(c.stderr, "cuesource export:", err)
		return 1
	}
	fmt.Fprintf(c.stderr, "exported %d events\n", n)
	return 0
}

// httpPages reads the log over HTTP a page at a time; each event is kept
// as the server wrote it.
func httpPages(base, token string) func(after int64) ([]json.RawMessage, int64, error) {
	client := &http.Client{Timeout: time.Minute}
	base = strings.TrimRight(base, "/")
	return func(after int64) ([]json.RawMessage, int64, error) {
		u := base + "/events?" + url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(api.MaxPage)}, "raw": {"true"}}.Encode()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, after, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, after, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, after, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, after, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
		}
		var pg struct {
			Events []json.RawMessage `json:"events"`
			Next   int64             `json:"next"`
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			return nil, after, fmt.Errorf("GET %s: not a page of the log: %w", u, err)
		}
		return pg.Events, pg.Next, nil
	}
}
