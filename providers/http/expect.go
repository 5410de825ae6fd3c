package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Op is the kind of an [Expectation].
type Op string

// Expectation kinds. In HCL they are the keys of a `match` entry:
// match = { "uptime" = { gt = 0 }, "version" = { regex = "^0\\.3\\." } }.
const (
	// OpEquals: the value at the path equals Value (deep JSON equality;
	// numbers compare by value, 1 == 1.0).
	OpEquals Op = "equals"
	// OpNotEquals: the value at the path is missing or differs from Value.
	OpNotEquals Op = "not_equals"
	// OpExists: the path exists (Value true) or does not (Value false).
	OpExists Op = "exists"
	// OpOneOf: the value equals one element of Value (a list).
	OpOneOf Op = "one_of"
	// OpRegex: the value is a string matching the regular expression Value
	// (RE2 syntax, unanchored).
	OpRegex Op = "regex"
	// OpContains: a string contains the substring Value, a list contains
	// an element equal to Value, or an object has the key Value.
	OpContains Op = "contains"
	// OpLength: a string, list or object has exactly Value elements.
	OpLength Op = "length"
	// OpGT, OpGTE, OpLT, OpLTE compare a number with Value.
	OpGT  Op = "gt"
	OpGTE Op = "gte"
	OpLT  Op = "lt"
	OpLTE Op = "lte"
)

var ops = map[Op]bool{OpEquals: true, OpNotEquals: true, OpExists: true, OpOneOf: true, OpRegex: true,
	OpContains: true, OpLength: true, OpGT: true, OpGTE: true, OpLT: true, OpLTE: true}

// Expectation is a condition on the JSON body of a response, at a path.
//
// Paths are dot-separated keys with optional indexes: "status",
// "data.0.id", "data[0].id", `items["key.with.dots"]`. The empty path and
// "$" name the whole body.
type Expectation struct {
	Path  string
	Op    Op
	Value any
}

// Equal expects the value at path to equal v.
func Equal(path string, v any) Expectation { return Expectation{Path: path, Op: OpEquals, Value: v} }

// NotEqual expects the value at path to be missing or to differ from v.
func NotEqual(path string, v any) Expectation {
	return Expectation{Path: path, Op: OpNotEquals, Value: v}
}

// Exists expects path to exist.
func Exists(path string) Expectation { return Expectation{Path: path, Op: OpExists, Value: true} }

// Absent expects path not to exist.
func Absent(path string) Expectation { return Expectation{Path: path, Op: OpExists, Value: false} }

// OneOf expects the value at path to equal one of vs.
func OneOf(path string, vs ...any) Expectation {
	return Expectation{Path: path, Op: OpOneOf, Value: vs}
}

// Matches expects the value at path to be a string matching the RE2
// expression re.
func Matches(path, re string) Expectation { return Expectation{Path: path, Op: OpRegex, Value: re} }

// Contains expects the value at path to contain v (substring, list
// element or object key).
func Contains(path string, v any) Expectation {
	return Expectation{Path: path, Op: OpContains, Value: v}
}

// Length expects the string, list or object at path to have n elements.
func Length(path string, n int) Expectation { return Expectation{Path: path, Op: OpLength, Value: n} }

// Compare expects the number at path to compare with n by op (OpGT, OpGTE,
// OpLT or OpLTE).
func Compare(path string, op Op, n float64) Expectation {
	return Expectation{Path: path, Op: op, Value: n}
}

// expectation is a validated Expectation.
type expectation struct {
	path  string
	steps []pathStep
	op    Op
	want  any // normalized: JSON values with json.Number
	re    *regexp.Regexp
	num   *big.Rat
}

