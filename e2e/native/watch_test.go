//go:build unix

package native_e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// startPlay runs `cuesource play ctx` (watching, by default) on a free
// port and waits until it answers.
func startPlay(t *testing.T, ctx string, extra ...string) (*server, *e2etest.Output) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t))
	cmd := exec.Command(binary, append([]string{"play", ctx, "--addr", addr}, extra...)...)
	out := &e2etest.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("play said:\n%s", out.String())
		}
	})
	if err := s.waitHealthy(30 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return s, out
}

// withCommand is the example context with one more cart command, name,
// which opens nothing new: it records the customer again.
func withCommand(src []byte, name string) []byte {
	cmd := fmt.Sprintf("\t\t\t%s: {\n\t\t\t\t#payload: customer: string & !=\"\"\n\t\t\t\temit: [{event: \"CartOpened\", payload: customer: \"cmd.customer\"}]\n\t\t\t}\n\t\t\tCheckOut: {", name)
	return bytes.Replace(src, []byte("\t\t\tCheckOut: {"), []byte(cmd), 1)
}

// TestPlayWatch edits the context under `cuesource play` while a client
// sends commands without pause: each new command is answered within 2s
// of its save (the time is measured over 10 edits, for BENCHMARKS.md),
// and no command fails. An edit that does not vet leaves the previous
// program answering and its errors printed positioned, and told to the
// page at /ui/watch; fixing it clears them.
func TestPlayWatch(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "example.cue")
	src, err := os.ReadFile(contextPath("contexts/example.cue"))
	if err != nil {
		t.Fatal(err)
	}
	e2etest.Save(t, path, src)
	s, out := startPlay(t, path)
	c := newClient(s.url)
	defer c.Close()

	// The load: carts opened and filled one after another, until stopped.
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		lc := newClient(s.url)
		defer lc.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("load%d", i)
			for _, step := range []struct{ path, body string }{
				{"/cart/" + id + "/Open", `{"customer":"ada"}`},
				{"/cart/" + id + "/AddItem", `{"sku":"TEA-01","qty":1,"price":2}`},
			} {
				r, err := lc.Post(step.path, "", []byte(step.body))
				sent.Add(1)
				if err != nil || (r.Status != 201 && r.Status != 200) {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: %v %v", step.path, r, err))
				}
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-loadDone
	}()
	e2etest.WaitFor(t, 10*time.Second, "commands of the load", func() bool { return sent.Load() > 10 })

	var took []time.Duration
	cur := src
	for i := range 10 {
		name := fmt.Sprintf("Rename%d", i)
		cur = withCommand(cur, name)
		if r, err := c.Post("/cart/watch"+name+"/Open", "", []byte(`{"customer":"ada"}`)); err != nil || r.Status != 201 {
			t.Fatalf("Open: %v %v", r, err)
		}
		saved := time.Now()
		e2etest.Save(t, path, cur)
		// Answering: the new command is accepted (it was 404 before).
		ok := e2etest.Until(10*time.Second, 5*time.Millisecond, func() bool {
			r, err := c.Post("/cart/watch"+name+"/"+name, "", []byte(`{"customer":"bob"}`))
			return err == nil && r.Status == 200
		})
		d := time.Since(saved)
		if !ok {
			r, err := c.Post("/cart/watch"+name+"/"+name, "", []byte(`{"customer":"bob"}`))
			t.Fatalf("edit %d: %s not answered 10s after the save: %v %v", i, name, r, err)
		}
		took = append(took, d)
		if d > 2*time.Second {
			t.Errorf("edit %d: %s answered %v after the save, want within 2s", i, name, d)
		}
		var doc struct {
			Aggregates map[string]struct {
				Commands map[string]json.RawMessage `json:"commands"`
			} `json:"aggregates"`
		}
		if r, err := c.GetJSON("/context", &doc); err != nil || r.Status != 200 {
			t.Fatalf("GET /context: %v %v", r, err)
		}
		if _, ok := doc.Aggregates["cart"].Commands[name]; !ok {
			t.Errorf("edit %d: GET /context lacks cart.%s", i, name)
		}
		r, err := c.Request(http.MethodGet, "/openapi.json", nil)
		if err != nil || !bytes.Contains(r.Body, []byte("/cart/{id}/"+name)) {
			t.Errorf("edit %d: the OpenAPI document lacks /cart/{id}/%s (%v)", i, name, err)
		}
	}
	slices.Sort(took)
	t.Logf("save to the new program answering, 10 edits: median %v, min %v, max %v", (took[4]+took[5])/2, took[0], took[9])
	e2etest.WaitFor(t, 5*time.Second, "the swaps reported", func() bool {
		return strings.Contains(out.String(), "reloaded "+path) && strings.Contains(out.String(), "commands added: cart.Rename9")
	})

	// A status stream, as the page holds it, open across the invalid edit
	// and its fix.
	status := watchStatus(t, s.url)

	// Invalid: a typo in an expression.
	broken := bytes.Replace(cur, []byte(`payload: customer: "cmd.customer"}]
			}
			CheckOut: {`), []byte(`payload: customer: "cmd.custmer"}]
			}
			CheckOut: {`), 1)
	if bytes.Equal(broken, cur) {
		t.Fatal("the test's edit did not apply")
	}
	line := bytes.Count(broken[:bytes.Index(broken, []byte("cmd.custmer"))], []byte("\n")) + 1
	e2etest.Save(t, path, broken)
	m := status.until(t, func(m statusMsg) bool { return !m.OK })
	if len(m.Errors) == 0 || m.Errors[0].Line != line || !strings.Contains(m.Errors[0].Message, "custmer") {
		t.Errorf("the page was told %+v, want the error at line %d", m.Errors, line)
	}
	want := fmt.Sprintf("%s:%d:", path, line)
	e2etest.WaitFor(t, 5*time.Second, "the error printed at "+want, func() bool {
		return strings.Contains(out.String(), want) && strings.Contains(out.String(), "does not vet; the previous definition keeps serving")
	})
	if r, err := c.Post("/cart/watchRename9/Rename9", "", []byte(`{"customer":"cy"}`)); err != nil || r.Status != 200 {
		t.Errorf("the previous program stopped answering: %v %v", r, err)
	}

	// Fixed: the errors clear.
	e2etest.Save(t, path, cur)
	status.until(t, func(m statusMsg) bool { return m.OK && len(m.Errors) == 0 })

	close(stop)
	<-loadDone
	if failed.Load() > 0 {
		t.Errorf("%d of %d commands failed across the swaps; the first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}
	t.Logf("%d commands sent across the swaps", sent.Load())
}

type statusMsg struct {
	Seq    int  `json:"seq"`
	OK     bool `json:"ok"`
	Errors []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"errors"`
	Swapped bool   `json:"swapped"`
	Note    string `json:"note"`
}

type statusStream struct {
	msgs chan statusMsg
}

// watchStatus follows GET /ui/watch until the test ends.
func watchStatus(t *testing.T, url string) *statusStream {
	t.Helper()
	resp, err := http.Get(url + "/ui/watch")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /ui/watch: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &statusStream{msgs: make(chan statusMsg, 64)}
	go func() {
		defer close(s.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var m statusMsg
			if json.Unmarshal([]byte(data), &m) == nil {
				s.msgs <- m
			}
		}
	}()
	return s
}

// until returns the first status that ok accepts.
func (s *statusStream) until(t *testing.T, ok func(statusMsg) bool) statusMsg {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, open := <-s.msgs:
			if !open {
				t.Fatal("the status stream ended")
			}
			if ok(m) {
				return m
			}
		case <-timeout:
			t.Fatal("no such status within 10s")
		}
	}
}

// TestServeWatch runs the evolution story under `serve --watch`, without
// a restart: v1 writes its events, v2 saved over it is swapped in (its
// changed projections rebuild, and read everything as a restart on v2
// does), and the broken definition is refused with its lens check
// failures while v2 keeps serving.
func TestServeWatch(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.cue")
	read := func(rel string) []byte {
		b, err := os.ReadFile(contextPath(rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e2etest.Save(t, path, read(e2etest.EvolutionV1))
	srv := startServer(t, path, t.TempDir(), "--watch")
	c := newClient(srv.url)
	defer c.Close()
	c.Play(t, e2etest.EvolutionV1Commands)
	before := c.WaitRows(t, "v1's projections", e2etest.EvolutionV1Events, e2etest.EvolutionRowsV1)
	status := watchStatus(t, srv.url)

	e2etest.Save(t, path, read(e2etest.EvolutionV2))
	m := status.until(t, func(m statusMsg) bool { return m.Swapped || !m.OK })
	if !m.OK || !strings.Contains(m.Note, "projections changed: carts, skus") {
		t.Fatalf("the swap to v2: %+v", m)
	}
	c.PlayEvolutionV2(t, before, func(id string, version int64) { checkNoDrift(t, c, id, version) })

	e2etest.Save(t, path, read(e2etest.EvolutionBroken))
	m = status.until(t, func(m statusMsg) bool { return !m.OK })
	var all []string
	for _, e := range m.Errors {
		all = append(all, e.Message)
	}
	text := strings.Join(all, "\n")
	if !strings.Contains(text, "cuesource lens check") || !strings.Contains(text, "lens 0") || !strings.Contains(text, "cart.ItemAdded stored at version") {
		t.Errorf("the refusal told the page:\n%s", text)
	}
	e2etest.WaitFor(t, 5*time.Second, "the refusal in the log", func() bool {
		log := srv.logTail(200)
		return strings.Contains(log, "refused:") && strings.Contains(log, "the previous definition keeps serving")
	})
	// v2 still serves: its rows, and its commands.
	c.WaitRows(t, "v2's projections after the refusal", int64(e2etest.EvolutionEvents), e2etest.EvolutionRowsV2)
	if r, err := c.Post("/cart/late/Open", "", []byte(`{"customer":"dee"}`)); err != nil || r.Status != 201 {
		t.Errorf("v2's Open after the refusal: %v %v", r, err)
	}
}
