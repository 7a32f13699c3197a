package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/auth"
)

// handlesContext: a profile claims a handle; only its owner reads it.
const handlesContext = `package handles

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "handles"
	auth: {
		secretEnv: "HANDLES_JWT_SECRET"
		issuer:    "https://id.example"
		audience:  "owned"
		#claims: {sub: string, roles: [...string] | *[], ...}
	}
	aggregates: profile: {
		#state: {owner?: string, handle: string}
		initial: handle: ""
		read: "owner reads": {check: "state.owner == caller.sub", status: 404}
		unique: handle: {key: "event.handle", claimedBy: ["Claimed"]}
		commands: {
			Claim: {
				instance: "new"
				#payload: handle: =~"^[a-z]+$"
				allow: "anyone": "true"
				emit: [{event: "Claimed", payload: {owner: "caller.sub", handle: "cmd.handle"}}]
			}
			Rename: {
				#payload: handle: =~"^[a-z]+$"
				allow: "owner": "state.owner == caller.sub"
				emit: [{event: "Claimed", payload: {owner: "caller.sub", handle: "cmd.handle"}}]
			}
		}
		events: Claimed: {
			#payload: {owner: string, handle: string}
			apply: {owner: "event.owner", handle: "event.handle"}
		}
	}
}
`

func handlesServer(t *testing.T) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "handles.cue")
	require.NoError(t, os.WriteFile(path, []byte(handlesContext), 0o644))
	p, err := compile(path)
	require.NoError(t, err)
	v, err := auth.New(auth.Config{Secret: jwtSecret, Issuer: "https://id.example", Audience: "owned"})
	require.NoError(t, err)
	return newServerReadSide(t, p, api.Options{Identity: v})
}

// A unique_violation names the holder only to a caller who may read it;
// the by-key routes answer a caller who may not read the holder as if no
// one held the key.
func TestUniqueViolationHolderByReadRules(t *testing.T) {
	s := handlesServer(t)
	alice, bob := bearerOf(token(t, "alice", []string{}, nil, "", nil)), bearerOf(token(t, "bob", []string{}, nil, "", nil))
	r := s.post("/profile/Claim", `{"handle":"ada"}`, http.StatusCreated, alice...)
	loc := r.Header.Get("Location")
	require.NotEmpty(t, loc)
	id := loc[len("/profile/"):]

	m := assertProblem(t, s.do(http.MethodPost, "/profile/Claim", `{"handle":"ada"}`, bob...), http.StatusConflict, "unique_violation")
	assert.Equal(t, "handle", m["constraint"])
	assert.Equal(t, "ada", m["key"])
	assert.NotContains(t, m, "holder", "bob may not read alice's profile")

	m = assertProblem(t, s.do(http.MethodPost, "/profile/Claim", `{"handle":"ada"}`, alice...), http.StatusConflict, "unique_violation")
	assert.Equal(t, id, m["holder"], "alice reads her own profile")

	r = s.do(http.MethodGet, "/profile/by/handle/ada", "", alice...)
	require.Equal(t, http.StatusOK, r.Status, r.String())
	assert.Equal(t, id, r.json(t)["id"])
	assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))
	assert.Equal(t, loc, r.Header.Get("Content-Location"))
	assertProblem(t, s.do(http.MethodGet, "/profile/by/handle/ada", "", bob...), http.StatusNotFound, "key_not_held")
	assertProblem(t, s.do(http.MethodGet, "/profile/by/handle/zed", "", alice...), http.StatusNotFound, "key_not_held")
	assertProblem(t, s.do(http.MethodGet, "/profile/by/nick/ada", "", alice...), http.StatusNotFound, "unknown_constraint")

	// By key, a command runs on the holder under its own rules; renamed,
	// the old key is free and addresses no one.
	r = s.post("/profile/by/handle/ada/Rename", `{"handle":"bea"}`, http.StatusOK, alice...)
	assert.Equal(t, loc, r.Header.Get("Content-Location"), "the id to retry by")
	assertProblem(t, s.do(http.MethodPost, "/profile/by/handle/ada/Rename", `{"handle":"cy"}`, alice...), http.StatusNotFound, "key_not_held")
	s.post("/profile/Claim", `{"handle":"ada"}`, http.StatusCreated, bob...)
}

// A look-up that cannot be read answers 503 lookup_failed naming it,
// and writes nothing; a payload that does not decode is refused as
// before, without reading.
func TestLookupFailed(t *testing.T) {
	p, err := compile("../contexts/carts")
	require.NoError(t, err)
	s := newServerFor(t, p, api.Options{}) // no read models: the price query cannot run
	r := s.post("/cart/Open", `{"client":"c-1"}`, http.StatusCreated)
	cart := r.Header.Get("Location")
	r = s.do(http.MethodPost, cart+"/AddItem", `{"sku":"p-1","qty":1}`, "Content-Type", "application/json")
	m := assertProblem(t, r, http.StatusServiceUnavailable, "lookup_failed")
	assert.Equal(t, "price", m["lookup"])
	assert.Equal(t, "1", r.Header.Get("Retry-After"))
	assertProblem(t, s.do(http.MethodPost, cart+"/AddItem", `{"sku":`, "Content-Type", "application/json"), http.StatusBadRequest, "invalid_json")
	assertProblem(t, s.do(http.MethodPost, cart+"/AddItem", `{"sku":"p-1","qty":0}`, "Content-Type", "application/json"), http.StatusBadRequest, "schema")
	assert.Equal(t, 1, s.eventCount())
}
