//go:build unix

package workerd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// problemOf decodes a unique_violation's problem.
type keyProblem struct {
	Kind       string `json:"kind"`
	Constraint string `json:"constraint"`
	Key        string `json:"key"`
	Holder     string `json:"holder"`
}

func openCart(c *client, id, client string) (e2etest.Reply, error) {
	return c.Post(instancePath("cart", id)+"/Open", "", []byte(fmt.Sprintf(`{"client":%q}`, client)))
}

// TestUniqueKeyRace races 32 requests to open a cart (distinct ids) for
// one client, 30 times with a fresh client each time: exactly one opens,
// every other is refused 409 unique_violation naming openCartPerClient
// and the winner. Once the winner is abandoned a new cart opens for the
// client, and a third is refused again. On contexts/carts/carts.cue as
// `cuesource worker build` builds it.
func TestUniqueKeyRace(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/carts/carts.cue"), "")
	c := newClient(w.url)
	defer c.Close()
	const racers, reps = 32, 30
	for rep := range reps {
		cl := fmt.Sprintf("client-%d", rep)
		replies := make([]e2etest.Reply, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { replies[i], errs[i] = openCart(c, fmt.Sprintf("r%d-%d", rep, i), cl) })
		}
		wg.Wait()
		winner := ""
		for i, r := range replies {
			id := fmt.Sprintf("r%d-%d", rep, i)
			if errs[i] != nil {
				t.Fatalf("rep %d: open %s: %v", rep, id, errs[i])
			}
			switch r.Status {
			case http.StatusCreated:
				if winner != "" {
					t.Fatalf("rep %d: both %s and %s opened a cart for %s", rep, winner, id, cl)
				}
				winner = id
			case http.StatusConflict:
			default:
				t.Fatalf("rep %d: open %s: %v, want 201 or 409", rep, id, r)
			}
		}
		if winner == "" {
			t.Fatalf("rep %d: no cart opened for %s", rep, cl)
		}
		for i, r := range replies {
			if r.Status != http.StatusConflict {
				continue
			}
			var p keyProblem
			if err := json.Unmarshal(r.Body, &p); err != nil || p != (keyProblem{"unique_violation", "openCartPerClient", cl, winner}) {
				t.Fatalf("rep %d: open r%d-%d: %v, want unique_violation of openCartPerClient for %s held by %s", rep, rep, i, r, cl, winner)
			}
		}
	}
	// The last client's key passes on once its cart lets go of it.
	cl := fmt.Sprintf("client-%d", reps-1)
	for i := range racers {
		if r, _ := openCart(c, fmt.Sprintf("r%d-%d", reps-1, i), cl); r.Status == http.StatusCreated {
			t.Fatalf("a second Open of an existing cart answered %v", r)
		}
	}
	var holder string
	for i := range racers {
		id := fmt.Sprintf("r%d-%d", reps-1, i)
		if c.instance(t, "cart", id).Version == 1 {
			holder = id
		}
	}
	c.command(t, 200, "cart", holder, "Abandon", `{}`)
	c.command(t, 201, "cart", "after", "Open", fmt.Sprintf(`{"client":%q}`, cl))
	r, err := openCart(c, "after-2", cl)
	if err != nil || r.Status != http.StatusConflict || !strings.Contains(string(r.Body), `"holder":"after"`) {
		t.Fatalf("a third cart for %s: %v %v, want 409 held by after", cl, r, err)
	}
}

// TestUniqueKeyCheckOut: a checked-out cart lets go of its client's key
// (bench/workers/keys.cue, whose prices come with the command), and the
// same aggregate without the constraint opens as many carts as asked.
func TestUniqueKeyCheckOut(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "bench/workers/keys.cue"), "")
	c := newClient(w.url)
	defer c.Close()
	c.command(t, 201, "cart", "a", "Open", `{"client":"ada"}`)
	c.command(t, 409, "cart", "b", "Open", `{"client":"ada"}`)
	c.command(t, 200, "cart", "a", "AddItem", `{"sku":"tea","qty":2,"price":3}`)
	c.command(t, 200, "cart", "a", "CheckOut", `{}`)
	c.command(t, 201, "cart", "b", "Open", `{"client":"ada"}`)
	c.command(t, 409, "cart", "c", "Open", `{"client":"ada"}`)
	c.command(t, 201, "plain", "a", "Open", `{"client":"ada"}`)
	c.command(t, 201, "plain", "b", "Open", `{"client":"ada"}`)
}

