package main_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/testenv"
)

// hostileValue is what an operator or an upstream system may hand a
// runbook: shell metacharacters, quotes, a command substitution, a
// backslash escape and a newline.
const hostileValue = "a; rm -rf / #$(id)`x` \\n\nline2 'q' \"d\" & | > %s"

// hostileSecret is a sensitive value that must never show.
const hostileSecret = "s3cr3t-HOSTILE-7f2a91"

// hostileRunbook declares the variables the input cases use.
const hostileRunbook = `runbook "hostile" {}

variable "api_token" {
  type      = string
  sensitive = true
}

variable "tokens" {
  type      = list(string)
  sensitive = true
  default   = []
}

variable "hosts" {
  type    = list(string)
  default = []
}

variable "region" {
  type    = string
  default = "eu"
}
`

// hostileEnv is what a case gets: a fresh folder with the runbook.
type hostileEnv struct {
	dir, runbook string
}

// noSecret asserts that nothing the CLI printed holds the secret (or a
// long piece of it).
func noSecret(t *testing.T, r result, secret string) {
	t.Helper()
	for _, frag := range []string{secret, secret[:len(secret)/2], secret[len(secret)/2:]} {
		assert.NotContains(t, r.stdout, frag, "stdout shows the secret")
		assert.NotContains(t, r.stderr, frag, "stderr shows the secret")
	}
}

// noCrash asserts the process ended on its own terms.
func noCrash(t *testing.T, r result) {
	t.Helper()
	for _, s := range []string{"panic:", "fatal error:", "goroutine ", "SIGSEGV"} {
		assert.NotContains(t, r.stderr, s, "the CLI crashed")
	}
}

