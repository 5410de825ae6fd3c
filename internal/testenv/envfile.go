package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ParseEnvFile parses the services.env file that scripts/test-services
// writes: one `export KEY=value` (or `KEY=value`) assignment a line, blank
// lines and `#` comments ignored. Values may be bare words or built from
// single-quoted, double-quoted and backslash-escaped parts as in a POSIX
// shell, so that
//
//	export K='it'\''s'
//
// gives "it's". `$` is taken literally, never expanded. A later assignment of
// a key replaces an earlier one.
func ParseEnvFile(r io.Reader) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimLeft(rest, " \t")
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY=value, got %q", n, line)
		}
		if !validKey(key) {
			return nil, fmt.Errorf("line %d: invalid variable name %q", n, key)
		}
		val, err := unquote(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n, key, err)
		}
		out[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return out, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// errUnterminated is returned by unquote for a quote that is never closed.
var errUnterminated = errors.New("unterminated quote")

// unquote evaluates one shell word: the value up to the first unquoted blank,
// after which only a comment may follow.
func unquote(s string) (string, error) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch c {
		case ' ', '\t':
			rest := strings.TrimLeft(s[i:], " \t")
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return "", fmt.Errorf("unexpected text after value: %q", rest)
			}
			return b.String(), nil
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", errUnterminated
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case '"':
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '"' {
					closed = true
					i++
					break
				}
				if c == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return "", errUnterminated
			}
		case '\\':
			if i+1 < len(s) {
				b.WriteByte(s[i+1])
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// StateDir returns the directory where scripts/test-services keeps its
// state: $HANDRAIL_TEST_DIR, or DefaultStateDir.
func StateDir() string {
	if d := os.Getenv(EnvStateDir); d != "" {
		return d
	}
	return DefaultStateDir
}

// EnvFile returns the path of the services.env file that
// scripts/test-services start writes.
func EnvFile() string { return filepath.Join(StateDir(), "services.env") }

// errNotSet is returned by Lookup for a key found nowhere.
var errNotSet = errors.New("not set")

// Lookup returns the value of key from the environment or, when it is unset
// or empty there, from EnvFile. It fails when the key is found in neither,
// or when the env file exists but cannot be read or parsed.
func Lookup(key string) (string, error) {
	if v := os.Getenv(key); v != "" {
		return v, nil
	}
	path := EnvFile()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s %w in the environment, and %s does not exist", key, errNotSet, path)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	defer f.Close()
	vars, err := ParseEnvFile(f)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	if v := vars[key]; v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s %w in the environment nor in %s", key, errNotSet, path)
}