// kill ends the harness and workerd at once, as a crash does: nothing is
// disposed, and a request in flight gets no answer.
func (w *worker) kill(t *testing.T) {
	t.Helper()
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the harness (pid %d) did not exit 10s after SIGKILL", w.cmd.Process.Pid)
	}
}

// waitLog waits for the harness's log to hold s.
func (w *worker) waitLog(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(w.log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the harness's log has no %q after %v:\n%s", s, timeout, w.logTail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUniqueKeyRestartBeforeCommit restarts workerd (a kill, then a start
// on the same state) while a cart that reserved its client's key is
// stopped: before its instance committed, the key passes to the next
// claimant (it is not held forever) and the first cart does not exist;
// after its instance committed, the next claimant is refused (the key is
// not lost), and its event reaches the log by the object's alarm, which
// the commit set. The same with the Go runtime ended instead of workerd.
func TestUniqueKeyRestartBeforeCommit(t *testing.T) {
	needWorkerd(t)
	dir := buildWorker(t, "bench/workers/keys.cue")
	for _, tc := range []struct {
		at, how   string
		committed bool
	}{
		{"reserved", "stall", false},
		{"committed", "stall", true},
		{"reserved", "crash", false},
		{"committed", "crash", true},
	} {
		t.Run(tc.at+"-"+tc.how, func(t *testing.T) {
			persist := filepath.Join(t.TempDir(), "state")
			w := startWorker(t, dir, persist)
			c := newClient(w.url)
			defer c.Close()
			testSwitch(t, c, http.MethodPost, "/__test/faults", fmt.Sprintf(`{"claim":{"at":%q,"how":%q}}`, tc.at, tc.how))
			first := make(chan e2etest.Reply, 1)
			go func() {
				r, _ := openCart(c, "first", "ada")
				first <- r
			}()
			w.waitLog(t, "claim stopped ("+tc.how+") once "+tc.at, 30*time.Second)
			if tc.how == "stall" {
				w.kill(t)
				w = startWorker(t, dir, persist)
				c = newClient(w.url)
				defer c.Close()
			} else {
				if r := <-first; r.Status != http.StatusInternalServerError {
					t.Fatalf("the claim whose runtime ended answered %v, want 500", r)
				}
				testSwitch(t, c, http.MethodPost, "/__test/faults", `{"claim":null}`)
			}
			if tc.committed {
				if got := c.instance(t, "cart", "first"); got.Version != 1 {
					t.Fatalf("the committed cart is at version %d, want 1", got.Version)
				}
				r, err := openCart(c, "second", "ada")
				if err != nil || r.Status != http.StatusConflict || !strings.Contains(string(r.Body), `"holder":"first"`) {
					t.Fatalf("a claim of the committed key: %v %v, want 409 held by first", r, err)
				}
				// The object's alarm, set with the commit, forwards it.
				if evs := c.waitLog(t, 1, 20*time.Second); evs[0].Instance != "first" {
					t.Fatalf("the log holds %+v, want first's Opened", evs)
				}
				return
			}
			c.command(t, 201, "cart", "second", "Open", `{"client":"ada"}`)
			if r, err := c.Request(http.MethodGet, instancePath("cart", "first"), nil); err != nil || r.Status != http.StatusNotFound {
				t.Fatalf("GET the cart that never committed: %v %v, want 404", r, err)
			}
			c.command(t, 409, "cart", "third", "Open", `{"client":"ada"}`)
		})
	}
}