// TestHostileInputs is the hostile-input table: every case goes through
// the built CLI and asserts a clear error or a safe behaviour, and that
// nothing is lost. SECURITY.md lists what each group promises.
func TestHostileInputs(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e hostileEnv)
	}{
		// ---- input mistakes never echo values
		{"-var without =", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "validate", e.runbook, "-var", "api_token:"+hostileSecret)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "use -var name=value")
			noSecret(t, r, hostileSecret)
		}},
		{"-var with an empty name", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "validate", e.runbook, "-var", "region=eu", "-var", "="+hostileSecret)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "the 2nd -var")
			noSecret(t, r, hostileSecret)
		}},
		{"-var with a blank name", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "plan", e.runbook, "-var", "  ="+hostileSecret)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "name before")
			noSecret(t, r, hostileSecret)
		}},
		{"var file with an unterminated string", func(t *testing.T, e hostileEnv) {
			vf := writeFile(t, e.dir, "bad.hclvars", "region = \"eu\"\napi_token = \""+hostileSecret+"\nhosts = []\n")
			r := run(t, e.dir, "validate", e.runbook, "-var-file", vf)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "bad.hclvars line 2")
			assert.Contains(t, r.stderr, "api_token =")
			noSecret(t, r, hostileSecret)
		}},
		{"var file with a misspelt sensitive name", func(t *testing.T, e hostileEnv) {
			vf := writeFile(t, e.dir, "typo.hclvars", "api_tokn = \""+hostileSecret+"\"\n")
			r := run(t, e.dir, "validate", e.runbook, "-var-file", vf, "-var", "api_token=abc123")
			assert.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stderr, `Did you mean "api_token"`)
			noSecret(t, r, hostileSecret)
		}},
		{"sensitive list -var that does not parse", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "validate", e.runbook, "-var", "api_token=abc123", "-var", `tokens=["`+hostileSecret)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, `"tokens"`)
			noSecret(t, r, hostileSecret)
		}},
		{"sensitive value too short to redact", func(t *testing.T, e hostileEnv) {
			cmd := exec.Command(bin, "validate", e.runbook)
			cmd.Dir, cmd.Env = e.dir, append(os.Environ(), "NO_COLOR=1", "HANDRAIL_VAR_api_token=Zq")
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			assert.Contains(t, string(out), "too short")
			assert.NotContains(t, string(out), "Zq")
		}},
		{"100,000-element typed list variable", func(t *testing.T, e hostileEnv) {
			var sb strings.Builder
			sb.WriteString("hosts = [")
			for i := range 100000 {
				fmt.Fprintf(&sb, "\"host-%d.example\",", i)
			}
			sb.WriteString("]\napi_token = \"abc123\"\n")
			vf := writeFile(t, e.dir, "big.hclvars", sb.String())
			start := time.Now()
			r := run(t, e.dir, "validate", e.runbook, "-var-file", vf)
			took := time.Since(start)
			assert.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "valid")
			// It took about two minutes and grew quadratically; it now takes
			// seconds. The bound leaves room for a loaded CI machine.
			assert.Less(t, took, 60*time.Second)
			t.Logf("validate with a 100,000-element list: %s", took)
		}},
		{"100,000 wrong elements: one clear error", func(t *testing.T, e hostileEnv) {
			var sb strings.Builder
			sb.WriteString("hosts = [")
			for i := range 100000 {
				fmt.Fprintf(&sb, "\"h%d\",", i)
			}
			sb.WriteString("{ bad = true }]\napi_token = \"abc123\"\n")
			vf := writeFile(t, e.dir, "bad-big.hclvars", sb.String())
			r := run(t, e.dir, "validate", e.runbook, "-var-file", vf)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "element 100000")
			assert.Contains(t, r.stderr, "bad-big.hclvars line")
		}},

		// ---- enormous and deeply nested HCL
		{"deeply nested brackets in a runbook", func(t *testing.T, e hostileEnv) {
			rb := writeFile(t, e.dir, "deep.hcl", "runbook \"d\" {}\nlocals {\n  x = "+strings.Repeat("[", 300000)+strings.Repeat("]", 300000)+"\n}\n")
			r := run(t, e.dir, "validate", rb)
			assert.Equal(t, 1, r.code)
			assert.Regexp(t, `Nested\s+too\s+deeply`, r.stderr)
			assert.Contains(t, r.stderr, "deep.hcl line 3")
			noCrash(t, r)
		}},
		{"deeply nested objects in a var file", func(t *testing.T, e hostileEnv) {
			vf := writeFile(t, e.dir, "deep.hclvars", "hosts = "+strings.Repeat("{a=", 100000)+"1"+strings.Repeat("}", 100000)+"\n")
			r := run(t, e.dir, "validate", e.runbook, "-var-file", vf, "-var", "api_token=abc123")
			assert.Equal(t, 1, r.code)
			assert.Regexp(t, `Nested\s+too\s+deeply`, r.stderr)
			noCrash(t, r)
		}},
		{"deeply nested -var value", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "validate", e.runbook, "-var", "api_token=abc123", "-var", "hosts="+strings.Repeat("(", 50000)+"1"+strings.Repeat(")", 50000))
			assert.Equal(t, 1, r.code)
			assert.Regexp(t, `Nested\s+too\s+deeply`, r.stderr)
			noCrash(t, r)
		}},
		{"runbook with 20,000 locals", func(t *testing.T, e hostileEnv) {
			var sb strings.Builder
			sb.WriteString("runbook \"big\" {}\nlocals {\n")
			for i := range 20000 {
				fmt.Fprintf(&sb, "  l%d = \"%s-%d\"\n", i, strings.Repeat("x", 40), i)
			}
			sb.WriteString("}\n")
			rb := writeFile(t, e.dir, "big.hcl", sb.String())
			start := time.Now()
			r := run(t, e.dir, "validate", rb)
			assert.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "valid")
			// Each local saw an object of every local: this took about 8
			// minutes on a loaded 2-core machine; now a few seconds.
			assert.Less(t, time.Since(start), 60*time.Second)
		}},
		{"runbook larger than the limit", func(t *testing.T, e hostileEnv) {
			rb := filepath.Join(e.dir, "huge.hcl")
			f, err := os.Create(rb)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(65<<20)) // sparse: no disk used
			require.NoError(t, f.Close())
			r := run(t, e.dir, "validate", rb)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "File too large")
			noCrash(t, r)
		}},

		// ---- paths with ..
		{"report of a run id with ..", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "report", "../../../etc/passwd", "-state-dir", filepath.Join(e.dir, "state"), "-o", filepath.Join(e.dir, "r.html"))
			assert.Equal(t, 1, r.code)
			assert.NotContains(t, r.stdout+r.stderr, "root:x:0:0")
			assert.NoFileExists(t, filepath.Join(e.dir, "r.html"))
		}},
		{"resume of a run id with ..", func(t *testing.T, e hostileEnv) {
			r := run(t, e.dir, "resume", "../"+filepath.Base(e.dir), "-state-dir", filepath.Join(e.dir, "state"))
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.stderr, "run")
			noCrash(t, r)
		}},
		{"file() outside the runbook's folder", func(t *testing.T, e hostileEnv) {
			rb := writeFile(t, e.dir, "f.hcl", "runbook \"f\" {}\nlocals {\n  x = file(\"../../no/such/../file.txt\")\n}\n")
			r := run(t, e.dir, "validate", rb)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "f.hcl line 3")
			noCrash(t, r)
		}},

		// ---- metacharacters reach each provider literally (sandbox fakes)
		{"ssh_exec argv", func(t *testing.T, e hostileEnv) { sandboxCase(t, e, "ssh", hostileValue, "SSH-MATCHED") }},
		{"ssh_exec argv, control: another value does not match", func(t *testing.T, e hostileEnv) {
			sandboxCase(t, e, "ssh", "a; rm -rf /", "")
		}},
		{"local_exec argv", func(t *testing.T, e hostileEnv) { sandboxCase(t, e, "exec", hostileValue, "EXEC-MATCHED") }},
		{"docker_exec argv", func(t *testing.T, e hostileEnv) { sandboxCase(t, e, "docker", hostileValue, "DOCKER-MATCHED") }},
		{"postgres bind argument", func(t *testing.T, e hostileEnv) { sandboxCase(t, e, "postgres", hostileValue, "PG-MATCHED") }},
		{"http query parameter", func(t *testing.T, e hostileEnv) { httpCase(t, e, false) }},
		{"http header with a newline", func(t *testing.T, e hostileEnv) { httpCase(t, e, true) }},

		// ---- the real sshd
		{"ssh_exec env on the real sshd", func(t *testing.T, e hostileEnv) { realSSHCase(t, e, false) }},
		{"known_hosts with a wrong key", func(t *testing.T, e hostileEnv) { realSSHCase(t, e, true) }},

		// ---- journals edited by hand
		{"journal with a bad checksum", func(t *testing.T, e hostileEnv) {
			journalCase(t, e, func(recs [][]byte) [][]byte {
				recs[1][len(recs[1])-3] ^= 0x20
				return recs
			}, "checksum mismatch")
		}},
		{"journal with reordered records", func(t *testing.T, e hostileEnv) {
			journalCase(t, e, func(recs [][]byte) [][]byte {
				recs[1], recs[2] = recs[2], recs[1]
				return recs
			}, "want 2")
		}},
		{"journal with a record from another run", func(t *testing.T, e hostileEnv) {
			journalCase(t, e, nil, "belongs to run")
		}},
		{"journal file that is not a journal", func(t *testing.T, e hostileEnv) {
			journalCase(t, e, func([][]byte) [][]byte { return nil }, "no run")
		}},

		// ---- the state directory
		{"state directory without permission", func(t *testing.T, e hostileEnv) { stateDirCase(t, e, false) }},
		{"state directory that is a file", func(t *testing.T, e hostileEnv) { stateDirCase(t, e, true) }},
		{"full disk during a journal append", func(t *testing.T, e hostileEnv) { fullDiskCase(t, e) }},
	}
	require.GreaterOrEqual(t, len(cases), 30)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.fn(t, hostileEnv{dir: dir, runbook: writeFile(t, dir, "hostile.hcl", hostileRunbook)})
		})
	}
}

