// Package testenv tells Handrail's tests where the real services they need
// are: PostgreSQL, an SSH server, the Prometheus and Graphviz binaries, and a
// Docker engine with the dcmms/backend test images.
//
// `scripts/test-services start` installs and starts those services and writes
// their coordinates to services.env in its state directory
// (/tmp/handrail-test-services, or $HANDRAIL_TEST_DIR). Each function here
// reads its HANDRAIL_TEST_* variable from the environment, falling back to
// that file, so a plain `go test` works after the script ran, and checks that
// the service actually answers.
//
// When a service is missing, the test is skipped with a hint to run the
// script, except in CI (CI=true), where it fails: CI never skips.
package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Names of the variables scripts/test-services writes to services.env, and
// the directory it keeps its state in.
const (
	// EnvStateDir overrides DefaultStateDir.
	EnvStateDir = "HANDRAIL_TEST_DIR"
	// EnvPostgresDSN is a PostgreSQL URL with trust authentication, e.g.
	// postgres://postgres@127.0.0.1:55432/handrail?sslmode=disable.
	EnvPostgresDSN = "HANDRAIL_TEST_PG_DSN"
	// EnvSSHAddr is the host:port of the test sshd, e.g. 127.0.0.1:2222.
	EnvSSHAddr = "HANDRAIL_TEST_SSH_ADDR"
	// EnvSSHUser is the login user of the test sshd (shell /bin/sh,
	// passwordless sudo, member of the docker group).
	EnvSSHUser = "HANDRAIL_TEST_SSH_USER"
	// EnvSSHKey is the path of the unencrypted ed25519 private key that
	// logs in as EnvSSHUser.
	EnvSSHKey = "HANDRAIL_TEST_SSH_KEY"
	// EnvSSHKnownHosts is the path of a known_hosts file holding the test
	// sshd's host key for [127.0.0.1]:2222.
	EnvSSHKnownHosts = "HANDRAIL_TEST_SSH_KNOWN_HOSTS"
	// EnvSSHSudoLog is the file where sudo logs every command it runs for
	// EnvSSHUser (sudoers "logfile"), the auth log the tests read.
	EnvSSHSudoLog = "HANDRAIL_TEST_SSH_SUDO_LOG"
	// EnvSSHMultiKeyAddr is the host:port of a second test sshd (same user
	// and client key) that offers an RSA and an ed25519 host key.
	EnvSSHMultiKeyAddr = "HANDRAIL_TEST_SSH_MULTIKEY_ADDR"
	// EnvPrometheusBin is the path of the prometheus server binary. No
	// server is running: tests start their own.
	EnvPrometheusBin = "HANDRAIL_TEST_PROMETHEUS_BIN"
	// EnvDocker is "1" when the Docker engine answered when the script ran;
	// "0" here disables the Docker tests.
	EnvDocker = "HANDRAIL_TEST_DOCKER"
	// EnvDotBin is the path of Graphviz's dot binary.
	EnvDotBin = "HANDRAIL_TEST_DOT_BIN"

	// DefaultStateDir is where scripts/test-services keeps its state and
	// services.env unless EnvStateDir is set.
	DefaultStateDir = "/tmp/handrail-test-services"
)

// The dcmms/backend test images scripts/test-services builds FROM scratch
// with the static cmd/dcmms-backend binary of package testbackend. Each
// listens on port 3000 and has a HEALTHCHECK probing /api/v1/health every
// second (those probes count in the image's http_requests_total). Their
// environment variables (DCMMS_VERSION, DCMMS_PASSWORD, DCMMS_UNHEALTHY,
// DCMMS_FAIL_RATE, DCMMS_LATENCY_MS, ...) are those of cmd/dcmms-backend.
const (
	// ImageBackend029 reports version 0.2.9 (the "current" release).
	ImageBackend029 = "dcmms/backend:0.2.9"
	// ImageBackend030 reports version 0.3.0 (the "new" release).
	ImageBackend030 = "dcmms/backend:0.3.0"
	// ImageBackend030Broken reports version 0.3.0 and its health endpoint
	// always answers 503, so its container never becomes healthy.
	ImageBackend030Broken = "dcmms/backend:0.3.0-broken"
	// BackendPort is the container port the dcmms/backend images listen on.
	BackendPort = 3000
)

// defaultDockerHost is used when DOCKER_HOST is unset.
const defaultDockerHost = "unix:///var/run/docker.sock"

// dialTimeout bounds every liveness check.
const dialTimeout = 3 * time.Second

// InCI reports whether the tests run in CI (CI=true), where a missing
// service fails the test instead of skipping it.
func InCI() bool { return os.Getenv("CI") == "true" }

// unavailable skips the test, or fails it in CI.
func unavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("testenv: %s not available in CI: %v (run scripts/test-services start before the tests)", service, err)
		return
	}
	tb.Skipf("testenv: %s not available: %v: run scripts/test-services start", service, err)
}

