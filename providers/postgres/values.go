package postgres

import (
	"bytes"
	"database/sql/driver"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/zclconf/go-cty/cty"
)

// jsonValue turns a value pgx decoded into a JSON-compatible one: integers
// become int64, floats float64, times RFC 3339 strings, UUIDs their text,
// bytea text when it is UTF-8 (base64 otherwise), json/jsonb values their
// decoded form.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return x
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case [16]byte:
		return pgtype.UUID{Bytes: x, Valid: true}.String()
	case netip.Prefix:
		return x.String()
	case netip.Addr:
		return x.String()
	case pgtype.Numeric:
		return numericValue(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case driver.Valuer:
		// pgtype values (intervals, dates with infinity...) give their text.
		if dv, err := x.Value(); err == nil {
			if _, again := dv.(driver.Valuer); !again {
				return jsonValue(dv)
			}
		}
	case fmt.Stringer:
		return x.String()
	}
	// Anything else (intervals, ranges, arrays of other types): through its
	// JSON form.
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return string(b)
	}
	return fromJSONNumbers(out)
}

func fromJSONNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSONNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fromJSONNumbers(e)
		}
		return x
	}
	return v
}

func numericValue(n pgtype.Numeric) any {
	if !n.Valid {
		return nil
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite {
		f, _ := n.Float64Value()
		return fmt.Sprint(f.Float64)
	}
	if n.Exp >= 0 {
		i := new(big.Int).Mul(n.Int, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil))
		if i.IsInt64() {
			return i.Int64()
		}
	}
	f, err := n.Float64Value()
	if err != nil {
		return nil
	}
	return f.Float64
}

// goValue converts a cty argument (a query parameter) to a Go value pgx can
// encode.
func goValue(v cty.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("value is not known yet")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i, nil
			}
		}
		f, _ := bf.Float64()
		return f, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		var out []any
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := goValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s cannot be a query parameter: give a string, number, bool or list", t.FriendlyName())
}

// textOf renders a result value for comparisons and messages.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// sameValue reports whether a result value matches an expected text: the
// same text, or the same number ("014" matches 14).
func sameValue(got any, want string) bool {
	g := textOf(got)
	if g == want {
		return true
	}
	gf, ok1 := new(big.Float).SetString(g)
	wf, ok2 := new(big.Float).SetString(want)
	return ok1 && ok2 && gf.Cmp(wf) == 0
}
