package console

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Identity is a person (or bot) the console knows.
type Identity struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
	// Method says how they signed in: password, token, header, link.
	Method string `json:"method,omitempty"`
}

// ErrBadCredentials is returned by an [Authenticator] for a wrong name,
// password or token. It never says which of them was wrong.
var ErrBadCredentials = errors.New("console: wrong name or password")

// Authenticator checks the credentials typed into the sign-in form (a
// password or a static token). An OIDC sign-in satisfies it by verifying
// the ID token it receives in place of the secret; a directory of users
// may also implement [Directory] so that signed links know an approver's
// groups.
type Authenticator interface {
	Authenticate(ctx context.Context, name, secret string) (Identity, error)
}

// Directory looks a person up by name (their groups, for a signed link).
type Directory interface {
	Lookup(name string) (Identity, bool)
}

// Users is a users file: one person per line,
//
//	name:$2b$10$...bcrypt hash...[:group,group]
//	name:sha256:<hex of the token>[:group,group]
//
// with # comments. A bcrypt hash is a password; "sha256:" is a static
// token (for bots), stored only as its SHA-256.
type Users struct {
	users map[string]userEntry
	// dummy keeps the time of a sign-in for an unknown name close to a
	// known one's.
	dummy []byte
}

type userEntry struct {
	hash   []byte
	token  []byte // sha256 of the token
	groups []string
}

var (
	_ Authenticator = (*Users)(nil)
	_ Directory     = (*Users)(nil)
)

// LoadUsers reads a users file.
func LoadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("console: users file: %w", err)
	}
	defer f.Close()
	return ParseUsers(path, f)
}

// ParseUsers reads a users file from r; name is used in errors.
func ParseUsers(name string, r io.Reader) (*Users, error) {
	u := &Users{users: map[string]userEntry{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, rest, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: want name:hash[:groups], e.g. alice:$2b$10$...:sre (make a hash with 'htpasswd -nbB alice PASSWORD')", name, line)
		}
		if _, dup := u.users[user]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", name, line, user)
		}
		var e userEntry
		if tok, ok := strings.CutPrefix(rest, "sha256:"); ok {
			hexTok, groups, _ := strings.Cut(tok, ":")
			b, err := hex.DecodeString(hexTok)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("%s:%d: the token of %s is not a SHA-256 in hex (64 characters)", name, line, user)
			}
			e.token = b
			e.groups = splitGroups(groups)
		} else {
			// A bcrypt hash contains no ':'.
			hash, groups, _ := strings.Cut(rest, ":")
			if _, err := bcrypt.Cost([]byte(hash)); err != nil {
				return nil, fmt.Errorf("%s:%d: the password hash of %s is not a bcrypt hash ($2a$, $2b$ or $2y$): %v", name, line, user, err)
			}
			e.hash = []byte(hash)
			e.groups = splitGroups(groups)
		}
		u.users[user] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	u.dummy, _ = bcrypt.GenerateFromPassword([]byte(newToken()), bcrypt.DefaultCost)
	return u, nil
}

func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// Authenticate checks a password (bcrypt) or a static token.
func (u *Users) Authenticate(_ context.Context, name, secret string) (Identity, error) {
	e, ok := u.users[name]
	if !ok {
		if u.dummy != nil {
			_ = bcrypt.CompareHashAndPassword(u.dummy, []byte(secret))
		}
		return Identity{}, ErrBadCredentials
	}
	if e.token != nil {
		sum := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(sum[:], e.token) != 1 {
			return Identity{}, ErrBadCredentials
		}
		return Identity{Name: name, Groups: e.groups, Method: "token"}, nil
	}
	if bcrypt.CompareHashAndPassword(e.hash, []byte(secret)) != nil {
		return Identity{}, ErrBadCredentials
	}
	return Identity{Name: name, Groups: e.groups, Method: "password"}, nil
}

// Lookup returns a user's identity.
func (u *Users) Lookup(name string) (Identity, bool) {
	e, ok := u.users[name]
	if !ok {
		return Identity{}, false
	}
	return Identity{Name: name, Groups: e.groups}, true
}

// session is a signed-in browser.
type session struct {
	id      Identity
	csrf    string
	expires time.Time
}

type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *sessions) create(id Identity) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	now := time.Now()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	key := newToken()
	ss := &session{id: id, csrf: newToken(), expires: now.Add(s.ttl)}
	s.m[key] = ss
	return key, ss
}

func (s *sessions) get(key string) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[key]
	if !ok || time.Now().After(ss.expires) {
		delete(s.m, key)
		return nil, false
	}
	return ss, true
}

func (s *sessions) drop(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// limiter allows a few failed sign-ins per key (client address, name) in a
// window, then refuses until the window has passed.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
	now    func() time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}, now: time.Now}
}

// blocked returns how long key must wait, or 0.
func (l *limiter) blocked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	fs := l.fails[key]
	for len(fs) > 0 && now.Sub(fs[0]) > l.window {
		fs = fs[1:]
	}
	l.fails[key] = fs
	if len(fs) >= l.max {
		return l.window - now.Sub(fs[0])
	}
	return 0
}

func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[key] = append(l.fails[key], l.now())
}

// isLoopback reports whether addr (host:port or host) is a loopback
// address.
func isLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func clientHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}
