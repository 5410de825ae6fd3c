package mdimport

import (
	"fmt"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

var (
	explicitID  = lazyre.New("\\(\\s*`([A-Za-z_][A-Za-z0-9_]*)`\\s*\\)\\s*$")
	stepPrefix  = lazyre.New(`(?i)^\s*(?:(?:step|phase|stage|part)\s*\d+(?:\.\d+)*\s*[.):-]?|\d+(?:\.\d+)*\s*[.):-])\s*[:.-]?\s*`)
	parenthesis = lazyre.New(`\s*\([^()]*\)\s*$`)
	nonIdent    = lazyre.New(`[^a-z0-9]+`)
	titleMarkup = strings.NewReplacer("`", "", "*", "", "_", " ")
)

// splitID returns title without a trailing "(`id`)" and the id.
func splitID(title string) (string, string) {
	if m := explicitID.FindStringSubmatchIndex(title); m != nil {
		return strings.TrimSpace(title[:m[0]]), title[m[2]:m[3]]
	}
	return title, ""
}

// cleanTitle removes numbering, a trailing parenthesis ("(T-0:20, 20
// minutes)"), markup and code quotes.
func cleanTitle(t string) string {
	t, _ = splitID(t)
	t = stepPrefix.ReplaceAllString(t, "")
	for i := 0; i < 2; i++ {
		if s := parenthesis.ReplaceAllString(t, ""); s != "" {
			t = s
		}
	}
	t = titleMarkup.Replace(t)
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t), ":."))
}

// slug turns text into an identifier of at most a few words.
func slug(text string) string {
	s := nonIdent.ReplaceAllString(strings.ToLower(text), "_")
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '_' })
	if len(parts) > 6 {
		parts = parts[:6]
	}
	s = strings.Join(parts, "_")
	if len(s) > 48 {
		s = strings.TrimRight(s[:48], "_")
	}
	if s == "" {
		return ""
	}
	if s[0] >= '0' && s[0] <= '9' {
		s = "n" + s
	}
	return s
}

// names hands out unique identifiers.
type names map[string]bool

func (n names) unique(base, fallback string) string {
	if base == "" {
		base = fallback
	}
	name := base
	for i := 2; n[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	n[name] = true
	return name
}

var durationRE = lazyre.New(`(?i)(\d+(?:\.\d+)?)\s*-?\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b`)

// parseDuration reads "15 min", "4-hour", "1.5 hours", "45m" or a Go
// duration ("1h30m0s").
func parseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, true
	}
	m := durationRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	var f float64
	if _, err := fmt.Sscanf(m[1], "%g", &f); err != nil || f <= 0 || f > 1e6 {
		return 0, false
	}
	unit := time.Minute
	switch strings.ToLower(m[2])[0] {
	case 'h':
		unit = time.Hour
	case 's':
		unit = time.Second
	}
	return time.Duration(f * float64(unit)).Round(time.Second), true
}

// formatDuration writes d as HCL durations read best ("4h", "2m30s").
func formatDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var stopWords = map[string]bool{
	"the": true, "a": true, "an": true, "to": true, "of": true, "and": true, "or": true, "in": true,
	"on": true, "for": true, "with": true, "is": true, "be": true, "if": true, "sudo": true, "run": true,
	"f": true, "d": true, "all": true, "from": true, "at": true, "by": true, "it": true, "this": true,
	"that": true, "new": true, "current": true, "previous": true, "step": true, "phase": true,
	"yml": true, "yaml": true, "sh": true, "cd": true, "bash": true, "etc": true, "opt": true, "usr": true, "var": true,
	"com": true, "http": true, "https": true, "api": true, "v1": true, "production": true, "prod": true,
}

// tokens returns the normalised words of s used to compare texts.
func tokens(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range nonIdent.Split(strings.ToLower(s), -1) {
		if len(w) < 2 || stopWords[w] || w[0] >= '0' && w[0] <= '9' {
			continue
		}
		out[stem(w)] = true
	}
	return out
}

func stem(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
			return strings.TrimSuffix(w, suf)
		}
	}
	return w
}

// jaccard is |a∩b| / |a∪b|.
func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	in := 0
	for k := range a {
		if b[k] {
			in++
		}
	}
	return float64(in) / float64(len(a)+len(b)-in)
}

// overlap is |a∩b| / min(|a|,|b|).
func overlap(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	in := 0
	for k := range a {
		if b[k] {
			in++
		}
	}
	m := len(a)
	if len(b) < m {
		m = len(b)
	}
	return float64(in) / float64(m)
}
