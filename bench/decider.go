package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"time"
)

// This file is the cart aggregate of contexts/example.cue written by hand:
// the baseline the interpreter is measured against. It follows the CUE file
// rule for rule and the engine step for step (decode, payload check,
// instance and version checks, guards in file order, emits, reducers,
// invariants in file order), and it never changes the state it is given, as
// the engine does not, so a rejected command leaves the current state as it
// was.
//
// Struct fields are declared in alphabetical order of their JSON names so
// that encoding/json writes the same bytes as it does for the engine's maps
// (whose keys it sorts).
//
// Known differences, none of them on the measured path: encoding/json
// matches field names case-insensitively, so {"SKU": ...} is accepted here
// and refused by the JSON Schema; and a payload nested deeper than
// value.DefaultMaxDepth is refused here as "schema" (no scalar field takes
// an object) where the engine says "too_deep".

// Line is one line of a cart.
type Line struct {
	Price float64 `json:"price"`
	Qty   int     `json:"qty"`
}

// CartState is the cart's #state.
type CartState struct {
	Customer string          `json:"customer,omitempty"` // Open refuses ""
	Discount float64         `json:"discount"`
	Items    map[string]Line `json:"items"`
	Status   string          `json:"status"` // new, open, checkedOut or abandoned
	Total    float64         `json:"total"`
}

// InitialCart is the cart's initial state.
func InitialCart() CartState {
	return CartState{Status: "new", Items: map[string]Line{}}
}

// Current is the state a command is decided on; Version 0 means the cart
// does not exist yet.
type Current struct {
	State   CartState
	Version int64
}

// Command is a command envelope, as engine.Envelope.
type Command struct {
	ID              string
	Instance        string
	Command         string
	Payload         []byte
	ExpectedVersion int64 // -1: no check
	Time            time.Time
}

// Event is an event with its envelope, encoded as engine.Event is.
type Event struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Version int64     `json:"version"`
	Time    time.Time `json:"time"`
	Payload any       `json:"payload"`
}

// Decision is what a command did, encoded as engine.Decision is.
type Decision struct {
	Events  []Event   `json:"events"`
	State   CartState `json:"state"`
	Version int64     `json:"version"`
}

// Rejection is a refused command. Kind uses the engine's kind names; Name
// is the guard or invariant.
type Rejection struct {
	Kind    string
	Name    string
	Message string
}

func (r *Rejection) Error() string { return r.Message }

// Event payloads.
type (
	CartOpened struct {
		Customer string `json:"customer"`
	}
	ItemAdded struct {
		Price float64 `json:"price"`
		Qty   int     `json:"qty"`
		SKU   string  `json:"sku"`
	}
	ItemRemoved struct {
		Price float64 `json:"price"`
		Qty   int     `json:"qty"`
		SKU   string  `json:"sku"`
	}
	CouponApplied struct {
		Code    string `json:"code"`
		Percent int    `json:"percent"`
	}
	CouponRejected struct {
		Code string `json:"code"`
	}
	CheckedOut struct {
		Lines int     `json:"lines"`
		Total float64 `json:"total"`
	}
	GiftAdded struct {
		SKU string `json:"sku"`
	}
	CartAbandoned struct{}
)

// Command payloads. Missing and null fields keep their zero value; where
// the zero value passes the checks (RemoveItem's sku) a pointer tells them
// apart. qty is decoded as a number, as JSON Schema's integer accepts 2.0.
type (
	openPayload struct {
		Customer string `json:"customer"`
	}
	addItemPayload struct {
		SKU   string  `json:"sku"`
		Qty   float64 `json:"qty"`
		Price float64 `json:"price"`
	}
	removeItemPayload struct {
		SKU *string `json:"sku"`
	}
	applyCouponPayload struct {
		Code string `json:"code"`
	}
	emptyPayload struct{}
)

var (
	skuPattern  = regexp.MustCompile(`^[A-Z0-9-]{3,20}$`)
	codePattern = regexp.MustCompile(`^[A-Z0-9]{4,12}$`)
)

// MaxPayloadBytes is value.DefaultMaxBytes.
const MaxPayloadBytes = 1 << 20

const giftSKU = "GIFT-BOX"

