package manifest

import "encoding/json"

// Auth is a context's identity source and its rules: who may run which
// command, read which instance, run which query and read the log. Absent,
// the context has no rules (only the server's static tokens gate it).
// Declared, everything is denied unless a rule allows it.
type Auth struct {
	// The identity source: an HS256 secret from the environment variable
	// SecretEnv, and/or keys (JWKSURL, or a static JWKS).
	SecretEnv string `json:"secretEnv,omitempty"`
	JWKSURL   string `json:"jwksUrl,omitempty"`
	// JWKSRefresh is the least time between two fetches of JWKSURL on an
	// unknown kid, as written ("30s"); "": the default.
	JWKSRefresh string          `json:"jwksRefresh,omitempty"`
	JWKS        json.RawMessage `json:"jwks,omitempty"`
	Algorithms  []string        `json:"algorithms,omitempty"`
	Issuer      string          `json:"issuer,omitempty"`
	Audience    string          `json:"audience,omitempty"`
	// Header carries the token: "Authorization" (as a bearer credential)
	// or "Cf-Access-Jwt-Assertion" (Cloudflare Access).
	Header string `json:"header"`
	// Claims is the JSON Schema of #claims: what rules read as caller.
	Claims json.RawMessage `json:"claims"`
	// Allow are the context's rules for every command.
	Allow []Named `json:"allow,omitempty"`
	// Meta is the metadata every event records beside the actor, the
	// correlation and the causation: expressions over cmd and caller,
	// evaluated when a command is decided (a command's Rules.Meta add to
	// them and override a name they share).
	Meta []Field `json:"meta,omitempty"`
	// Log are the rules for reading the global log and its stream.
	Log        []Named                   `json:"log,omitempty"`
	Aggregates map[string]*AggregateAuth `json:"aggregates,omitempty"`
	Queries    map[string]*Rules         `json:"queries,omitempty"`
	Pos        Pos                       `json:"pos"`
}

// AggregateAuth are an aggregate's rules.
type AggregateAuth struct {
	Allow []Named `json:"allow,omitempty"` // for each of its commands
	// Read: who may read an instance (state, events, history). A rule
	// with Status 404 makes a denied read answer as a missing instance.
	Read     []Named           `json:"read,omitempty"`
	Commands map[string]*Rules `json:"commands,omitempty"`
}

// Rules are a command's or a query's own rules.
type Rules struct {
	Allow     []Named `json:"allow,omitempty"`
	Anonymous bool    `json:"anonymous,omitempty"` // anyone, without a token
	// Bind: query parameters set from the caller; the client cannot set
	// them.
	Bind []Field `json:"bind,omitempty"`
	// Meta: a command's own declared metadata (see Auth.Meta).
	Meta []Field `json:"meta,omitempty"`
}