// sandboxRunbooks hold one step of each provider, fed var.v.
var sandboxRunbooks = map[string]string{
	"ssh": `provider "ssh" "host" {
  host = "app-1"
  user = "deploy"
}
step "ssh_exec" "x" {
  provider  = ssh.host
  command   = ["printf", "%s", var.v]
  read_only = true
}
output "out" {
  value = step.x.stdout
}`,
	"exec": `provider "exec" "local" {}
step "local_exec" "x" {
  provider  = exec.local
  command   = ["printf", "%s", var.v]
  read_only = true
}
output "out" {
  value = step.x.stdout
}`,
	"docker": `provider "ssh" "host" {
  host = "app-1"
  user = "deploy"
}
provider "docker" "app" {
  via = ssh.host
}
step "docker_exec" "x" {
  provider     = docker.app
  container    = "web"
  command      = ["printf", "%s", var.v]
  irreversible = true
}
output "out" {
  value = step.x.stdout
}`,
	"postgres": `provider "postgres" "db" {
  dsn = "postgres://app:pw-123456@db:5432/app?sslmode=disable"
}
step "postgres_query" "x" {
  provider = postgres.db
  sql      = "SELECT $1::text AS v"
  args     = [var.v]
}
output "out" {
  value = step.x.rows[0].v
}`,
}