// Decide handles one command on the current state.
func Decide(cur Current, c Command) (*Decision, error) {
	state := cur.State
	d := &Decision{Version: cur.Version}
	switch c.Command {
	case "Open":
		var p openPayload
		if err := decode(c.Payload, &p); err != nil {
			return nil, err
		}
		if p.Customer == "" {
			return nil, schemaError(c, "/customer: must be a non-empty string")
		}
		if err := admit(cur, c, true); err != nil {
			return nil, err
		}
		state = InitialCart()
		emit(d, c, "CartOpened", CartOpened(p))

	case "AddItem":
		var p addItemPayload
		if err := decode(c.Payload, &p); err != nil {
			return nil, err
		}
		switch {
		case !skuPattern.MatchString(p.SKU):
			return nil, schemaError(c, "/sku: must match ^[A-Z0-9-]{3,20}$")
		case !(p.Qty > 0 && p.Qty <= 100 && p.Qty == math.Trunc(p.Qty)):
			return nil, schemaError(c, "/qty: must be an integer in 1..100")
		case !(p.Price > 0 && p.Price <= 10000):
			return nil, schemaError(c, "/price: must be a number > 0 and <= 10000")
		}
		if err := admit(cur, c, false); err != nil {
			return nil, err
		}
		if state.Status != "open" {
			return nil, guard(c, "cart is not open")
		}
		if l, ok := state.Items[p.SKU]; ok && l.Price != p.Price {
			return nil, guard(c, "price changed for sku")
		}
		emit(d, c, "ItemAdded", ItemAdded{SKU: p.SKU, Qty: int(p.Qty), Price: p.Price})

	case "RemoveItem":
		var p removeItemPayload
		if err := decode(c.Payload, &p); err != nil {
			return nil, err
		}
		if p.SKU == nil {
			return nil, schemaError(c, "/sku: required, a string")
		}
		if err := admit(cur, c, false); err != nil {
			return nil, err
		}
		if state.Status != "open" {
			return nil, guard(c, "cart is not open")
		}
		l, ok := state.Items[*p.SKU]
		if !ok {
			return nil, guard(c, "item not in cart")
		}
		emit(d, c, "ItemRemoved", ItemRemoved{SKU: *p.SKU, Qty: l.Qty, Price: l.Price})

	case "ApplyCoupon":
		var p applyCouponPayload
		if err := decode(c.Payload, &p); err != nil {
			return nil, err
		}
		if !codePattern.MatchString(p.Code) {
			return nil, schemaError(c, "/code: must match ^[A-Z0-9]{4,12}$")
		}
		if err := admit(cur, c, false); err != nil {
			return nil, err
		}
		if state.Status != "open" {
			return nil, guard(c, "cart is not open")
		}
		if state.Discount != 0 {
			return nil, guard(c, "a coupon is already used")
		}
		switch p.Code {
		case "WELCOME10":
			emit(d, c, "CouponApplied", CouponApplied{Code: p.Code, Percent: 10})
		case "VIP25":
			emit(d, c, "CouponApplied", CouponApplied{Code: p.Code, Percent: 25})
		default:
			emit(d, c, "CouponRejected", CouponRejected(p))
		}

	case "CheckOut":
		var p emptyPayload
		if err := decode(c.Payload, &p); err != nil {
			return nil, err
		}
		if err := admit(cur, c, false); err != nil {
			return nil, err
		}
		if state.Status != "open" {
			return nil, guard(c, "cart is not open")
		}
		if len(state.Items) == 0 {
			return nil, guard(c, "cart is empty")
		}
		due := state.Total - state.Discount
		emit(d, c, "CheckedOut", CheckedOut{Total: due, Lines: len(state.Items)})
		if due > 500 {
			emit(d, c, "GiftAdded", GiftAdded{SKU: giftSKU})
		}

	case "Abandon":
		var p emptyPayload
		if err := decode(c.Payload, &p); err != nil {
			return nil, err
		}
		if err := admit(cur, c, false); err != nil {
			return nil, err
		}
		if state.Status != "open" {
			return nil, guard(c, "cart is not open")
		}
		emit(d, c, "CartAbandoned", CartAbandoned{})

	default:
		return nil, &Rejection{Kind: "unknown_command", Message: fmt.Sprintf("aggregate cart has no command %q", c.Command)}
	}

	for _, e := range d.Events {
		state = Apply(state, e.Payload)
	}
	switch {
	case !(state.Total >= 0):
		return nil, invariant(c, "total is never negative")
	case !(state.Discount <= state.Total):
		return nil, invariant(c, "discount never exceeds the total")
	case !(len(state.Items) <= 20):
		return nil, invariant(c, "at most 20 different items")
	}
	d.State = state
	return d, nil
}

