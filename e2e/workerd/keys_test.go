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

// race sends n requests at once to open carts prefix-0 ... prefix-(n-1)
// for one client: exactly one must open, and every other be refused 409
// unique_violation naming openCartPerClient, the key and the winner. It
// answers the winner.
func race(t *testing.T, c *client, prefix, cl string, n int) string {
	t.Helper()
	replies := make([]e2etest.Reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i], errs[i] = openCart(c, fmt.Sprintf("%s-%d", prefix, i), cl) })
	}
	wg.Wait()
	winner := ""
	for i, r := range replies {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if errs[i] != nil {
			t.Fatalf("open %s: %v", id, errs[i])
		}
		switch r.Status {
		case http.StatusCreated:
			if winner != "" {
				t.Fatalf("both %s and %s opened a cart for %s", winner, id, cl)
			}
			winner = id
		case http.StatusConflict:
		default:
			t.Fatalf("open %s: %v, want 201 or 409", id, r)
		}
	}
	if winner == "" {
		t.Fatalf("%s: no cart opened for %s", prefix, cl)
	}
	for i, r := range replies {
		if r.Status != http.StatusConflict {
			continue
		}
		var p keyProblem
		if err := json.Unmarshal(r.Body, &p); err != nil || p != (keyProblem{"unique_violation", "openCartPerClient", cl, winner}) {
			t.Fatalf("open %s-%d: %v, want unique_violation of openCartPerClient for %s held by %s", prefix, i, r, cl, winner)
		}
	}
	return winner
}

// TestUniqueKeyRace races 32 requests to open a cart (distinct ids) for
// one client, 30 times with a fresh client each time: exactly one opens,
// every other is refused 409 unique_violation naming openCartPerClient
// and the winner. Once the last winner is abandoned, 32 race again for
// its client, whose key's object records the abandoned cart: again
// exactly one opens. On contexts/carts/carts.cue as `cuesource worker
// build` builds it.
func TestUniqueKeyRace(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/carts/carts.cue"), "")
	c := newClient(w.url)
	defer c.Close()
	const racers, reps = 32, 30
	var winner string
	for rep := range reps {
		winner = race(t, c, fmt.Sprintf("r%d", rep), fmt.Sprintf("client-%d", rep), racers)
	}
	cl := fmt.Sprintf("client-%d", reps-1)
	c.command(t, 200, "cart", winner, "Abandon", `{}`)
	again := race(t, c, "again", cl, racers)
	r, err := openCart(c, "third", cl)
	if err != nil || r.Status != http.StatusConflict || !strings.Contains(string(r.Body), `"holder":"`+again+`"`) {
		t.Fatalf("a third cart for %s: %v %v, want 409 held by %s", cl, r, err, again)
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