func compile(e Expectation) (expectation, error) {
	c := expectation{path: e.Path, op: e.Op}
	if !ops[e.Op] {
		return c, fmt.Errorf("expectation on %q: unknown kind %q (want one of %s)", e.Path, e.Op, opNames())
	}
	steps, err := parsePath(e.Path)
	if err != nil {
		return c, err
	}
	c.steps = steps
	want, err := normalize(e.Value)
	if err != nil {
		return c, fmt.Errorf("expectation %s on %q: %w", e.Op, e.Path, err)
	}
	c.want = want
	switch e.Op {
	case OpExists:
		if _, ok := want.(bool); !ok {
			return c, fmt.Errorf("expectation exists on %q: want true or false, got %s", e.Path, render(want))
		}
	case OpOneOf:
		if _, ok := want.([]any); !ok {
			return c, fmt.Errorf("expectation one_of on %q: want a list of values, got %s", e.Path, render(want))
		}
	case OpRegex:
		s, ok := want.(string)
		if !ok {
			return c, fmt.Errorf("expectation regex on %q: want a string, got %s", e.Path, render(want))
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return c, fmt.Errorf("expectation regex on %q: %w", e.Path, err)
		}
		c.re = re
	case OpLength, OpGT, OpGTE, OpLT, OpLTE:
		n, ok := want.(json.Number)
		if !ok {
			return c, fmt.Errorf("expectation %s on %q: want a number, got %s", e.Op, e.Path, render(want))
		}
		r, ok := new(big.Rat).SetString(string(n))
		if !ok {
			return c, fmt.Errorf("expectation %s on %q: bad number %s", e.Op, e.Path, n)
		}
		c.num = r
	}
	return c, nil
}

