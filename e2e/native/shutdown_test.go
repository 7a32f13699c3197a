//go:build unix

package native_e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// slowCommand is a command sent over a raw connection in two parts: the
// head (with Expect: 100-continue, so the server tells when its handler
// has started), then, later, the body.
type slowCommand struct {
	id   string
	key  string
	body []byte
	conn net.Conn
	br   *bufio.Reader
}

func (s *slowCommand) path() string { return instancePath("cart", s.id) + "/Open" }

// start sends the head and waits for 100 Continue: the server has read the
// request and its handler is reading the body, so the request is in flight.
func (s *slowCommand) start(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	s.conn, s.br = conn, bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Idempotency-Key: %s\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", s.path(), addr, len(s.body), s.key)
	if _, err := io.WriteString(conn, head); err != nil {
		return err
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return fmt.Errorf("waiting for 100 Continue: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusContinue {
		return fmt.Errorf("answered %d before the body, want 100 Continue", resp.StatusCode)
	}
	return nil
}

func (s *slowCommand) close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

// finish sends the body and reads the answer.
func (s *slowCommand) finish() (reply, error) {
	defer s.conn.Close()
	if _, err := s.conn.Write(s.body); err != nil {
		return reply{}, err
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// TestGracefulShutdown sends SIGTERM while commands are in flight: they
// complete with a 2xx, new connections are refused, the process exits 0,
// and after a restart every acknowledged command is stored.
func TestGracefulShutdown(t *testing.T) {
	skipShort(t)
	shop := contextPath("contexts/example.cue")
	data := t.TempDir()
	srv := startServer(t, shop, data)
	addr := strings.TrimPrefix(srv.url, "http://")

	// Background load: a connection per request (no keep-alive), so a
	// request either reached a handler (and must be answered) or never
	// connected.
	const loopers = 8
	e := e2etest.NewErrs(t)
	l := &load{e: e, c: newClient(srv.url), stop: make(chan struct{})}
	l.c.HTTP.Transport.(*http.Transport).DisableKeepAlives = true
	var wg sync.WaitGroup
	for g := range loopers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("loop-%02d", g)
			if l.send("cart", id, "Open", []byte(`{"customer":"ada"}`)).outcome != acked {
				return
			}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if l.send("cart", id, "AddItem", fmt.Appendf(nil, `{"sku":"SKU-%02d","qty":1,"price":2.5}`, i%10)).outcome != acked {
					return
				}
			}
		}()
	}
	t.Cleanup(func() {
		l.halt()
		waitGroup(&wg, 30*time.Second)
	})
	// The load is under way once every looper could be acknowledged twice.
	e2etest.WaitFor(t, 10*time.Second, "acknowledged background load", func() bool { return l.acks.Load() >= 2*loopers })

	// Twenty commands in flight: their handlers are waiting for the body.
	slow := make([]*slowCommand, 20)
	for i := range slow {
		slow[i] = &slowCommand{id: fmt.Sprintf("slow-%02d", i), key: fmt.Sprintf("slow-%02d", i), body: fmt.Appendf(nil, `{"customer":"cust-%02d"}`, i)}
		t.Cleanup(slow[i].close)
		if err := slow[i].start(addr); err != nil {
			t.Fatalf("starting in-flight command %d: %v", i, err)
		}
	}

	termAt := time.Now()
	if err := syscall.Kill(srv.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The listener closes: new connections are refused, cleanly.
	refused := e2etest.Until(5*time.Second, 10*time.Millisecond, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return false
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return true
		}
		// A connection racing with the listener's close is reset.
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("connecting after SIGTERM: %v, want connection refused", err)
		}
		return false
	})
	if !refused {
		t.Fatal("the server still accepted connections 5s after SIGTERM")
	}
	if _, err := newClient(srv.url).Post("/cart/late/Open", "late", []byte(`{"customer":"ada"}`)); !errors.Is(err, syscall.ECONNREFUSED) {
		e.Errorf("a command sent after SIGTERM: %v, want connection refused", err)
	}
	// Shutdown waits for the in-flight commands.
	if _, done := srv.exited(300 * time.Millisecond); done {
		t.Fatalf("the server exited with in-flight commands unanswered:\n%s", srv.logTail(20))
	}
	l.halt()

	answered := map[string]decision{}
	for _, s := range slow {
		r, err := s.finish()
		switch {
		case err != nil:
			e.Errorf("in-flight command %s: no answer after SIGTERM: %v", s.id, err)
		case r.Status != http.StatusCreated:
			e.Errorf("in-flight command %s: %d %s, want 201", s.id, r.Status, r.Body)
		default:
			var dec decision
			if err := json.Unmarshal(r.Body, &dec); err != nil || len(dec.Events) != 1 {
				e.Errorf("in-flight command %s: answer %s (%v)", s.id, r.Body, err)
				continue
			}
			answered[s.id] = dec
		}
	}
	code, done := srv.exited(10 * time.Second)
	if !done {
		t.Fatalf("the server did not exit within 10s of SIGTERM:\n%s", srv.logTail(20))
	}
	t.Logf("exited %d, %v after SIGTERM (including ~300ms holding the in-flight bodies back)", code, time.Since(termAt).Round(time.Millisecond))
	if code != 0 {
		e.Errorf("the server exited %d after SIGTERM, want 0:\n%s", code, srv.logTail(20))
	}
	if !waitGroup(&wg, 30*time.Second) {
		t.Fatal("the background load did not stop within 30s")
	}

	var ok, failed int
	kinds := map[string]int{}
	for _, c := range l.cmds {
		switch c.outcome {
		case acked:
			ok++
		case rejected:
			e.Errorf("%v: %d %s during shutdown, want a 2xx", c, c.reply.Status, c.reply.Body)
		case unknown:
			failed++
			kind := c.err.Error()
			switch {
			case errors.Is(c.err, syscall.ECONNREFUSED):
				kind = "connection refused"
			case errors.Is(c.err, syscall.ECONNRESET):
				kind = "connection reset"
			case errors.Is(c.err, io.EOF), errors.Is(c.err, io.ErrUnexpectedEOF):
				kind = "EOF"
			}
			kinds[kind]++
		}
	}
	t.Logf("background load: %d acknowledged, %d without an answer %v", ok, failed, kinds)

	// After a restart every acknowledged command is stored.
	srv = startServer(t, shop, data)
	c := newClient(srv.url)
	defer c.Close()
	instances := map[[2]string]bool{}
	for _, cmd := range l.cmds {
		instances[[2]string{cmd.agg, cmd.id}] = true
	}
	for _, s := range slow {
		instances[[2]string{"cart", s.id}] = true
	}
	instances[[2]string{"cart", "late"}] = true
	stored := checkStore(e, c, instances)
	byID := map[string]logEvent{}
	for _, ev := range stored {
		byID[ev.ID] = ev
	}
	for _, cmd := range l.cmds {
		if cmd.outcome == acked {
			checkAnswered(e, cmd, cmd.dec, byID)
		}
	}
	for _, s := range slow {
		dec, ok := answered[s.id]
		if !ok {
			continue
		}
		cmd := &command{agg: "cart", id: s.id, cmd: "Open", key: s.key, body: s.body}
		checkAnswered(e, cmd, dec, byID)
	}
	if v := c.instanceVersion(t, "cart", "late"); v != 0 {
		e.Errorf("the command refused after SIGTERM is stored: cart late at version %d", v)
	}
	// A request without an answer never reached a handler: re-sending it
	// executes it now rather than replaying.
	for _, cmd := range l.cmds {
		if cmd.outcome != unknown {
			continue
		}
		r, err := c.Post(cmd.path(), cmd.key, cmd.body)
		if err != nil {
			e.Errorf("re-sending %v: %v", cmd, err)
			continue
		}
		if r.Header.Get("Idempotent-Replayed") == "true" {
			e.Errorf("%v got no answer during shutdown (%v), yet it had been executed: %d %s", cmd, cmd.err, r.Status, r.Body)
		}
	}
}
