//go:build unix

package native_e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

var uuidV7 = regexp.MustCompile(`^/cart/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// problemFields decodes a problem+json answer.
func problemFields(t *testing.T, r reply) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("not JSON: %s", r)
	}
	return p
}

func post(t *testing.T, c *client, path, key, body string) reply {
	t.Helper()
	r, err := c.Post(path, key, []byte(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

func get(t *testing.T, c *client, path string) reply {
	t.Helper()
	r, err := c.Request(http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// openRace sends n concurrent POST /cart/Open for one client and returns
// the replies.
func openRace(t *testing.T, c *client, clientID string, n int) []reply {
	t.Helper()
	out := make([]reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = c.Post("/cart/Open", "", []byte(fmt.Sprintf(`{"client":%q}`, clientID)))
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("POST /cart/Open: %v", err)
		}
	}
	return out
}

// One open cart per client, natively: 32 requests racing to open a cart
// for one client (each a new instance, its id chosen by the server) give
// one 201 and 31 409 unique_violation naming the constraint, every time;
// the holder is found by key; once it checks out, a new cart opens.
func TestUniqueKeyRace(t *testing.T) {
	skipShort(t)
	srv := startServer(t, contextPath("contexts/carts"), t.TempDir())
	c := newClient(srv.url)
	defer c.Close()
	if r := post(t, c, "/product/p-1/List", "", `{"name":"Soap","price":7}`); r.Status != http.StatusCreated {
		t.Fatalf("List: %s", r)
	}
	for rep := range 30 {
		client := fmt.Sprintf("c-%02d", rep)
		var won []string
		for _, r := range openRace(t, c, client, 32) {
			switch r.Status {
			case http.StatusCreated:
				won = append(won, r.Header.Get("Location"))
			case http.StatusConflict:
				p := problemFields(t, r)
				if p["kind"] != "unique_violation" || p["constraint"] != "openCartPerClient" || p["key"] != client {
					t.Fatalf("repetition %d: a refused Open: %s, want unique_violation naming openCartPerClient and %s", rep, r, client)
				}
			default:
				t.Fatalf("repetition %d: Open: %s", rep, r)
			}
		}
		if len(won) != 1 {
			t.Fatalf("repetition %d: %d Opens succeeded (%v), want exactly one", rep, len(won), won)
		}
		if !uuidV7.MatchString(won[0]) {
			t.Fatalf("repetition %d: Location %q is not a cart with a UUIDv7 id", rep, won[0])
		}
		byKey := "/cart/by/openCartPerClient/" + client
		r := get(t, c, byKey)
		var inst struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
		}
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &inst) != nil || "/cart/"+inst.ID != won[0] || r.Header.Get("ETag") != `W/"1"` {
			t.Fatalf("repetition %d: GET %s: %s %v, want the cart at %s with its ETag", rep, byKey, r, r.Header, won[0])
		}
		if rep > 2 {
			continue // the rest once is enough; the race is what repeats
		}
		if r := post(t, c, byKey+"/AddItem", "", `{"sku":"p-1","qty":2}`); r.Status != http.StatusOK {
			t.Fatalf("AddItem by key: %s", r)
		}
		if r := post(t, c, byKey+"/CheckOut", "", `{}`); r.Status != http.StatusOK {
			t.Fatalf("CheckOut by key: %s", r)
		}
		if r := get(t, c, byKey); r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), "key_not_held") {
			t.Fatalf("GET %s after CheckOut: %s, want 404 key_not_held", byKey, r)
		}
		if r := post(t, c, byKey+"/Abandon", "", `{}`); r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), "key_not_held") {
			t.Fatalf("POST by a key no one holds: %s, want 404 key_not_held", r)
		}
		r = post(t, c, "/cart/Open", "", fmt.Sprintf(`{"client":%q}`, client))
		if r.Status != http.StatusCreated || r.Header.Get("Location") == won[0] {
			t.Fatalf("Open after CheckOut: %s (Location %s), want a new cart", r, r.Header.Get("Location"))
		}
	}
}

// The price is the catalogue's: a client cannot send one (the payload is
// closed), and the event records the price the look-up read; a product
// not listed is refused.
func TestLookupPrice(t *testing.T) {
	skipShort(t)
	srv := startServer(t, contextPath("contexts/carts"), t.TempDir())
	c := newClient(srv.url)
	defer c.Close()
	post(t, c, "/product/p-1/List", "", `{"name":"Soap","price":7}`)
	r := post(t, c, "/cart/Open", "", `{"client":"c-1"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("Open: %s", r)
	}
	cart := r.Header.Get("Location")
	if r := post(t, c, cart+"/AddItem", "", `{"sku":"p-1","qty":2,"price":1}`); r.Status != http.StatusBadRequest {
		t.Fatalf("AddItem with a price: %s, want 400: the payload has no price", r)
	}
	r = post(t, c, cart+"/AddItem", "", `{"sku":"p-1","qty":2}`)
	var res struct {
		Events []struct {
			Payload struct {
				UnitPrice int    `json:"unitPrice"`
				Name      string `json:"name"`
			} `json:"payload"`
		} `json:"events"`
		State struct{ Total int } `json:"state"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &res) != nil || len(res.Events) != 1 ||
		res.Events[0].Payload.UnitPrice != 7 || res.Events[0].Payload.Name != "Soap" || res.State.Total != 14 {
		t.Fatalf("AddItem: %s, want unitPrice 7 and name Soap from the catalogue", r)
	}
	// Repriced, the next AddItem reads the new price.
	post(t, c, "/product/p-1/Reprice", "", `{"price":9}`)
	r = post(t, c, cart+"/AddItem", "", `{"sku":"p-1","qty":1}`)
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &res) != nil || res.Events[0].Payload.UnitPrice != 9 {
		t.Fatalf("AddItem after Reprice: %s, want unitPrice 9", r)
	}
	r = post(t, c, cart+"/AddItem", "", `{"sku":"p-2","qty":1}`)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "product not listed") {
		t.Fatalf("AddItem of a product not listed: %s, want 422 product not listed", r)
	}
}

// newIdContext makes its instances' ids from the payload.
const newIDContext = `package members

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "members"
	aggregates: member: {
		#state: {email: string}
		initial: {email: ""}
		newId: "'m-' + cmd.handle"
		commands: Join: {
			instance: "new"
			#payload: {handle: =~"^[a-z]+$", email: string}
			emit: [{event: "Joined", payload: email: "cmd.email"}]
		}
		events: Joined: {
			#payload: email: string
			apply: email: "event.email"
		}
	}
}
`

// Server-assigned ids: newId's over the payload (a second Join of the
// same handle meets the instance); a UUIDv7 otherwise, and with an
// Idempotency-Key a retry gets the same answer and id.
func TestServerAssignedIDs(t *testing.T) {
	skipShort(t)
	path := filepath.Join(t.TempDir(), "members.cue")
	if err := os.WriteFile(path, []byte(newIDContext), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, path, t.TempDir())
	c := newClient(srv.url)
	defer c.Close()
	r := post(t, c, "/member/Join", "", `{"handle":"ada","email":"a@x"}`)
	if r.Status != http.StatusCreated || r.Header.Get("Location") != "/member/m-ada" {
		t.Fatalf("Join: %s %v, want 201 at /member/m-ada", r, r.Header)
	}
	if r := post(t, c, "/member/Join", "", `{"handle":"ada","email":"b@x"}`); r.Status != http.StatusConflict {
		t.Fatalf("Join again: %s, want 409: m-ada exists", r)
	}
	if r := post(t, c, "/member/Join", "", `{"handle":"Ada!","email":"b@x"}`); r.Status != http.StatusBadRequest {
		t.Fatalf("Join with a bad handle: %s, want the schema's 400", r)
	}

	carts := startServer(t, contextPath("contexts/carts"), t.TempDir())
	cc := newClient(carts.url)
	defer cc.Close()
	first := post(t, cc, "/cart/Open", "k-1", `{"client":"c-9"}`)
	again := post(t, cc, "/cart/Open", "k-1", `{"client":"c-9"}`)
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || first.Header.Get("Location") != again.Header.Get("Location") ||
		again.Header.Get("Idempotent-Replayed") != "true" || !e2etest.SameJSON(first.Body, again.Body) {
		t.Fatalf("an idempotent Open twice: %s %v / %s %v, want the same answer and Location, replayed", first, first.Header, again, again.Header)
	}
	if r := post(t, cc, "/cart/CheckOut", "", `{}`); r.Status != http.StatusMethodNotAllowed || !strings.Contains(string(r.Body), "makes a cart with Open") {
		t.Fatalf("POST /cart/CheckOut: %s, want 405 naming Open: CheckOut makes no instance", r)
	}
}

// dropKeys deletes every unique key and the record of what they were
// built for, as a database from before unique keys has none.
func dropKeys(t *testing.T, db string, status bool) {
	t.Helper()
	h, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	stmt := `DELETE FROM unique_keys`
	if status {
		stmt += `; DELETE FROM unique_constraints`
	}
	if _, err := h.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

// holderOf is who GET /cart/by/openCartPerClient/client says holds it ("").
func holderOf(t *testing.T, c *client, clientID string) string {
	t.Helper()
	var inst struct{ ID string }
	r, err := c.GetJSON("/cart/by/openCartPerClient/"+clientID, &inst)
	if err != nil || (r.Status != http.StatusOK && r.Status != http.StatusNotFound) {
		t.Fatalf("GET by key: %v %s", err, r)
	}
	return inst.ID
}

// Rebuild restores every held key from the log: at start when the
// constraints' record is gone (as when they change), and on `cuesource
// keys rebuild`; a released key stays free.
func TestUniqueKeysRebuild(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	srv := startServer(t, contextPath("contexts/carts"), data)
	c := newClient(srv.url)
	defer c.Close()
	post(t, c, "/product/p-1/List", "", `{"name":"Soap","price":7}`)
	held := map[string]string{}
	for i := range 10 {
		client := fmt.Sprintf("c-%d", i)
		r := post(t, c, "/cart/Open", "", fmt.Sprintf(`{"client":%q}`, client))
		if r.Status != http.StatusCreated {
			t.Fatalf("Open: %s", r)
		}
		held[client] = strings.TrimPrefix(r.Header.Get("Location"), "/cart/")
	}
	// c-0 checks out and c-1 abandons: their keys are free; c-2 opens
	// again after checking out: it holds the new cart's.
	post(t, c, "/cart/by/openCartPerClient/c-0/AddItem", "", `{"sku":"p-1","qty":1}`)
	post(t, c, "/cart/by/openCartPerClient/c-0/CheckOut", "", `{}`)
	post(t, c, "/cart/by/openCartPerClient/c-1/Abandon", "", `{}`)
	post(t, c, "/cart/by/openCartPerClient/c-2/AddItem", "", `{"sku":"p-1","qty":1}`)
	post(t, c, "/cart/by/openCartPerClient/c-2/CheckOut", "", `{}`)
	r := post(t, c, "/cart/Open", "", `{"client":"c-2"}`)
	held["c-2"] = strings.TrimPrefix(r.Header.Get("Location"), "/cart/")
	delete(held, "c-0")
	delete(held, "c-1")
	check := func(what string) {
		t.Helper()
		for i := range 10 {
			client := fmt.Sprintf("c-%d", i)
			if got := holderOf(t, c, client); got != held[client] {
				t.Fatalf("%s: %s is held by %q, want %q", what, client, got, held[client])
			}
		}
		if r := post(t, c, "/cart/Open", "", `{"client":"c-5"}`); r.Status != http.StatusConflict {
			t.Fatalf("%s: Open for c-5: %s, want 409", what, r)
		}
	}
	check("before")
	db := filepath.Join(data, "carts.db")

	// The keys and their record gone: the server rebuilds them at start.
	srv.kill()
	dropKeys(t, db, true)
	srv = startServer(t, contextPath("contexts/carts"), data)
	c = newClient(srv.url)
	defer c.Close()
	check("rebuilt at start")

	// The keys gone, their record kept: `keys rebuild` brings them back.
	srv.kill()
	dropKeys(t, db, false)
	out, stderr, code := e2etest.RunCLI(t, binary, root, time.Minute, "keys", "rebuild", contextPath("contexts/carts"), "--data", data)
	if code != 0 || !strings.Contains(string(out), "cart\trebuilt, 8 key(s) held, 0 conflict(s)") {
		t.Fatalf("keys rebuild: exit %d\n%s%s", code, out, stderr)
	}
	srv = startServer(t, contextPath("contexts/carts"), data)
	c = newClient(srv.url)
	defer c.Close()
	check("rebuilt by keys rebuild")
}

// A log written before the constraint existed, where two carts of one
// client are open: the earliest claim holds the key, the later one is
// reported (at start, in /healthz, by keys status) and holds nothing.
func TestUniqueKeysBeforeTheConstraint(t *testing.T) {
	skipShort(t)
	src, err := os.ReadFile(contextPath("contexts/carts/carts.cue"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\n\t\tunique: openCartPerClient: \{.*?\n\t\t\}\n`)
	if !block.Match(src) {
		t.Fatal("contexts/carts/carts.cue has no unique block to take out")
	}
	dir := t.TempDir()
	before := filepath.Join(dir, "carts.cue")
	// Without the constraint no scenario may expect its violation.
	src = bytes.ReplaceAll(block.ReplaceAll(src, []byte("\n")), []byte(`then: error: "unique_violation"`), []byte(`then: events: [{event: "Opened"}]`))
	if err := os.WriteFile(before, src, 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	srv := startServer(t, before, data)
	c := newClient(srv.url)
	defer c.Close()
	for _, id := range []string{"first", "second"} {
		if r := post(t, c, "/cart/"+id+"/Open", "", `{"client":"c-1"}`); r.Status != http.StatusCreated {
			t.Fatalf("Open %s without the constraint: %s", id, r)
		}
	}
	srv.kill()

	srv = startServer(t, contextPath("contexts/carts"), data)
	c = newClient(srv.url)
	defer c.Close()
	if got := holderOf(t, c, "c-1"); got != "first" {
		t.Fatalf("c-1 is held by %q, want first: the earliest claim holds", got)
	}
	var health struct {
		Status  string
		Storage struct {
			KeyConflicts map[string][]struct {
				Constraint, Key, Holder, Instance string
				Position                          int64
			}
		}
	}
	if r, err := c.GetJSON("/healthz", &health); err != nil || r.Status != http.StatusOK {
		t.Fatalf("healthz: %v %s", err, r)
	}
	cs := health.Storage.KeyConflicts["cart"]
	if health.Status != "ok" || len(cs) != 1 || cs[0].Holder != "first" || cs[0].Instance != "second" || cs[0].Key != "c-1" || cs[0].Position != 2 {
		t.Fatalf("healthz: %+v, want the claim of second reported", health)
	}
	if !strings.Contains(srv.logTail(40), "unique key conflict in the log") {
		t.Fatalf("the server did not log the conflict:\n%s", srv.logTail(40))
	}
	// second holds nothing: its CheckOut releases nothing; once first
	// checks out, the key is free for a new cart.
	post(t, c, "/product/p-1/List", "", `{"name":"Soap","price":7}`)
	post(t, c, "/cart/second/AddItem", "", `{"sku":"p-1","qty":1}`)
	post(t, c, "/cart/second/CheckOut", "", `{}`)
	if got := holderOf(t, c, "c-1"); got != "first" {
		t.Fatalf("after second checked out, c-1 is held by %q, want first", got)
	}
	post(t, c, "/cart/first/Abandon", "", `{}`)
	if r := post(t, c, "/cart/Open", "", `{"client":"c-1"}`); r.Status != http.StatusCreated {
		t.Fatalf("Open after first let go: %s", r)
	}
	srv.kill()
	out, stderr, code := e2etest.RunCLI(t, binary, root, time.Minute, "keys", "status", contextPath("contexts/carts"), "--data", data)
	if code != 0 || !strings.Contains(string(out), `openCartPerClient: key "c-1" stays with first; the claim of second at position 2 is ignored`) {
		t.Fatalf("keys status: exit %d\n%s%s", code, out, stderr)
	}
}
