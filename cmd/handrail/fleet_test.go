package main_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/testenv"
)

// fleetE2E is a runbook fanning out over four host entries of the real
// sshd; the command appends to a per-host log in a local directory and
// fails once on a host whose fail-once file exists.
type fleetE2E struct {
	dir, world, state, rb string
	entries               []string
}

func fleetKey(h string) string {
	return strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, h+"\n")
}

func newFleetE2E(t *testing.T, stepExtra string) fleetE2E {
	t.Helper()
	tgt := testenv.SSH(t)
	host, port, err := net.SplitHostPort(tgt.Addr)
	require.NoError(t, err)
	f := fleetE2E{dir: t.TempDir()}
	// The remote user may not be this one: a world-writable directory.
	f.world, err = os.MkdirTemp("", "handrail-fleet-e2e-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(f.world) })
	require.NoError(t, os.Chmod(f.world, 0o777))
	f.entries = []string{"127.0.0.1:" + port, tgt.User + "@127.0.0.1:" + port, "localhost:" + port, "[127.0.0.1]:" + port}
	f.state = filepath.Join(f.dir, "state")
	f.rb = writeFile(t, f.dir, "fleet.hcl", fmt.Sprintf(`runbook "fleet" {}
provider "ssh" "web" {
  host              = %q
  port              = %s
  user              = %q
  private_key_files = [%q]
  known_hosts_files = [%q]
}
step "ssh_exec" "deploy" {
  provider         = ssh.web
  hosts            = [%q, %q, %q, %q]
  max_parallel     = 1
  script           = "k=$(echo \"$HANDRAIL_HOST\" | tr -c 'a-z0-9' _); if [ -e %s/fail-once-$k ]; then rm %s/fail-once-$k; echo 'disk full' >&2; exit 3; fi; echo do >> %s/log-$k"
  rollback_command = ["true"]
%s
}
output "attempts" {
  value = [for h in step.deploy.hosts_succeeded : step.deploy.hosts[h].attempt]
}
`, host, port, tgt.User, tgt.KeyPath, tgt.KnownHostsPath, f.entries[0], f.entries[1], f.entries[2], f.entries[3], f.world, f.world, f.world, stepExtra))
	return f
}

func (f fleetE2E) failOnce(t *testing.T, i int) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(f.world, "fail-once-"+fleetKey(f.entries[i])), nil, 0o666))
}

// ranOnce asserts that the command ran exactly once on every host.
func (f fleetE2E) ranOnce(t *testing.T) {
	t.Helper()
	for _, h := range f.entries {
		b, err := os.ReadFile(filepath.Join(f.world, "log-"+fleetKey(h)))
		require.NoError(t, err, h)
		assert.Equal(t, "do\n", string(b), "%s ran once", h)
	}
}

// TestFleetRetryPerHostResultsInOutputsAndReport: one host fails once; the
// retry runs on it and the host after it only, an HCL output reads the
// per-host results, and the report lists each host with the attempt that
// ran it.
func TestFleetRetryPerHostResultsInOutputsAndReport(t *testing.T) {
	f := newFleetE2E(t, `  retry {
    attempts = 2
    delay    = "10ms"
  }`)
	f.failOnce(t, 2)
	r := run(t, f.dir, "apply", f.rb, "-auto-approve", "-state-dir", f.state)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "attempts = [1 1 2 2]", "hosts 1-2 kept from the first attempt, 3-4 run by the retry")
	f.ranOnce(t)

	id := onlyRun(t, f.dir, f.state)
	html := filepath.Join(f.dir, "report.html")
	r = run(t, f.dir, "report", id, "-state-dir", f.state, "-o", html)
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	page := string(b)
	assert.Contains(t, page, "Per host (fan-outs)")
	// The third host's row: succeeded by attempt 2 (its failure of attempt
	// 1 is in the node's retries).
	assert.Contains(t, page, `<td>deploy</td><td>`+f.entries[2]+`</td><td class="ok">succeeded</td><td>2</td>`)
	assert.Contains(t, page, `<td>deploy</td><td>`+f.entries[0]+`</td><td class="ok">succeeded</td><td>1</td>`)
}

// TestFleetAbortThenResumeFromTheStep: with on_fail = "abort" the failed
// batch leaves its hosts as they are; the operator fixes the host and
// resumes from the step, which runs on the hosts that did not succeed.
func TestFleetAbortThenResumeFromTheStep(t *testing.T) {
	f := newFleetE2E(t, `  on_fail = "abort"`)
	f.failOnce(t, 2)
	r := run(t, f.dir, "apply", f.rb, "-auto-approve", "-state-dir", f.state)
	require.NotEqual(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "keep the change")
	id := onlyRun(t, f.dir, f.state)
	r = run(t, t.TempDir(), "resume", id, "-from", "deploy", "-state-dir", f.state, "-auto-approve")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	// Attempts count again from 1 in a resumed run: every host succeeded
	// by the first attempt of one process or the other.
	assert.Contains(t, r.stdout, "attempts = [1 1 1 1]")
	f.ranOnce(t)
}
