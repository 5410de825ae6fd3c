package ssh

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Defaults of [Config].
const (
	DefaultPort           = 22
	DefaultKeepAlive      = 15 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	// killGrace bounds the work of killing a timed-out remote command.
	killGrace = 5 * time.Second
)

// Config configures an [Instance]: one `provider "ssh" "name"` block.
type Config struct {
	// Host is the default host (name or address) of the instance's steps.
	// Steps with `hosts` fan out over other hosts with the same settings.
	Host string
	// Port defaults to 22.
	Port int
	// User defaults to $USER.
	User string
	// PrivateKeyFiles are private keys to authenticate with.
	PrivateKeyFiles []string
	// Passphrase decrypts encrypted private keys. Sensitive.
	Passphrase string
	// UseAgent authenticates with the keys of the agent at $SSH_AUTH_SOCK.
	UseAgent bool
	// KnownHostsFiles hold the accepted host keys (default
	// ~/.ssh/known_hosts).
	KnownHostsFiles []string
	// TrustOnFirstUse accepts and records (in the first known_hosts file)
	// the key of a host that has no entry yet. A changed key is always
	// refused.
	TrustOnFirstUse bool
	// Jump, when set, is a bastion every connection goes through.
	Jump *JumpConfig
	// KeepAlive is the interval of keep-alive requests (default 15s;
	// negative disables them).
	KeepAlive time.Duration
	// ConnectTimeout bounds dialing and the handshake (default 10s).
	ConnectTimeout time.Duration
	// Logger receives connection diagnostics (default: discard).
	Logger *slog.Logger
}

// JumpConfig is a bastion host. Its known host key is checked against the
// instance's known_hosts files.
type JumpConfig struct {
	Host string
	// Port defaults to 22.
	Port int
	// User defaults to the instance's user.
	User string
	// PrivateKeyFiles default to the instance's.
	PrivateKeyFiles []string
}

// Instance is a configured SSH provider. It implements [Client],
// provider.CommandRunner, provider.Dialer and io.Closer. It connects lazily;
// all methods are safe for concurrent use.
type Instance struct {
	name string
	cfg  Config
	log  *slog.Logger

	mu    sync.Mutex
	conns map[string]*hostConn
	jump  *hostConn

	hkOnce sync.Once
	hk     ssh.HostKeyCallback
	hkErr  error
	// hkMu guards hkDB, the bare known_hosts check (replaced when trust
	// on first use records a key).
	hkMu sync.Mutex
	hkDB ssh.HostKeyCallback
}

var (
	_ Client                 = (*Instance)(nil)
	_ provider.CommandRunner = (*Instance)(nil)
	_ provider.Dialer        = (*Instance)(nil)
	_ io.Closer              = (*Instance)(nil)
)

