package mdimport

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// variable is one generated input of the runbook.
type variable struct {
	name, value, desc string
	sensitive         bool
	line              int
	kind              string
}

// varTable collects the literals that become variables.
type varTable struct {
	byKey  map[string]*variable // kind + "\x00" + value
	byName map[string]*variable
	order  []*variable
}

func newVarTable() *varTable {
	return &varTable{byKey: map[string]*variable{}, byName: map[string]*variable{}}
}

// get returns the variable of a literal, creating it under name (made
// unique) on first sight.
func (t *varTable) get(kind, value, name, desc string, sensitive bool, line int) *variable {
	key := kind + "\x00" + value
	if sensitive {
		key = kind + "\x00" + name // one variable per secret's name
	}
	if v, ok := t.byKey[key]; ok {
		return v
	}
	base := name
	for i := 2; t.byName[name] != nil; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	v := &variable{name: name, value: value, desc: desc, sensitive: sensitive, line: line, kind: kind}
	if sensitive {
		v.value = ""
	}
	t.byKey[key] = v
	t.byName[name] = v
	t.order = append(t.order, v)
	return v
}

// A literal match inside a string.
type litMatch struct {
	start, end int
	prio       int
	v          func() *variable
}

var (
	secretKV      = lazyre.New(`(?i)\b(password|passwd|pwd|token|secret|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|secret[_-]?access[_-]?key|private[_-]?key|client[_-]?secret|auth)(\\?["']?\s*[:=]\s*\\?["']?)([^\s"'\\,;&}]+)`)
	authHeader    = lazyre.New(`(?i)\b(authorization:\s*(?:bearer|oauth|basic|token|apikey)\s+)([^\s"']+)`)
	urlPassword   = lazyre.New(`://[^/\s:@'"]+:([^@/\s'"]+)@`)
	placeholder   = lazyre.New(`\[([A-Z][A-Z0-9_ -]*[A-Z0-9])\]|<([A-Z][A-Z0-9_-]*[A-Z0-9])>`)
	secretName    = lazyre.New(`(?i)token|passw|secret|api[_-]?key|credential|private|redacted|auth`)
	arnRE         = lazyre.New(`arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[A-Za-z0-9/_.:+=@,-]+[A-Za-z0-9]`)
	s3RE          = lazyre.New(`s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])`)
	urlRE         = lazyre.New(`https?://[A-Za-z0-9.-]+(?::[0-9]+)?`)
	versionRE     = lazyre.New(`[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)?`)
	awsKeyID      = lazyre.New(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`)
	shellVarValue = lazyre.New(`^\$`)
	hasAlnum      = lazyre.New(`[A-Za-z0-9]`)
)

// subst returns s as the content of an HCL template: `${` and `%{`
// escaped, literals replaced by variable references. rollback says the
// text comes from a rollback procedure (a version seen there first is
// the previous one).
func (t *varTable) subst(s string, line int, hosts map[string]*variable, rollback bool) string {
	ms := t.find(s, line, hosts, rollback)
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(escapeTemplate(s[last:m.start]))
		b.WriteString("${var.")
		b.WriteString(m.v().name)
		b.WriteString("}")
		last = m.end
	}
	b.WriteString(escapeTemplate(s[last:]))
	return b.String()
}

// scrub replaces secrets in text meant for comments and messages.
func scrub(s string) string {
	var ms []litMatch
	for _, m := range secretKV.FindAllStringSubmatchIndex(s, -1) {
		if v := s[m[6]:m[7]]; !shellVarValue.MatchString(v) && hasAlnum.MatchString(v) {
			ms = append(ms, litMatch{start: m[6], end: m[7]})
		}
	}
	for _, m := range authHeader.FindAllStringSubmatchIndex(s, -1) {
		ms = append(ms, litMatch{start: m[4], end: m[5]})
	}
	for _, m := range urlPassword.FindAllStringSubmatchIndex(s, -1) {
		ms = append(ms, litMatch{start: m[2], end: m[3]})
	}
	for _, m := range awsKeyID.FindAllStringIndex(s, -1) {
		ms = append(ms, litMatch{start: m[0], end: m[1]})
	}
	ms = nonOverlapping(ms)
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.start])
		b.WriteString("(sensitive)")
		last = m.end
	}
	b.WriteString(s[last:])
	return b.String()
}

func (t *varTable) find(s string, line int, hosts map[string]*variable, rollback bool) []litMatch {
	var ms []litMatch
	add := func(start, end, prio int, v func() *variable) {
		ms = append(ms, litMatch{start: start, end: end, prio: prio, v: v})
	}
	// Secrets first: they win over every other reading of the text.
	for _, m := range secretKV.FindAllStringSubmatchIndex(s, -1) {
		val := s[m[6]:m[7]]
		if shellVarValue.MatchString(val) || strings.HasPrefix(val, "${") || !hasAlnum.MatchString(val) {
			continue
		}
		key := slug(s[m[2]:m[3]])
		if key == "pwd" || key == "passwd" {
			key = "password"
		}
		if key == "auth" {
			key = "auth_token"
		}
		add(m[6], m[7], 0, func() *variable {
			return t.get("secret", "", key, "Secret found in the document as "+redactedHint(val)+".", true, line)
		})
	}
	for _, m := range authHeader.FindAllStringSubmatchIndex(s, -1) {
		val := s[m[4]:m[5]]
		if shellVarValue.MatchString(val) {
			continue
		}
		name := "token"
		if pm := placeholder.FindStringSubmatch(val); pm != nil {
			name = slug(pm[1] + pm[2])
		}
		add(m[4], m[5], 0, func() *variable {
			return t.get("secret", "", name, "Secret found in the document as "+redactedHint(val)+".", true, line)
		})
	}
	for _, m := range urlPassword.FindAllStringSubmatchIndex(s, -1) {
		add(m[2], m[3], 0, func() *variable {
			return t.get("secret", "", "password", "Password found in a URL of the document.", true, line)
		})
	}
	for _, m := range awsKeyID.FindAllStringIndex(s, -1) {
		add(m[0], m[1], 0, func() *variable {
			return t.get("secret", "", "aws_access_key_id", "AWS access key found in the document.", true, line)
		})
	}
	for _, m := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		name := ""
		if m[2] >= 0 {
			name = s[m[2]:m[3]]
		} else {
			name = s[m[4]:m[5]]
		}
		if !secretName.MatchString(name) {
			continue // a placeholder for a plain value stays as written
		}
		n := slug(name)
		if n == "redacted" {
			n = "secret"
		}
		text := s[m[0]:m[1]]
		add(m[0], m[1], 1, func() *variable {
			return t.get("secret", "", n, "Secret left as "+text+" in the document.", true, line)
		})
	}
	for _, m := range arnRE.FindAllStringIndex(s, -1) {
		arn := s[m[0]:m[1]]
		add(m[0], m[1], 2, func() *variable {
			return t.get("arn", arn, arnName(arn), "ARN found in the document.", false, line)
		})
	}
	for _, m := range s3RE.FindAllStringSubmatchIndex(s, -1) {
		b := s[m[2]:m[3]]
		add(m[2], m[3], 3, func() *variable {
			return t.get("bucket", b, slug(b)+"_bucket", "S3 bucket found in the document.", false, line)
		})
	}
	for _, m := range urlRE.FindAllStringIndex(s, -1) {
		origin := s[m[0]:m[1]]
		if isLocal(origin) {
			continue
		}
		add(m[0], m[1], 4, func() *variable { return t.url(origin, line) })
	}
	for _, m := range versionRE.FindAllStringIndex(s, -1) {
		if m[0] > 0 && versionBoundary(s[m[0]-1]) && !vPrefix(s, m[0]) || m[1] < len(s) && s[m[1]] != '.' && versionBoundary(s[m[1]]) ||
			m[1]+1 < len(s) && s[m[1]] == '.' && !(s[m[1]+1] >= 'a' && s[m[1]+1] <= 'z') {
			continue
		}
		v := s[m[0]:m[1]]
		add(m[0], m[1], 5, func() *variable {
			name := "version"
			if t.byName["version"] != nil && t.byKey["version\x00"+v] == nil {
				if rollback && t.byName["previous_version"] == nil {
					name = "previous_version"
				} else {
					name = "version_" + strings.ReplaceAll(strings.TrimPrefix(v, "v"), ".", "_")
					name = nonIdent.ReplaceAllString(name, "_")
				}
			}
			return t.get("version", v, name, "Version found in the document.", false, line)
		})
	}
	for host, hv := range hosts {
		v := hv
		for i := 0; ; {
			j := strings.Index(s[i:], host)
			if j < 0 {
				break
			}
			st, en := i+j, i+j+len(host)
			if (st == 0 || !hostChar(s[st-1])) && (en == len(s) || !hostChar(s[en]) || s[en] == '.' && (en+1 == len(s) || !hostChar(s[en+1]))) {
				add(st, en, 6, func() *variable { return v })
			}
			i = en
		}
	}
	return nonOverlapping(ms)
}

func hostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '@' && false
}

// url returns the variable of a URL's origin.
func (t *varTable) url(origin string, line int) *variable {
	u, err := url.Parse(origin)
	name := "url"
	if err == nil {
		name = slug(u.Hostname()) + "_url"
	}
	return t.get("url", origin, name, "Base URL found in the document.", false, line)
}

func isLocal(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return true
	}
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "0.0.0.0" || h == "::1"
}

func nonOverlapping(ms []litMatch) []litMatch {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].prio != ms[j].prio {
			return ms[i].prio < ms[j].prio
		}
		return ms[i].start < ms[j].start
	})
	var out []litMatch
	for _, m := range ms {
		ok := true
		for _, o := range out {
			if m.start < o.end && o.start < m.end {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

func arnName(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "arn"
	}
	res := strings.FieldsFunc(parts[5], func(r rune) bool { return r == '/' || r == ':' })
	name := parts[2]
	if len(res) >= 2 {
		name = res[0] + "_" + res[1]
	} else if len(res) == 1 {
		name = res[0]
	}
	return slug(name) + "_arn"
}

func redactedHint(v string) string {
	if placeholder.MatchString(v) {
		return v
	}
	return "a literal value (not copied)"
}

// escapeTemplate escapes the template sequences of HCL.
func escapeTemplate(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// versionBoundary reports a character that cannot touch a version: the
// number would be part of an IP address, a longer word or another number.
func versionBoundary(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '.'
}

// vPrefix reports a "v" before position i that starts a word ("v2.4.0").
func vPrefix(s string, i int) bool {
	return (s[i-1] == 'v' || s[i-1] == 'V') && (i == 1 || !versionBoundary(s[i-2]) || s[i-2] == '.')
}
