package e2etest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Follower reads the log (GET /events, raw pages) close behind the
// writers of a test, keeping each event as it was served while hot.
type Follower struct {
	mu         sync.Mutex
	served     map[int64][]byte
	stop, done chan struct{}
}

// Follow starts a Follower of the server at base; Stop ends it.
func Follow(base string) *Follower {
	f := &Follower{served: map[int64][]byte{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		c := NewClient(base)
		defer c.Close()
		for after := int64(0); ; {
			var page struct {
				Events []json.RawMessage `json:"events"`
				Next   int64             `json:"next"`
			}
			if r, err := c.GetJSON(fmt.Sprintf("/events?after=%d&limit=1000&raw=true", after), &page); err == nil && r.Status == http.StatusOK {
				f.mu.Lock()
				for _, raw := range page.Events {
					var e LogEvent
					_ = json.Unmarshal(raw, &e)
					f.served[e.Position] = raw
				}
				f.mu.Unlock()
				after = page.Next
				if len(page.Events) > 0 {
					continue
				}
			}
			select {
			case <-f.stop:
				return
			case <-time.After(5 * time.Millisecond): // the log's polling rate
			}
		}
	}()
	return f
}

// Len is how many events it has been served.
func (f *Follower) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.served)
}

// Served is the event at pos as it was served (nil: never).
func (f *Follower) Served(pos int64) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[pos]
}

// Stop ends the follower and waits for it.
func (f *Follower) Stop() {
	close(f.stop)
	<-f.done
}

// Sampler reads GET /admin/storage every interval while a test's writers
// run, keeping the largest hot log it saw.
type Sampler struct {
	mu         sync.Mutex
	max        int64
	samples    int
	stop, done chan struct{}
}

// Sample starts a Sampler of the server at base with the admin token.
func Sample(base, adminToken string, every time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		c := NewClient(base)
		defer c.Close()
		for {
			var st struct {
				HotBytes int64 `json:"hotBytes"`
			}
			if r, err := c.Request(http.MethodGet, "/admin/storage", nil, "Authorization", "Bearer "+adminToken); err == nil && r.Status == http.StatusOK && json.Unmarshal(r.Body, &st) == nil {
				s.mu.Lock()
				s.max = max(s.max, st.HotBytes)
				s.samples++
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(every): // a sampling rate, not a synchronisation
			}
		}
	}()
	return s
}

// Stop ends the sampler and answers the largest hot log it saw and how
// many answers it read.
func (s *Sampler) Stop() (maxHot int64, samples int) {
	close(s.stop)
	<-s.done
	return s.max, s.samples
}

// RebuildEquals rebuilds each of the ledger's projections from scratch
// (the log read from position 1, mostly from the archive) once the live
// one is at the head, and checks that its query answers what the live
// projection answered.
func RebuildEquals(t testing.TB, c *Client, adminToken string, head int64) {
	t.Helper()
	query := func(name string) string {
		r, err := c.Request(http.MethodGet, "/queries/"+name, nil)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET /queries/%s: %v %v", name, r, err)
		}
		return string(r.Body)
	}
	for proj, q := range map[string]string{"balances": "all_balances", "notes": "all_notes"} {
		WaitFor(t, 30*time.Second, proj+" at the head", func() bool { return projectionAt(c, proj, head) })
		live := query(q)
		if r, err := c.Request(http.MethodPost, "/projections/"+proj+"/rebuild", nil, "Authorization", "Bearer "+adminToken); err != nil || r.Status/100 != 2 {
			t.Fatalf("rebuild %s: %v %v", proj, r, err)
		}
		WaitFor(t, 60*time.Second, proj+" rebuilt to the head", func() bool { return projectionAt(c, proj, head) })
		if rebuilt := query(q); rebuilt != live {
			t.Errorf("projection %s rebuilt from the archive differs from the live one:\nlive    %s\nrebuilt %s", proj, live, rebuilt)
		}
	}
}

// projectionAt says whether the projection runs at the head or past it.
func projectionAt(c *Client, proj string, head int64) bool {
	var st struct {
		Projections []struct {
			Name     string `json:"name"`
			Position int64  `json:"position"`
			State    string `json:"state"`
		} `json:"projections"`
	}
	if r, err := c.GetJSON("/projections", &st); err != nil || r.Status != http.StatusOK {
		return false
	}
	for _, p := range st.Projections {
		if p.Name == proj {
			return p.Position >= head && p.State == "running"
		}
	}
	return false
}