// PostgresDSN returns the DSN of the test PostgreSQL server, after checking
// that it accepts TCP connections. The database exists and the user
// connects without a password.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn, err := Lookup(EnvPostgresDSN)
	if err == nil {
		err = checkPostgres(dsn)
	}
	if err != nil {
		unavailable(tb, "PostgreSQL", err)
		return ""
	}
	return dsn
}

// checkPostgres connects to the server a URL or keyword/value DSN names.
func checkPostgres(dsn string) error {
	network, addr, err := postgresAddr(dsn)
	if err != nil {
		return err
	}
	return dial(network, addr)
}

// postgresAddr extracts the network and address to dial from a DSN.
func postgresAddr(dsn string) (network, addr string, err error) {
	host, port := "", ""
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", fmt.Errorf("parse %s: %w", EnvPostgresDSN, err)
		}
		host, port = u.Hostname(), u.Port()
		if host == "" {
			host = u.Query().Get("host")
		}
		if port == "" {
			port = u.Query().Get("port")
		}
	} else {
		for _, field := range strings.Fields(dsn) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "host":
				host = v
			case "port":
				port = v
			}
		}
	}
	if port == "" {
		port = "5432"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", "", fmt.Errorf("%s: bad port %q: %w", EnvPostgresDSN, port, err)
	}
	switch {
	case host == "":
		return "", "", fmt.Errorf("%s %q names no host", EnvPostgresDSN, dsn)
	case strings.HasPrefix(host, "/"):
		return "unix", filepath.Join(host, ".s.PGSQL."+port), nil
	default:
		return "tcp", net.JoinHostPort(host, port), nil
	}
}

// SSHTarget is where and how tests log in to the test SSH server.
type SSHTarget struct {
	// Addr is host:port, e.g. 127.0.0.1:2222.
	Addr string
	// User is the login user.
	User string
	// KeyPath is the path of an unencrypted private key for User.
	KeyPath string
	// KnownHostsPath is the path of a known_hosts file that holds the
	// server's host key under Addr.
	KnownHostsPath string
}

// SSH returns the test SSH server, after checking that the key and
// known_hosts files are readable and that the server sends an SSH banner.
func SSH(tb testing.TB) SSHTarget {
	tb.Helper()
	t, err := lookupSSH()
	if err == nil {
		err = checkSSH(t)
	}
	if err != nil {
		unavailable(tb, "SSH server", err)
		return SSHTarget{}
	}
	return t
}

// SSHSudoLog returns the file where sudo logs the commands it runs for the
// test sshd's user. scripts/test-services configures it (sudoers
// "logfile"), since the machine may have no syslog daemon.
func SSHSudoLog(tb testing.TB) string {
	tb.Helper()
	p, err := Lookup(EnvSSHSudoLog)
	if err != nil {
		unavailable(tb, "sudo log of the SSH server", err)
		return ""
	}
	return p
}

// SSHMultiKey returns the second test SSH server, which offers an RSA and
// an ed25519 host key; KnownHostsPath is the main server's file (it has
// the ed25519 key under the main address only).
func SSHMultiKey(tb testing.TB) SSHTarget {
	tb.Helper()
	t, err := lookupSSH()
	if err == nil {
		t.Addr, err = Lookup(EnvSSHMultiKeyAddr)
	}
	if err == nil {
		err = checkSSH(t)
	}
	if err != nil {
		unavailable(tb, "multi-key SSH server", err)
		return SSHTarget{}
	}
	return t
}

func lookupSSH() (SSHTarget, error) {
	var t SSHTarget
	for _, f := range []struct {
		key string
		dst *string
	}{
		{EnvSSHAddr, &t.Addr}, {EnvSSHUser, &t.User}, {EnvSSHKey, &t.KeyPath}, {EnvSSHKnownHosts, &t.KnownHostsPath},
	} {
		v, err := Lookup(f.key)
		if err != nil {
			return SSHTarget{}, err
		}
		*f.dst = v
	}
	return t, nil
}