// Apply returns the state after an event payload; s is not changed (its
// items map is copied before a change).
func Apply(s CartState, payload any) CartState {
	switch e := payload.(type) {
	case CartOpened:
		s.Status, s.Customer = "open", e.Customer
	case ItemAdded:
		items := make(map[string]Line, len(s.Items)+1)
		for k, v := range s.Items {
			items[k] = v
		}
		items[e.SKU] = Line{Qty: s.Items[e.SKU].Qty + e.Qty, Price: e.Price}
		s.Items = items
		s.Total += float64(e.Qty) * e.Price
	case ItemRemoved:
		items := make(map[string]Line, len(s.Items))
		for k, v := range s.Items {
			if k != e.SKU {
				items[k] = v
			}
		}
		s.Items = items
		s.Total -= float64(e.Qty) * e.Price
	case CouponApplied:
		s.Discount = s.Total * float64(e.Percent) / 100
	case CouponRejected:
	case CheckedOut:
		s.Status = "checkedOut"
	case GiftAdded:
		items := make(map[string]Line, len(s.Items)+1)
		for k, v := range s.Items {
			items[k] = v
		}
		items[e.SKU] = Line{Qty: 1, Price: 0}
		s.Items = items
	case CartAbandoned:
		s.Status = "abandoned"
	default:
		panic(fmt.Sprintf("bench: unknown cart event %T", payload))
	}
	return s
}

// admit checks the instance and the expected version, after the payload as
// the engine does. Open creates the cart; every other command needs it.
func admit(cur Current, c Command, creates bool) error {
	switch {
	case !creates && cur.Version == 0:
		return &Rejection{Kind: "instance_missing", Message: fmt.Sprintf("cart %s does not exist; %s needs an existing instance", c.Instance, c.Command)}
	case creates && cur.Version > 0:
		return &Rejection{Kind: "instance_exists", Message: fmt.Sprintf("cart %s already exists; %s creates a new instance", c.Instance, c.Command)}
	}
	if c.ExpectedVersion != -1 && c.ExpectedVersion != cur.Version {
		return &Rejection{Kind: "version_conflict", Message: fmt.Sprintf("expected version %d, the instance is at %d", c.ExpectedVersion, cur.Version)}
	}
	return nil
}

func emit(d *Decision, c Command, typ string, payload any) {
	d.Version++
	d.Events = append(d.Events, Event{
		ID:      c.ID + "-" + strconv.Itoa(len(d.Events)+1),
		Type:    typ,
		Version: d.Version,
		Time:    c.Time.UTC(),
		Payload: payload,
	})
}

// decode reads a payload into v with the engine's rules: no payload is {},
// null and non-objects fail the schema, unknown fields are refused,
// malformed JSON and data after the value are invalid JSON.
func decode(raw []byte, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if len(raw) > MaxPayloadBytes {
		return &Rejection{Kind: "too_large", Message: fmt.Sprintf("payload too large: %d bytes, the limit is %d", len(raw), MaxPayloadBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &Rejection{Kind: "invalid_json", Message: err.Error()}
		}
		return &Rejection{Kind: "schema", Message: "payload does not fit its schema: " + err.Error()}
	}
	if len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		return &Rejection{Kind: "invalid_json", Message: "data after the JSON value"}
	}
	if bytes.TrimSpace(raw)[0] == 'n' { // null decodes into a struct as a no-op
		return &Rejection{Kind: "schema", Message: "payload does not fit its schema: null is not an object"}
	}
	return nil
}

func schemaError(c Command, msg string) error {
	return &Rejection{Kind: "schema", Message: fmt.Sprintf("payload of %s does not fit its schema: %s", c.Command, msg)}
}

func guard(c Command, name string) error {
	return &Rejection{Kind: "guard", Name: name, Message: fmt.Sprintf("%s rejected: %s", c.Command, name)}
}

func invariant(c Command, name string) error {
	return &Rejection{Kind: "invariant", Name: name, Message: fmt.Sprintf("%s would break the invariant: %s", c.Command, name)}
}