// sandboxWorld answers only the exact argv (or SQL) with the marker.
func sandboxWorld(v string) string {
	q := fmt.Sprintf("%q", v)
	q = strings.ReplaceAll(strings.ReplaceAll(q, "${", "$${"), "%{", "%%{")
	return `world {
  ssh_reply {
    host    = "app-1"
    command = ["printf", "%s", ` + q + `]
    stdout  = "SSH-MATCHED"
  }
  exec_reply {
    command = ["printf", "%s", ` + q + `]
    stdout  = "EXEC-MATCHED"
  }
  docker_container {
    name  = "web"
    image = "app:1"
  }
  docker_exec {
    container = "web"
    command   = ["printf", "%s", ` + q + `]
    stdout    = "DOCKER-MATCHED"
  }
  postgres {
    query {
      sql     = "SELECT $1::text AS v"
      columns = ["v"]
      rows    = [["PG-MATCHED"]]
    }
  }
}
`
}

// sandboxCase rehearses a one-step runbook with var.v = value against the
// fakes, whose world answers only hostileValue as a whole argument: the
// output shows want only when the value arrived as one literal argument.
func sandboxCase(t *testing.T, e hostileEnv, prov, value, want string) {
	t.Helper()
	rb := writeFile(t, e.dir, "meta.hcl", "runbook \"meta\" {}\nvariable \"v\" {\n  type = string\n}\n"+sandboxRunbooks[prov]+"\n")
	writeFile(t, e.dir, "meta.test.hcl", sandboxWorld(hostileValue))
	r := run(t, e.dir, "apply", "--sandbox", rb, "-var", "v="+value, "-state-dir", filepath.Join(e.dir, "state"))
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	out := regexp.MustCompile(`(?m)^\s*out = (.*)$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, out, r.stdout)
	if want == "" {
		assert.NotContains(t, out[1], "MATCHED", "the fake's answer is for the exact argument only")
		return
	}
	assert.Equal(t, want, strings.TrimSpace(out[1]))
}

// httpCase runs an http_request against a real server on loopback: the
// value travels as one query parameter (urlencode), or, in a header, is
// refused before anything is sent.
func httpCase(t *testing.T, e hostileEnv, header bool) {
	t.Helper()
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	step := `  url = "/search?q=${urlencode(var.v)}&page=1"`
	if header {
		step = "  url = \"/search\"\n  headers = { X-Value = var.v }"
	}
	rb := writeFile(t, e.dir, "web.hcl", `runbook "web" {}
variable "v" {
  type = string
}
provider "http" "site" {
  base_url = "`+srv.URL+`"
}
step "http_request" "x" {
  provider  = http.site
  method    = "GET"
`+step+`
  irreversible = true
}
`)
	r := run(t, e.dir, "apply", rb, "-auto-approve", "-var", "v="+hostileValue, "-state-dir", filepath.Join(e.dir, "state"))
	noCrash(t, r)
	mu.Lock()
	defer mu.Unlock()
	if header {
		assert.NotEqual(t, 0, r.code, "a header with a newline is refused")
		for _, req := range got {
			assert.NotContains(t, req.Header, "Line2", "no header was injected")
		}
		return
	}
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	require.Len(t, got, 1)
	assert.Equal(t, url.Values{"q": {hostileValue}, "page": {"1"}}, got[0].URL.Query())
	assert.Equal(t, "/search", got[0].URL.Path)
}

// realSSHCase runs ssh_exec through the CLI on the real sshd: the value
// arrives intact in the environment; with a wrong known_hosts key nothing
// runs.
func realSSHCase(t *testing.T, e hostileEnv, wrongKey bool) {
	t.Helper()
	tgt := testenv.SSH(t)
	host, port, err := net.SplitHostPort(tgt.Addr)
	require.NoError(t, err)
	kh := tgt.KnownHostsPath
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("handrail-hostile-%d-%d", os.Getpid(), time.Now().UnixNano()))
	t.Cleanup(func() { _ = os.Remove(marker) })
	if wrongKey {
		b, err := os.ReadFile(tgt.KnownHostsPath)
		require.NoError(t, err)
		// Another ed25519 key under the same names.
		wrong := regexp.MustCompile(`ssh-ed25519 \S+`).ReplaceAllString(string(b), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
		kh = writeFile(t, e.dir, "known_hosts", wrong)
	}
	rb := writeFile(t, e.dir, "ssh.hcl", fmt.Sprintf(`runbook "ssh" {}
variable "v" {
  type = string
}
provider "ssh" "h" {
  host              = %q
  port              = %s
  user              = %q
  private_key_files = [%q]
  known_hosts_files = [%q]
}
step "ssh_exec" "x" {
  provider  = ssh.h
  command   = ["sh", "-c", "printf '%%s' \"$V\" > %s; printf '%%s' \"$V\""]
  env       = { V = var.v }
  read_only = true
}
output "out" {
  value = step.x.stdout
}
`, host, port, tgt.User, tgt.KeyPath, kh, marker))
	r := run(t, e.dir, "apply", rb, "-auto-approve", "-var", "v="+hostileValue, "-state-dir", filepath.Join(e.dir, "state"))
	noCrash(t, r)
	if wrongKey {
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "CHANGED")
		assert.NoFileExists(t, marker, "nothing ran on a host whose key does not match")
		return
	}
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	b, err := os.ReadFile(marker)
	require.NoError(t, err)
	assert.Equal(t, hostileValue, string(b), "the environment value arrived byte for byte")
}

// finishedRun applies a three-step runbook and returns the state dir and
// the run id.
func finishedRun(t *testing.T, e hostileEnv) (string, string) {
	t.Helper()
	rb := writeFile(t, e.dir, "three.hcl", `runbook "three" {}
provider "exec" "local" {}
step "local_exec" "a" {
  provider  = exec.local
  command   = ["true"]
  read_only = true
}
step "local_exec" "b" {
  provider  = exec.local
  command   = ["true"]
  read_only = true
}
`)
	state := filepath.Join(e.dir, "state")
	r := run(t, e.dir, "apply", rb, "-auto-approve", "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	return state, onlyRun(t, e.dir, state)
}

// frames splits a file journal into its header and its frames.
func frames(t *testing.T, data []byte) (header []byte, recs [][]byte) {
	t.Helper()
	i := bytes.IndexByte(data, '\n')
	require.Positive(t, i, "journal header")
	header, rest := data[:i+1], data[i+1:]
	for len(rest) > 0 {
		require.GreaterOrEqual(t, len(rest), 8)
		n := int(binary.LittleEndian.Uint32(rest[:4]))
		require.LessOrEqual(t, 8+n, len(rest))
		recs = append(recs, append([]byte(nil), rest[:8+n]...))
		rest = rest[8+n:]
	}
	return header, recs
}

// journalCase edits a finished run's journal (edit nil: replaces it with
// another run's journal) and checks that report and resume refuse it,
// naming the damage, and that the original stays readable once restored.
func journalCase(t *testing.T, e hostileEnv, edit func([][]byte) [][]byte, want string) {
	t.Helper()
	state, id := finishedRun(t, e)
	path := filepath.Join(state, "runs", id+".journal")
	orig, err := os.ReadFile(path)
	require.NoError(t, err)
	header, recs := frames(t, orig)
	require.GreaterOrEqual(t, len(recs), 4)
	var edited []byte
	switch {
	case edit == nil:
		// A second run's records under the first run's name.
		time.Sleep(1100 * time.Millisecond) // run ids have second resolution
		r := run(t, e.dir, "apply", filepath.Join(e.dir, "three.hcl"), "-auto-approve", "-state-dir", state)
		require.Equal(t, 0, r.code, r.stderr)
		entries, err := os.ReadDir(filepath.Join(state, "runs"))
		require.NoError(t, err)
		for _, en := range entries {
			if en.Name() != id+".journal" && strings.HasSuffix(en.Name(), ".journal") {
				edited, err = os.ReadFile(filepath.Join(state, "runs", en.Name()))
				require.NoError(t, err)
			}
		}
		require.NotNil(t, edited)
	default:
		out := edit(recs)
		if out == nil {
			edited = []byte("#!/bin/sh\necho not a journal\n")
		} else {
			edited = append(edited, header...)
			for _, f := range out {
				edited = append(edited, f...)
			}
		}
	}
	require.NoError(t, os.WriteFile(path, edited, 0o640))
	for _, args := range [][]string{
		{"report", id, "-state-dir", state, "-o", filepath.Join(e.dir, "r.html")},
		{"resume", id, "-state-dir", state},
	} {
		r := run(t, e.dir, args...)
		assert.NotEqual(t, 0, r.code, "%v accepted an edited journal", args)
		assert.Contains(t, r.stderr, want, "%v", args)
		noCrash(t, r)
	}
	// Nothing was rewritten: restoring the file restores the run.
	require.NoError(t, os.WriteFile(path, orig, 0o640))
	r := run(t, e.dir, "report", id, "-state-dir", state, "-o", filepath.Join(e.dir, "ok.html"))
	assert.Equal(t, 0, r.code, r.stderr)
}

// stateDirCase: a state directory the CLI cannot write (a root-owned 0700
// folder, the CLI run as nobody; or a regular file) stops apply before
// anything runs, with the path in the message.
func stateDirCase(t *testing.T, e hostileEnv, isFile bool) {
	t.Helper()
	marker := filepath.Join(e.dir, "ran")
	rb := writeFile(t, e.dir, "touch.hcl", `runbook "touch" {}
provider "exec" "local" {}
step "local_exec" "x" {
  provider     = exec.local
  command      = ["touch", "`+marker+`"]
  irreversible = true
}
`)
	state := filepath.Join(e.dir, "state")
	cmd := exec.Command(bin, "apply", rb, "-auto-approve", "-state-dir", state)
	cmd.Dir, cmd.Env = e.dir, append(os.Environ(), "NO_COLOR=1")
	if isFile {
		require.NoError(t, os.WriteFile(state, []byte("x"), 0o644))
	} else {
		require.NoError(t, os.Mkdir(state, 0o700))
		if os.Geteuid() == 0 {
			// root ignores permissions: run the CLI as nobody, who may
			// read the binary and the runbook but not the state dir.
			for _, d := range []string{filepath.Dir(bin), filepath.Dir(e.dir)} {
				require.NoError(t, os.Chmod(d, 0o755))
			}
			require.NoError(t, os.Chmod(e.dir, 0o777))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			cmd.Env = append(cmd.Env, "XDG_STATE_HOME="+filepath.Join(e.dir, "xdg"), "HOME="+e.dir)
		} else {
			require.NoError(t, os.Chmod(state, 0o500))
			t.Cleanup(func() { _ = os.Chmod(state, 0o700) })
		}
	}
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), state)
	assert.NotContains(t, string(out), "panic:")
	assert.NoFileExists(t, marker, "nothing ran without a journal")
}

// fullDiskCase: the journal's file system fills up during the run (a file
// size limit, RLIMIT_FSIZE, makes writes past it fail as on a full disk).
// The run stops with an error naming the journal, and the records written
// before are intact: the run is listed and its report renders.
func fullDiskCase(t *testing.T, e hostileEnv) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed to set a file size limit: %v", err)
	}
	var sb strings.Builder
	sb.WriteString("runbook \"full\" {}\nprovider \"exec\" \"local\" {}\n")
	for i := range 40 {
		fmt.Fprintf(&sb, "step \"local_exec\" \"s%d\" {\n  provider  = exec.local\n  command   = [\"printf\", \"%s\"]\n  read_only = true\n}\n", i, strings.Repeat("o", 900))
	}
	rb := writeFile(t, e.dir, "full.hcl", sb.String())
	state := filepath.Join(e.dir, "state")
	// 24 KiB: the first records fit, the run's later ones do not.
	cmd := exec.Command("bash", "-c", `ulimit -f 24 && exec "$0" "$@"`, bin, "apply", rb, "-auto-approve", "-state-dir", state)
	cmd.Dir, cmd.Env = e.dir, append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "journal")
	assert.Regexp(t, `file too large|no space|EFBIG`, string(out))
	assert.NotContains(t, string(out), "panic:")
	id := onlyRun(t, e.dir, state)
	r := run(t, e.dir, "report", id, "-state-dir", state, "-o", filepath.Join(e.dir, "r.html"))
	assert.Equal(t, 0, r.code, "the journal written before the disk filled is readable: %s", r.stderr)
}
