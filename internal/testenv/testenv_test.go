package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	in := `# written by scripts/test-services
export HANDRAIL_TEST_PG_DSN='postgres://postgres@127.0.0.1:55432/handrail?sslmode=disable'

export HANDRAIL_TEST_SSH_ADDR=127.0.0.1:2222
  HANDRAIL_TEST_SSH_USER="handrail"   # trailing comment
export QUOTED='it'\''s "fine"'
export DOUBLE="a \"b\" \$c \\ d"
export ESCAPED=a\ b
export EMPTY=
export EMPTY_QUOTED=''
export DOLLAR='$HOME'
export exported=lowercase
export DUP=first
export DUP=second
`
	got, err := ParseEnvFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HANDRAIL_TEST_PG_DSN":   "postgres://postgres@127.0.0.1:55432/handrail?sslmode=disable",
		"HANDRAIL_TEST_SSH_ADDR": "127.0.0.1:2222",
		"HANDRAIL_TEST_SSH_USER": "handrail",
		"QUOTED":                 `it's "fine"`,
		"DOUBLE":                 `a "b" $c \ d`,
		"ESCAPED":                "a b",
		"EMPTY":                  "",
		"EMPTY_QUOTED":           "",
		"DOLLAR":                 "$HOME",
		"exported":               "lowercase",
		"DUP":                    "second",
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	for _, in := range []string{
		"export NOEQUALS",
		"export 1BAD=x",
		"export BAD-NAME=x",
		"export K='unterminated",
		`export K="unterminated`,
		"export K=two words",
		"=value",
	} {
		if got, err := ParseEnvFile(strings.NewReader(in)); err == nil {
			t.Errorf("ParseEnvFile(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseEnvFile(%q) error %q lacks the line number", in, err)
		}
	}
	if _, err := ParseEnvFile(strings.NewReader("export K='x")); !errors.Is(err, errUnterminated) {
		t.Errorf("unterminated quote error = %v, want errUnterminated", err)
	}
}

