package rows

import (
	"fmt"
	"math"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

// Change is one column value, checked and in the form a reload from the
// table would give.
type Change struct {
	Col interpreter.Column
	Val any    // int, float64, string, decoded JSON or nil
	Enc string // JSON columns: the stored text
}

// Coerce checks v against the column's type and returns it as the table
// will give it back: INTEGER takes integral numbers, REAL numbers, TEXT
// strings, JSON anything (normalised by an encode/decode round trip); null
// fits every column.
func Coerce(col interpreter.Column, v any) (Change, error) {
	c := Change{Col: col}
	if v == nil {
		return c, nil
	}
	switch col.Type {
	case "INTEGER":
		switch x := v.(type) {
		case int:
			c.Val = x
			return c, nil
		case float64:
			if n, ok := integral(x); ok {
				c.Val = n
				return c, nil
			}
		}
	case "REAL":
		switch x := v.(type) {
		case int:
			c.Val = float64(x)
			return c, nil
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				c.Val = x
				return c, nil
			}
			return c, fmt.Errorf("REAL takes finite numbers, not %v", x)
		}
	case "TEXT":
		if s, ok := v.(string); ok {
			c.Val = s
			return c, nil
		}
	case "JSON":
		b, err := value.Encode(v)
		if err != nil {
			return c, fmt.Errorf("cannot be stored as JSON: %v", err)
		}
		c.Enc = string(b)
		if c.Val, err = value.DecodeStored(b); err != nil {
			return c, fmt.Errorf("cannot be stored as JSON: %v", err)
		}
		return c, nil
	default:
		return c, fmt.Errorf("unknown column type %s", col.Type)
	}
	return c, fmt.Errorf("%s does not take %s", col.Type, describe(v))
}

// integral is x as an int if it is a whole number an INTEGER column holds.
func integral(x float64) (int, bool) {
	if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
		return int(x), true
	}
	return 0, false
}

// describe names a value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", trim(x))
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int, float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// FromSQL converts a stored column value to what expressions see, and for
// a JSON column also returns its stored text. v is what database/sql
// scans (int64, float64, string, []byte, nil) or what value.Decode gives
// for a row that came as JSON (D1: int, float64, string, nil): both give
// the same result, INTEGER as int (JSON text may spell a whole number as a
// fraction or with an exponent) and REAL as float64 (JSON text may spell
// 2.0 as 2).
func FromSQL(c interpreter.Column, v any) (any, string, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, "", nil
	}
	switch c.Type {
	case "INTEGER":
		switch x := v.(type) {
		case int64:
			return int(x), "", nil
		case int:
			return x, "", nil
		case float64:
			if n, ok := integral(x); ok {
				return n, "", nil
			}
			return x, "", nil
		}
	case "REAL":
		switch x := v.(type) {
		case int64:
			return float64(x), "", nil
		case int:
			return float64(x), "", nil
		case float64:
			return x, "", nil
		}
	case "JSON":
		if s, ok := v.(string); ok {
			d, err := value.DecodeStored([]byte(s))
			if err != nil {
				return nil, "", fmt.Errorf("column %s: stored JSON: %w", c.Name, err)
			}
			return d, s, nil
		}
	}
	return v, "", nil
}

// Value is what an upsert binds for column c of r: nil for NULL, an int64
// for INTEGER, the stored text for JSON, else the value itself.
func Value(c interpreter.Column, r *Row) any {
	v := r.Vals[c.Name]
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		if c.Type == "INTEGER" {
			return int64(x)
		}
	}
	if c.Type == "JSON" {
		return r.Enc[c.Name]
	}
	return v
}