func opNames() string {
	names := make([]string, 0, len(ops))
	for o := range ops {
		names = append(names, string(o))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// check returns "" when the expectation holds on body, else a message that
// names the path, what was expected and what was found.
func (c expectation) check(body any) string {
	got, found := lookup(body, c.steps)
	p := c.path
	if p == "" {
		p = "$"
	}
	missing := func(want string) string { return fmt.Sprintf("%s: want %s, got nothing (no such path)", p, want) }
	switch c.op {
	case OpEquals:
		if !found {
			return missing(render(c.want))
		}
		if !jsonEqual(got, c.want) {
			return fmt.Sprintf("%s: want %s, got %s", p, render(c.want), render(got))
		}
	case OpNotEquals:
		if found && jsonEqual(got, c.want) {
			return fmt.Sprintf("%s: want anything but %s, got it", p, render(c.want))
		}
	case OpExists:
		if c.want.(bool) && !found {
			return fmt.Sprintf("%s: want it to exist, it does not", p)
		}
		if !c.want.(bool) && found {
			return fmt.Sprintf("%s: want it absent, got %s", p, render(got))
		}
	case OpOneOf:
		want := "one of " + render(c.want)
		if !found {
			return missing(want)
		}
		for _, w := range c.want.([]any) {
			if jsonEqual(got, w) {
				return ""
			}
		}
		return fmt.Sprintf("%s: want %s, got %s", p, want, render(got))
	case OpRegex:
		want := fmt.Sprintf("a string matching /%s/", c.re)
		if !found {
			return missing(want)
		}
		s, ok := got.(string)
		if !ok || !c.re.MatchString(s) {
			return fmt.Sprintf("%s: want %s, got %s", p, want, render(got))
		}
	case OpContains:
		want := "something containing " + render(c.want)
		if !found {
			return missing(want)
		}
		if !contains(got, c.want) {
			return fmt.Sprintf("%s: want %s, got %s", p, want, render(got))
		}
	case OpLength:
		want := fmt.Sprintf("length %s", c.num.RatString())
		if !found {
			return missing(want)
		}
		n, ok := length(got)
		if !ok {
			return fmt.Sprintf("%s: want %s, got %s (no length)", p, want, render(got))
		}
		if big.NewRat(int64(n), 1).Cmp(c.num) != 0 {
			return fmt.Sprintf("%s: want %s, got length %d", p, want, n)
		}
	case OpGT, OpGTE, OpLT, OpLTE:
		sym := map[Op]string{OpGT: ">", OpGTE: ">=", OpLT: "<", OpLTE: "<="}[c.op]
		want := fmt.Sprintf("a number %s %s", sym, ratString(c.num))
		if !found {
			return missing(want)
		}
		n, ok := got.(json.Number)
		r, ok2 := new(big.Rat), false
		if ok {
			_, ok2 = r.SetString(string(n))
		}
		if !ok2 {
			return fmt.Sprintf("%s: want %s, got %s (not a number)", p, want, render(got))
		}
		cmp := r.Cmp(c.num)
		holds := map[Op]bool{OpGT: cmp > 0, OpGTE: cmp >= 0, OpLT: cmp < 0, OpLTE: cmp <= 0}[c.op]
		if !holds {
			return fmt.Sprintf("%s: want %s, got %s", p, want, n)
		}
	}
	return ""
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.RatString()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func contains(got, want any) bool {
	switch g := got.(type) {
	case string:
		w, ok := want.(string)
		return ok && strings.Contains(g, w)
	case []any:
		for _, e := range g {
			if jsonEqual(e, want) {
				return true
			}
		}
	case map[string]any:
		w, ok := want.(string)
		if ok {
			_, has := g[w]
			return has
		}
	}
	return false
}

func length(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return len([]rune(x)), true
	case []any:
		return len(x), true
	case map[string]any:
		return len(x), true
	}
	return 0, false
}

// normalize turns any Go value into the form a JSON decoder with UseNumber
// produces, so that expected and actual values compare alike.
func normalize(v any) (any, error) {
	switch v.(type) {
	case nil, string, bool, json.Number:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("value is not JSON-compatible: %w", err)
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return out, nil
}

// jsonEqual compares normalized JSON values; numbers compare by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// render shows a value in a failure message: JSON, shortened.
func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// pathStep is one key or index of a path.
type pathStep struct {
	key   string
	index int
	isIdx bool
}

// parsePath parses "a.b[0].c", "a.b.0.c", `a["x.y"]`; "" and "$" are the
// root.
func parsePath(p string) ([]pathStep, error) {
	s := strings.TrimPrefix(p, "$")
	s = strings.TrimPrefix(s, ".")
	var out []pathStep
	bad := func(why string) error { return fmt.Errorf("path %q: %s", p, why) }
	for s != "" {
		switch {
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, bad("unclosed [")
			}
			inner := s[1:end]
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				out = append(out, pathStep{key: inner[1 : len(inner)-1]})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, bad(fmt.Sprintf("[%s] is neither an index nor a quoted key", inner))
				}
				out = append(out, pathStep{index: n, isIdx: true})
			}
			s = s[end+1:]
			s = strings.TrimPrefix(s, ".")
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			seg := s[:end]
			if seg == "" {
				return nil, bad("empty key")
			}
			if n, err := strconv.Atoi(seg); err == nil && n >= 0 {
				out = append(out, pathStep{key: seg, index: n, isIdx: true})
			} else {
				out = append(out, pathStep{key: seg})
			}
			s = s[end:]
			if strings.HasPrefix(s, ".") {
				s = s[1:]
				if s == "" {
					return nil, bad("ends with a dot")
				}
			}
		}
	}
	return out, nil
}

// lookup follows steps into v. A numeric step indexes a list, or is a key
// of an object.
func lookup(v any, steps []pathStep) (any, bool) {
	for _, st := range steps {
		switch x := v.(type) {
		case map[string]any:
			key := st.key
			if st.isIdx && key == "" {
				key = strconv.Itoa(st.index)
			}
			e, ok := x[key]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			if !st.isIdx || st.index >= len(x) {
				return nil, false
			}
			v = x[st.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// plain converts normalized JSON (json.Number) to outputs-friendly values:
// int64 for integers that fit, float64 otherwise.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	}
	return v
}