// withEnvFile points testenv at a temporary state dir holding content.
func withEnvFile(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(EnvStateDir, dir)
	if content != "" {
		if err := os.WriteFile(filepath.Join(dir, "services.env"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLookup(t *testing.T) {
	dir := withEnvFile(t, "export HANDRAIL_TEST_SSH_USER='from-file'\nexport HANDRAIL_TEST_DOT_BIN=/usr/bin/dot\n")
	if got := EnvFile(); got != filepath.Join(dir, "services.env") {
		t.Errorf("EnvFile() = %q", got)
	}
	t.Setenv(EnvSSHUser, "")
	if v, err := Lookup(EnvSSHUser); err != nil || v != "from-file" {
		t.Errorf("Lookup from file = %q, %v", v, err)
	}
	t.Setenv(EnvSSHUser, "from-env")
	if v, err := Lookup(EnvSSHUser); err != nil || v != "from-env" {
		t.Errorf("Lookup from env = %q, %v", v, err)
	}
	t.Setenv(EnvSSHAddr, "")
	if _, err := Lookup(EnvSSHAddr); !errors.Is(err, errNotSet) {
		t.Errorf("Lookup of a missing key = %v, want errNotSet", err)
	}

	withEnvFile(t, "")
	if _, err := Lookup(EnvSSHAddr); !errors.Is(err, errNotSet) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Lookup without a file = %v", err)
	}

	withEnvFile(t, "garbage line\n")
	if _, err := Lookup(EnvSSHAddr); err == nil || !strings.Contains(err.Error(), "parse") {
		t.Errorf("Lookup with a bad file = %v", err)
	}

	t.Setenv(EnvStateDir, "")
	if got := StateDir(); got != DefaultStateDir {
		t.Errorf("StateDir() = %q", got)
	}
}

// fakeTB records Skipf and Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = true
	f.msg = fmt.Sprintf(format, args...)
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}

// unusedAddr returns a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestMissingServiceSkipsOrFails(t *testing.T) {
	withEnvFile(t, "")
	t.Setenv(EnvPostgresDSN, "postgres://postgres@"+unusedAddr(t)+"/handrail?sslmode=disable")

	t.Setenv("CI", "")
	if InCI() {
		t.Fatal("InCI() with CI unset")
	}
	tb := &fakeTB{}
	if dsn := PostgresDSN(tb); dsn != "" || !tb.skipped || tb.failed {
		t.Errorf("outside CI: dsn %q skipped %v failed %v", dsn, tb.skipped, tb.failed)
	}
	if !strings.Contains(tb.msg, "run scripts/test-services start") || !strings.Contains(tb.msg, "PostgreSQL not available") {
		t.Errorf("skip message %q", tb.msg)
	}

	t.Setenv("CI", "true")
	if !InCI() {
		t.Fatal("InCI() false with CI=true")
	}
	tb = &fakeTB{}
	if PostgresDSN(tb); !tb.failed || tb.skipped {
		t.Errorf("in CI: skipped %v failed %v", tb.skipped, tb.failed)
	}

	for name, fn := range map[string]func(testing.TB){
		"SSH":           func(tb testing.TB) { SSH(tb) },
		"PrometheusBin": func(tb testing.TB) { PrometheusBin(tb) },
		"DotBin":        func(tb testing.TB) { DotBin(tb) },
	} {
		t.Setenv(EnvSSHAddr, "")
		t.Setenv(EnvPrometheusBin, filepath.Join(t.TempDir(), "missing"))
		t.Setenv(EnvDotBin, filepath.Join(t.TempDir(), "missing"))
		tb := &fakeTB{}
		fn(tb)
		if !tb.failed {
			t.Errorf("%s in CI with nothing available did not fail", name)
		}
	}
}

func TestPostgresAddr(t *testing.T) {
	cases := []struct{ dsn, network, addr string }{
		{"postgres://postgres@127.0.0.1:55432/handrail?sslmode=disable", "tcp", "127.0.0.1:55432"},
		{"postgresql://u:p@db.example/x", "tcp", "db.example:5432"},
		{"postgres:///handrail?host=/tmp/pg&port=55432", "unix", "/tmp/pg/.s.PGSQL.55432"},
		{"host=127.0.0.1 port=55432 user=postgres dbname=handrail", "tcp", "127.0.0.1:55432"},
		{"postgres://[::1]:5433/x", "tcp", "[::1]:5433"},
	}
	for _, c := range cases {
		network, addr, err := postgresAddr(c.dsn)
		if err != nil || network != c.network || addr != c.addr {
			t.Errorf("postgresAddr(%q) = %s %s %v; want %s %s", c.dsn, network, addr, err, c.network, c.addr)
		}
	}
	for _, bad := range []string{"postgres:///x", "dbname=x", "postgres://h:notaport/x", "postgres://%zz"} {
		if _, _, err := postgresAddr(bad); err == nil {
			t.Errorf("postgresAddr(%q) succeeded", bad)
		}
	}
}

func TestPostgresDSNAgainstListener(t *testing.T) {
	withEnvFile(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dsn := "postgres://postgres@" + ln.Addr().String() + "/handrail?sslmode=disable"
	t.Setenv(EnvPostgresDSN, dsn)
	if got := PostgresDSN(t); got != dsn {
		t.Errorf("PostgresDSN = %q", got)
	}
}

// fakeSSHD answers every connection with banner.
func fakeSSHD(t *testing.T, banner string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(banner))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestSSH(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	kh := filepath.Join(dir, "known_hosts")
	for _, p := range []string{key, kh} {
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := fakeSSHD(t, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n")
	content := fmt.Sprintf("export %s=%s\nexport %s=handrail\nexport %s=%s\nexport %s=%s\n",
		EnvSSHAddr, addr, EnvSSHUser, EnvSSHKey, key, EnvSSHKnownHosts, kh)
	withEnvFile(t, content)
	for _, k := range []string{EnvSSHAddr, EnvSSHUser, EnvSSHKey, EnvSSHKnownHosts} {
		t.Setenv(k, "")
	}
	want := SSHTarget{Addr: addr, User: "handrail", KeyPath: key, KnownHostsPath: kh}
	if got := SSH(t); got != want {
		t.Errorf("SSH = %+v, want %+v", got, want)
	}

	t.Setenv(EnvSSHAddr, fakeSSHD(t, "HTTP/1.1 400 Bad Request\r\n"))
	if err := checkSSH(SSHTarget{Addr: os.Getenv(EnvSSHAddr), KeyPath: key, KnownHostsPath: kh}); err == nil || !strings.Contains(err.Error(), "not an SSH banner") {
		t.Errorf("non-SSH server: %v", err)
	}
	if err := checkSSH(SSHTarget{Addr: addr, KeyPath: filepath.Join(dir, "nope"), KnownHostsPath: kh}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key: %v", err)
	}
}

func TestBinaries(t *testing.T) {
	withEnvFile(t, "")
	dir := t.TempDir()
	exe := filepath.Join(dir, "prometheus")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvPrometheusBin, exe)
	if got := PrometheusBin(t); got != exe {
		t.Errorf("PrometheusBin = %q", got)
	}
	if err := checkExecutable(plain); err == nil {
		t.Error("checkExecutable accepted a non-executable file")
	}
	if err := checkExecutable(dir); err == nil {
		t.Error("checkExecutable accepted a directory")
	}
}

// fakeDocker serves a minimal engine API on a unix socket.
func fakeDocker(t *testing.T, images ...string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "OK") })
	mux.HandleFunc("GET /images/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/images/"), "/json")
		for _, img := range images {
			if img == name {
				fmt.Fprint(w, `{"Id":"sha256:x"}`)
				return
			}
		}
		http.Error(w, `{"message":"No such image"}`, http.StatusNotFound)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestDocker(t *testing.T) {
	withEnvFile(t, "")
	t.Setenv("CI", "")
	host := fakeDocker(t, ImageBackend029, ImageBackend030, ImageBackend030Broken)
	t.Setenv("DOCKER_HOST", host)
	t.Setenv(EnvDocker, "")
	if got := Docker(t); got != host {
		t.Errorf("Docker = %q, want %q", got, host)
	}
	imgs := DockerImages(t)
	if imgs.DockerHost != host || imgs.V029 != ImageBackend029 || imgs.V030 != ImageBackend030 || imgs.V030Broken != ImageBackend030Broken {
		t.Errorf("DockerImages = %+v", imgs)
	}

	t.Setenv("DOCKER_HOST", fakeDocker(t, ImageBackend029))
	tb := &fakeTB{}
	if got := DockerImages(tb); !tb.skipped || got != (BackendImages{}) || !strings.Contains(tb.msg, ImageBackend030) {
		t.Errorf("missing images: %+v skipped=%v msg=%q", got, tb.skipped, tb.msg)
	}

	t.Setenv(EnvDocker, "0")
	tb = &fakeTB{}
	if Docker(tb); !tb.skipped || !strings.Contains(tb.msg, "disabled") {
		t.Errorf("HANDRAIL_TEST_DOCKER=0: skipped=%v msg=%q", tb.skipped, tb.msg)
	}

	t.Setenv(EnvDocker, "")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	tb = &fakeTB{}
	if Docker(tb); !tb.skipped {
		t.Error("absent engine not skipped")
	}
	t.Setenv("DOCKER_HOST", "ssh://somewhere")
	tb = &fakeTB{}
	if Docker(tb); !tb.skipped || !strings.Contains(tb.msg, "not supported") {
		t.Errorf("ssh DOCKER_HOST: %q", tb.msg)
	}
}
