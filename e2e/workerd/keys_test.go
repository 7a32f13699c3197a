//go:build unix

package workerd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
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

// TestRulesAcrossInstancesOnWorker: on contexts/carts the Worker answers
// as serve does: a cart whose id the server chooses (201, Location), an
// item whose price is the catalogue's (the look-up reads the prices
// projection in D1, and the product's object), a client's cart found
// and commanded by the client's key, and the key let go at check-out.
func TestRulesAcrossInstancesOnWorker(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/carts/carts.cue"), "")
	c := newClient(w.url)
	defer c.Close()
	c.command(t, 201, "product", "soap", "List", `{"name":"Soap","price":7}`)
	// The look-up reads the projection, which D1 holds once the object
	// forwarded the event: eventually consistent, as the README says.
	e2etest.WaitFor(t, 20*time.Second, "the price of soap in the projection", func() bool {
		var q struct{ Rows []map[string]any }
		r, err := c.GetJSON("/queries/price?sku=soap", &q)
		return err == nil && r.Status == http.StatusOK && len(q.Rows) == 1
	})

	r, err := c.Post("/cart/Open", "", []byte(`{"client":"ada"}`))
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("POST /cart/Open: %v %v, want 201", r, err)
	}
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/cart/") || len(loc) <= len("/cart/") {
		t.Fatalf("Location %q, want /cart/{the id the server chose}", loc)
	}
	id := strings.TrimPrefix(loc, "/cart/")

	// The client may not set the price: the payload has no such field.
	if r, err := c.Post("/cart/by/openCartPerClient/ada/AddItem", "", []byte(`{"sku":"soap","qty":2,"unitPrice":1}`)); err != nil || r.Status != http.StatusBadRequest {
		t.Fatalf("AddItem with a price: %v %v, want 400", r, err)
	}
	r, err = c.Post("/cart/by/openCartPerClient/ada/AddItem", "", []byte(`{"sku":"soap","qty":2}`))
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("AddItem by the client's key: %v %v, want 200", r, err)
	}
	var d struct {
		Events []struct{ Payload map[string]any }
		State  struct{ Total float64 }
	}
	if err := json.Unmarshal(r.Body, &d); err != nil || len(d.Events) != 1 || d.Events[0].Payload["unitPrice"] != 7.0 || d.Events[0].Payload["name"] != "Soap" || d.State.Total != 14 {
		t.Fatalf("AddItem answered %s, want the catalogue's price 7 and name Soap, total 14", r.Body)
	}
	var got struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}
	if r, err := c.GetJSON("/cart/by/openCartPerClient/ada", &got); err != nil || r.Status != http.StatusOK || got.ID != id || got.Version != 2 {
		t.Fatalf("GET by key: %v %v %+v, want %s at version 2", r, err, got, id)
	}
	if r, err := c.Post("/cart/by/openCartPerClient/ada/CheckOut", "", []byte(`{}`)); err != nil || r.Status != http.StatusOK {
		t.Fatalf("CheckOut by key: %v %v", r, err)
	}
	r, err = c.Request(http.MethodGet, "/cart/by/openCartPerClient/ada", nil)
	if err != nil || r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `"kind":"key_not_held"`) {
		t.Fatalf("GET by a released key: %v %v, want 404 key_not_held", r, err)
	}
	if r, err := c.Post("/cart/by/openCartPerClient/ada/AddItem", "", []byte(`{"sku":"soap","qty":1}`)); err != nil || r.Status != http.StatusNotFound {
		t.Fatalf("AddItem by a released key: %v %v, want 404", r, err)
	}
	c.command(t, 201, "cart", "next", "Open", `{"client":"ada"}`)
}