func checkSSH(t SSHTarget) error {
	for _, p := range []string{t.KeyPath, t.KnownHostsPath} {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		f.Close()
	}
	conn, err := net.DialTimeout("tcp", t.Addr, dialTimeout)
	if err != nil {
		return fmt.Errorf("dial sshd: %w", err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(dialTimeout)); err != nil {
		return fmt.Errorf("sshd %s: %w", t.Addr, err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read sshd banner from %s: %w", t.Addr, err)
	}
	if !strings.HasPrefix(line, "SSH-") {
		return fmt.Errorf("%s answered %q, not an SSH banner", t.Addr, strings.TrimSpace(line))
	}
	return nil
}

// PrometheusBin returns the path of the prometheus server binary, from
// EnvPrometheusBin, services.env or $PATH.
func PrometheusBin(tb testing.TB) string {
	tb.Helper()
	return lookupBinary(tb, "Prometheus", EnvPrometheusBin, "prometheus")
}

// DotBin returns the path of Graphviz's dot binary, from EnvDotBin,
// services.env or $PATH.
func DotBin(tb testing.TB) string {
	tb.Helper()
	return lookupBinary(tb, "Graphviz dot", EnvDotBin, "dot")
}

func lookupBinary(tb testing.TB, service, key, name string) string {
	tb.Helper()
	path, err := Lookup(key)
	if err != nil {
		p, lerr := exec.LookPath(name)
		if lerr != nil {
			unavailable(tb, service, fmt.Errorf("%w; %s not in $PATH", err, name))
			return ""
		}
		path = p
	}
	if err := checkExecutable(path); err != nil {
		unavailable(tb, service, err)
		return ""
	}
	return path
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// Docker returns the address of a Docker engine that answers GET /_ping,
// in DOCKER_HOST form: $DOCKER_HOST, or unix:///var/run/docker.sock. Only
// unix:// and plain tcp:// hosts are supported. Setting
// HANDRAIL_TEST_DOCKER=0 disables the Docker tests.
func Docker(tb testing.TB) string {
	tb.Helper()
	host, err := dockerHost()
	if err == nil {
		err = dockerPing(host)
	}
	if err != nil {
		unavailable(tb, "Docker engine", err)
		return ""
	}
	return host
}

func dockerHost() (string, error) {
	if v, _ := Lookup(EnvDocker); v == "0" || strings.EqualFold(v, "false") {
		return "", fmt.Errorf("disabled by %s=%s", EnvDocker, v)
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h, nil
	}
	return defaultDockerHost, nil
}

// BackendImages names the dcmms/backend test images and the engine that
// holds them.
type BackendImages struct {
	// DockerHost is the engine, in DOCKER_HOST form.
	DockerHost string
	// V029 is ImageBackend029.
	V029 string
	// V030 is ImageBackend030.
	V030 string
	// V030Broken is ImageBackend030Broken.
	V030Broken string
}

// DockerImages checks that the Docker engine answers (see Docker) and holds
// the dcmms/backend test images, and returns their names.
func DockerImages(tb testing.TB) BackendImages {
	tb.Helper()
	host := Docker(tb)
	if host == "" {
		return BackendImages{}
	}
	imgs := BackendImages{DockerHost: host, V029: ImageBackend029, V030: ImageBackend030, V030Broken: ImageBackend030Broken}
	for _, name := range []string{imgs.V029, imgs.V030, imgs.V030Broken} {
		if err := dockerImageExists(host, name); err != nil {
			unavailable(tb, "Docker test images", err)
			return BackendImages{}
		}
	}
	return imgs
}

// dockerClient returns an HTTP client for the engine at host and the base
// URL of its API.
func dockerClient(host string) (*http.Client, string, error) {
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok {
		return nil, "", fmt.Errorf("DOCKER_HOST %q: want unix:// or tcp://", host)
	}
	switch scheme {
	case "unix":
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", rest)
			},
		}
		return &http.Client{Transport: tr, Timeout: dialTimeout}, "http://docker", nil
	case "tcp", "http":
		return &http.Client{Transport: &http.Transport{}, Timeout: dialTimeout}, "http://" + strings.TrimSuffix(rest, "/"), nil
	default:
		return nil, "", fmt.Errorf("DOCKER_HOST %q: scheme %q not supported by testenv", host, scheme)
	}
}

// dockerGet GETs path from the engine and returns the status and up to 64 KiB
// of the body.
func dockerGet(host, path string) (int, string, error) {
	c, base, err := dockerClient(host)
	if err != nil {
		return 0, "", err
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + path)
	if err != nil {
		return 0, "", fmt.Errorf("docker engine at %s: %w", host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, "", fmt.Errorf("docker engine at %s: read %s: %w", host, path, err)
	}
	return resp.StatusCode, string(body), nil
}

func dockerPing(host string) error {
	code, body, err := dockerGet(host, "/_ping")
	if err != nil {
		return err
	}
	if code != http.StatusOK || strings.TrimSpace(body) != "OK" {
		return fmt.Errorf("docker engine at %s: /_ping answered %d %q", host, code, body)
	}
	return nil
}

// errNoImage is returned by dockerImageExists for an absent image.
var errNoImage = errors.New("image not found")

func dockerImageExists(host, name string) error {
	code, body, err := dockerGet(host, "/images/"+name+"/json")
	if err != nil {
		return err
	}
	switch code {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w", name, errNoImage)
	default:
		return fmt.Errorf("inspect image %s: engine answered %d %q", name, code, body)
	}
}

// dial checks that addr accepts connections.
func dial(network, addr string) error {
	conn, err := net.DialTimeout(network, addr, dialTimeout)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("close %s connection to %s: %w", network, addr, err)
	}
	return nil
}