// New returns an instance named "ssh.<name>" after checking cfg. It does
// not connect.
func New(name string, cfg Config) (*Instance, error) {
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: ssh.%s: port %d is out of range", ErrInvalidConfig, name, cfg.Port)
	}
	if strings.TrimSpace(cfg.Host) == "" {
		return nil, fmt.Errorf("%w: ssh.%s: host is required (a name or address, e.g. \"production-lb-01\")", ErrInvalidConfig, name)
	}
	if cfg.User == "" {
		cfg.User = os.Getenv("USER")
	}
	if cfg.User == "" {
		return nil, fmt.Errorf("%w: ssh.%s: user is not set and $USER is empty", ErrInvalidConfig, name)
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.PrivateKeyFiles = expandHome(cfg.PrivateKeyFiles)
	cfg.KnownHostsFiles = expandHome(cfg.KnownHostsFiles)
	if len(cfg.KnownHostsFiles) == 0 {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("%w: ssh.%s: known_hosts not set and no home directory: %v", ErrInvalidConfig, name, err)
		}
		cfg.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	if cfg.Jump != nil {
		j := *cfg.Jump
		if j.Host == "" {
			return nil, fmt.Errorf("%w: ssh.%s: jump host is empty", ErrInvalidConfig, name)
		}
		if j.Port == 0 {
			j.Port = DefaultPort
		}
		if j.User == "" {
			j.User = cfg.User
		}
		j.PrivateKeyFiles = expandHome(j.PrivateKeyFiles)
		if len(j.PrivateKeyFiles) == 0 {
			j.PrivateKeyFiles = cfg.PrivateKeyFiles
		}
		cfg.Jump = &j
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Instance{name: "ssh." + name, cfg: cfg, log: log, conns: map[string]*hostConn{}}, nil
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(paths []string) []string {
	if len(paths) == 0 {
		return paths
	}
	home, err := os.UserHomeDir()
	out := make([]string, len(paths))
	for i, p := range paths {
		if rest, ok := strings.CutPrefix(p, "~/"); ok && err == nil {
			p = filepath.Join(home, rest)
		}
		out[i] = p
	}
	return out
}

// Name returns "ssh.<name>".
func (in *Instance) Name() string { return in.name }

// DefaultHost returns the configured host.
func (in *Instance) DefaultHost() string { return in.cfg.Host }

// Close closes every connection. Later calls reconnect.
func (in *Instance) Close() error {
	in.mu.Lock()
	conns := make([]*hostConn, 0, len(in.conns)+1)
	for _, c := range in.conns {
		conns = append(conns, c)
	}
	if in.jump != nil {
		conns = append(conns, in.jump)
	}
	in.conns = map[string]*hostConn{}
	in.jump = nil
	in.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// target is where a host entry leads.
type target struct {
	user string
	addr string // host:port
	keys []string
}

// parseHost turns a host entry ("web-1", "web-1:2222", "deploy@web-1",
// "[::1]:22") into a target with the instance's defaults.
func (in *Instance) parseHost(h string) (target, error) {
	t := target{user: in.cfg.User, keys: in.cfg.PrivateKeyFiles}
	if h == "" {
		h = in.cfg.Host
	}
	if u, rest, ok := strings.Cut(h, "@"); ok {
		if u == "" {
			return t, fmt.Errorf("%w: host %q has an empty user", ErrInvalidConfig, h)
		}
		t.user, h = u, rest
	}
	host, port := h, strconv.Itoa(in.cfg.Port)
	if hh, pp, err := net.SplitHostPort(h); err == nil {
		host, port = hh, pp
		if n, err := strconv.Atoi(pp); err != nil || n <= 0 || n > 65535 {
			return t, fmt.Errorf("%w: host %q has an invalid port", ErrInvalidConfig, h)
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.ContainsAny(host, " \t\n/") {
		return t, fmt.Errorf("%w: host %q is not a host name or address", ErrInvalidConfig, h)
	}
	t.addr = net.JoinHostPort(host, port)
	return t, nil
}

// conn returns the connection slot of a host entry.
func (in *Instance) conn(host string) (*hostConn, error) {
	t, err := in.parseHost(host)
	if err != nil {
		return nil, err
	}
	key := t.user + "@" + t.addr
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.conns[key]
	if c == nil {
		c = &hostConn{in: in, t: t, label: displayHost(host, in.cfg.Host)}
		in.conns[key] = c
	}
	return c, nil
}

func displayHost(h, def string) string {
	if h == "" {
		return def
	}
	return h
}

// jumpConn returns the bastion's connection slot.
func (in *Instance) jumpConn() *hostConn {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.jump == nil {
		j := in.cfg.Jump
		in.jump = &hostConn{in: in, isJump: true, label: "jump host " + j.Host,
			t: target{user: j.User, addr: net.JoinHostPort(j.Host, strconv.Itoa(j.Port)), keys: j.PrivateKeyFiles}}
	}
	return in.jump
}

// authMethods loads the keys and opens the agent; release closes the
// agent connection once the handshake is over.
func (in *Instance) authMethods(keys []string) (methods []ssh.AuthMethod, release func(), err error) {
	release = func() {}
	var signers []ssh.Signer
	for _, f := range keys {
		s, err := in.loadKey(f)
		if err != nil {
			return nil, release, err
		}
		signers = append(signers, s)
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	useAgent := in.cfg.UseAgent || (len(keys) == 0 && os.Getenv("SSH_AUTH_SOCK") != "")
	if useAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, release, fmt.Errorf("%w: %s: use_agent is set but SSH_AUTH_SOCK is empty (start ssh-agent or give private_key_file)", ErrConnect, in.name)
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			return nil, release, fmt.Errorf("%w: %s: ssh agent at %s: %w", ErrConnect, in.name, sock, err)
		}
		release = func() { _ = c.Close() }
		methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
	}
	if len(methods) == 0 {
		return nil, release, fmt.Errorf("%w: %s: no credentials: set private_key_file, or use_agent with SSH_AUTH_SOCK", ErrConnect, in.name)
	}
	return methods, release, nil
}

func (in *Instance) loadKey(file string) (ssh.Signer, error) {
	s, err := readKey(file, in.cfg.Passphrase)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, in.name, err)
	}
	return s, nil
}

// readKey reads and parses a private key file, decrypting it with
// passphrase when it is encrypted. Its errors name the file and what to do.
func readKey(file, passphrase string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, fmt.Errorf("private key %s is encrypted: set passphrase (from a sensitive variable)", file)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(b, []byte(passphrase))
		if err != nil {
			return nil, fmt.Errorf("private key %s: cannot decrypt with the given passphrase", file)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", file, err)
	}
	return s, nil
}

// hostKeyCallback checks host keys against the known_hosts files.
func (in *Instance) hostKeyCallback() (ssh.HostKeyCallback, error) {
	in.hkOnce.Do(func() {
		files := in.cfg.KnownHostsFiles
		if in.cfg.TrustOnFirstUse {
			for _, f := range files {
				if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
					_ = os.MkdirAll(filepath.Dir(f), 0o700)
					if err := os.WriteFile(f, nil, 0o600); err != nil {
						in.hkErr = fmt.Errorf("%w: %s: create known_hosts: %w", ErrConnect, in.name, err)
						return
					}
				}
			}
		}
		cb, err := knownhosts.New(files...)
		if err != nil {
			in.hkErr = fmt.Errorf("%w: %s: known_hosts: %w (give known_hosts, or set trust_on_first_use = true to record new hosts)", ErrConnect, in.name, err)
			return
		}
		in.hkDB = cb
		var mu sync.Mutex
		in.hk = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			mu.Lock()
			defer mu.Unlock()
			err := cb(hostname, remote, key)
			var ke *knownhosts.KeyError
			if err == nil || !errors.As(err, &ke) {
				return err
			}
			fp := key.Type() + " " + ssh.FingerprintSHA256(key)
			if len(ke.Want) == 0 {
				if in.cfg.TrustOnFirstUse {
					if err := appendKnownHost(files[0], hostname, remote, key); err != nil {
						return fmt.Errorf("%w: %s: recording %s: %w", ErrHostKey, hostname, fp, err)
					}
					if ncb, err := knownhosts.New(files...); err == nil {
						cb = ncb
						in.hkMu.Lock()
						in.hkDB = ncb
						in.hkMu.Unlock()
					}
					in.log.Warn("ssh: trusted a new host key on first use", "host", hostname, "key", fp, "file", files[0])
					return nil
				}
				return fmt.Errorf("%w: %s is unknown: its key is %s and no entry in %s matches (check the fingerprint, then add it with ssh-keyscan, or set trust_on_first_use = true)",
					ErrHostKey, hostname, fp, strings.Join(files, ", "))
			}
			var known []string
			for _, w := range ke.Want {
				known = append(known, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return fmt.Errorf("%w: %s presented %s but known_hosts has %s: the host key CHANGED (a reinstalled host, or someone in the middle); refusing to connect",
				ErrHostKey, hostname, fp, strings.Join(known, ", "))
		}
	})
	return in.hk, in.hkErr
}

// hostKeyAlgorithms returns the host key algorithms to ask addr for: those
// of the keys known_hosts holds for it, so that a server with several host
// keys (say RSA and ed25519) presents one that can be checked instead of
// the one the SSH library prefers. nil (the library's default order) when
// known_hosts has no plain key for addr (an unknown host, or one known
// only through a @cert-authority line).
func (in *Instance) hostKeyAlgorithms(addr string, remote net.Addr) []string {
	in.hkMu.Lock()
	db := in.hkDB
	in.hkMu.Unlock()
	if db == nil {
		return nil
	}
	if _, ok := remote.(*net.TCPAddr); !ok {
		// knownhosts only checks TCP addresses; the name is what counts.
		remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	}
	// Ask known_hosts about a key it cannot hold: its answer lists the
	// keys it has for addr.
	probe, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := db(addr, remote, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	for _, w := range ke.Want {
		for _, a := range algorithmsForKeyType(w.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsForKeyType returns the signature algorithms a host key of type
// t can be presented with.
func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

func appendKnownHost(file, hostname string, remote net.Addr, key ssh.PublicKey) error {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n")
	return err
}

// hostConn is the shared connection to one host, opened on first use and
// re-opened after it dropped.
type hostConn struct {
	in     *Instance
	t      target
	label  string
	isJump bool

	mu     sync.Mutex
	client *ssh.Client
	stop   chan struct{}
}

// get returns a live client, connecting if needed.
func (c *hostConn) get(ctx context.Context) (*ssh.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	cl, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.client = cl
	c.stop = make(chan struct{})
	go c.watch(cl, c.stop)
	return cl, nil
}

// drop forgets cl if it is still the current client, and closes it.
func (c *hostConn) drop(cl *ssh.Client) {
	c.mu.Lock()
	if c.client == cl {
		c.client = nil
		close(c.stop)
	}
	c.mu.Unlock()
	_ = cl.Close()
}

func (c *hostConn) close() error {
	c.mu.Lock()
	cl := c.client
	if cl != nil {
		c.client = nil
		close(c.stop)
	}
	c.mu.Unlock()
	if cl == nil {
		return nil
	}
	if err := cl.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// watch sends keep-alives and forgets the client when it dies.
func (c *hostConn) watch(cl *ssh.Client, stop chan struct{}) {
	dead := make(chan struct{})
	go func() { _ = cl.Wait(); close(dead) }()
	var tick <-chan time.Time
	if ka := c.in.cfg.KeepAlive; ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			return
		case <-dead:
			c.in.log.Info("ssh: connection closed", "host", c.label)
			c.drop(cl)
			return
		case <-tick:
			res := make(chan error, 1)
			go func() { _, _, err := cl.SendRequest("keepalive@openssh.com", true, nil); res <- err }()
			var err error
			select {
			case err = <-res:
			case <-time.After(3 * c.in.cfg.KeepAlive):
				err = errors.New("no answer")
			case <-stop:
				return
			}
			if err != nil {
				c.in.log.Warn("ssh: keep-alive failed, dropping the connection", "host", c.label, "error", err)
				c.drop(cl)
				return
			}
		}
	}
}

func (c *hostConn) dial(ctx context.Context) (*ssh.Client, error) {
	in := c.in
	hk, err := in.hostKeyCallback()
	if err != nil {
		return nil, err
	}
	var hkErr error
	var hkMu sync.Mutex
	auth, release, err := in.authMethods(c.t.keys)
	defer release()
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{
		User: c.t.user,
		Auth: auth,
		HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
			err := hk(h, r, k)
			hkMu.Lock()
			hkErr = err
			hkMu.Unlock()
			return err
		},
		Timeout: in.cfg.ConnectTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, in.cfg.ConnectTimeout)
	defer cancel()
	var nc net.Conn
	if in.cfg.Jump != nil && !c.isJump {
		jc := in.jumpConn()
		jcl, err := jc.get(dctx)
		if err != nil {
			return nil, err
		}
		nc, err = jcl.DialContext(dctx, "tcp", c.t.addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: through jump host %s: %w", ErrConnect, c.label, in.cfg.Jump.Host, err)
		}
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", c.t.addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s (%s): %w", ErrConnect, c.label, c.t.addr, err)
		}
	}
	cfg.HostKeyAlgorithms = in.hostKeyAlgorithms(c.t.addr, nc.RemoteAddr())
	if dl, ok := dctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stopAfter := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, c.t.addr, cfg)
	stopAfter()
	if err != nil {
		_ = nc.Close()
		hkMu.Lock()
		defer hkMu.Unlock()
		if hkErr != nil {
			return nil, hkErr
		}
		return nil, fmt.Errorf("%w: %s (%s@%s): %w", ErrConnect, c.label, c.t.user, c.t.addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	in.log.Debug("ssh: connected", "host", c.label, "addr", c.t.addr)
	return ssh.NewClient(sc, chans, reqs), nil
}

// session opens a session, reconnecting once if the connection turned
// out to be dead (the command has not started: retrying is safe). A
// connection that does not answer before ctx ends is dropped.
func (c *hostConn) session(ctx context.Context) (*ssh.Client, *ssh.Session, error) {
	for try := 0; ; try++ {
		cl, err := c.get(ctx)
		if err != nil {
			return nil, nil, err
		}
		s, err := newSession(ctx, cl)
		if err == nil {
			return cl, s, nil
		}
		c.drop(cl)
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w: %s: no answer opening a session: %w", ErrConnect, c.label, context.Cause(ctx))
		}
		if try >= 1 {
			return nil, nil, fmt.Errorf("%w: %s: new session: %w", ErrConnect, c.label, err)
		}
		c.in.log.Info("ssh: connection was dead, reconnecting", "host", c.label, "error", err)
	}
}

// newSession is cl.NewSession bounded by ctx (on a dead connection it
// would wait for ever).
func newSession(ctx context.Context, cl *ssh.Client) (*ssh.Session, error) {
	type res struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := cl.NewSession(); ch <- res{s, err} }()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				_ = r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
