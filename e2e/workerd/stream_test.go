package workerd

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// frame is one Server-Sent Event of the log's live stream.
type frame struct {
	id, event string
	data      logEvent
}

// openStream opens GET /events as a live stream and returns a channel of
// its frames; the stream closes when the test ends.
func openStream(t *testing.T, base, lastEventID string) <-chan frame {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return openStreamAt(t, ctx, base, lastEventID)
}

// openStreamCtx is openStream that ends when ctx does.
func openStreamCtx(t *testing.T, ctx context.Context, base string) <-chan frame {
	t.Helper()
	return openStreamAt(t, ctx, base, "")
}

func openStreamAt(t *testing.T, ctx context.Context, base, lastEventID string) <-chan frame {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan frame, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				f.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &f.data)
			case line == "" && f.id != "":
				out <- f
				f = frame{}
			}
		}
	}()
	return out
}

func next(t *testing.T, frames <-chan frame) frame {
	t.Helper()
	select {
	case f, ok := <-frames:
		if !ok {
			t.Fatal("the live stream ended")
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
	}
	return frame{}
}

// TestLiveStream reads the log's live stream from the native server and
// from the Worker while the same commands run on both: the same frames
// (ids are positions, events aggregate.Type) in the same order, live, and
// a reconnection with Last-Event-ID resumes after it.
func TestLiveStream(t *testing.T) {
	needWorkerd(t)
	ctx := "contexts/example.cue"
	srv := startServer(t, contextPath(ctx), t.TempDir())
	w := startWorker(t, buildWorker(t, ctx), "")
	bases := []string{srv.url, w.url}
	var streams []<-chan frame
	for _, b := range bases {
		streams = append(streams, openStream(t, b, ""))
	}
	cmds := [][3]string{
		{"/cart/s1/Open", `{"customer":"ada"}`, "cart.CartOpened"},
		{"/cart/s1/AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`, "cart.ItemAdded"},
		{"/cart/s2/Open", `{"customer":"bob"}`, "cart.CartOpened"},
	}
	got := make([][]frame, len(bases))
	for i, cmd := range cmds {
		for j, b := range bases {
			c := newClient(b)
			r, err := c.Post(cmd[0], "", []byte(cmd[1]))
			c.Close()
			if err != nil || r.Status/100 != 2 {
				t.Fatalf("%s %s: %v %v", b, cmd[0], r, err)
			}
			// Live: the frame comes while the stream is open.
			f := next(t, streams[j])
			if f.event != cmd[2] || f.id != strconv.FormatInt(f.data.Position, 10) || f.data.Position != int64(i+1) {
				t.Fatalf("%s: frame %d is %s %s (position %d), want %s at %d", b, i+1, f.id, f.event, f.data.Position, cmd[2], i+1)
			}
			got[j] = append(got[j], f)
		}
	}
	for i := range cmds {
		n, wk := got[0][i].data, got[1][i].data
		if n.Aggregate != wk.Aggregate || n.Instance != wk.Instance || n.Version != wk.Version || n.Type != wk.Type || !e2etest.SameJSON(n.Payload, wk.Payload) {
			t.Fatalf("frame %d differs:\nnative %+v\nworker %+v", i+1, n, wk)
		}
	}
	// Resuming after position 1 gives 2 and 3 again, on both.
	for _, b := range bases {
		s := openStream(t, b, "1")
		for want := int64(2); want <= 3; want++ {
			if f := next(t, s); f.data.Position != want {
				t.Fatalf("%s: after Last-Event-ID 1, frame at %d, want %d", b, f.data.Position, want)
			}
		}
	}
	// A bad Last-Event-ID is refused alike.
	for _, b := range bases {
		req, _ := http.NewRequest("GET", b+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", "x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("%s: a bad Last-Event-ID answers %d, want 400", b, resp.StatusCode)
		}
	}
}

// TestStreamCapOnWorkers: CUESOURCE_MAX_STREAMS caps the live streams an
// isolate serves (locally one isolate serves all): one more is refused
// with 503 too_many_streams and Retry-After. A stream whose client went
// away still holds its place (a Worker learns of it only when a write
// fails, and locally writes to a gone client succeed) until its life
// (CUESOURCE_STREAM_LIFE) is over: then every stream ends, the client's
// included, and a new one is served.
func TestStreamCapOnWorkers(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "", "CUESOURCE_MAX_STREAMS=2", "CUESOURCE_STREAM_LIFE=3s")
	ctx, cancel := context.WithCancel(context.Background())
	openStreamCtx(t, ctx, w.url)
	kept := openStream(t, w.url, "")
	over := func() (int, string, string) {
		req, _ := http.NewRequest("GET", w.url+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct {
			Kind string `json:"kind"`
		}
		if resp.StatusCode != 200 {
			_ = json.NewDecoder(resp.Body).Decode(&p)
		}
		return resp.StatusCode, p.Kind, resp.Header.Get("Retry-After")
	}
	if status, kind, retry := over(); status != 503 || kind != "too_many_streams" || retry == "" {
		t.Fatalf("a third stream: %d %q Retry-After %q, want 503 too_many_streams with Retry-After", status, kind, retry)
	}
	cancel() // the first client goes away
	// The kept stream ends at the end of its life: the client sees the
	// end of the body (and would reconnect).
	select {
	case _, ok := <-kept:
		if ok {
			t.Fatal("a frame on a quiet log")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stream outlived its 3s life by 27s")
	}
	// Both places are free: the gone client's too.
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", w.url+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d of 2 once the others' lives are over: %d, want 200", i+1, resp.StatusCode)
		}
	}
}
