package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/testenv"
)

// TestSandboxWithPostgresJournalKeepsItsWorld: a rehearsal journaled in
// PostgreSQL that crashes after its upload is resumed, as printed, from
// another directory, against the same fake world: the file the crashed
// process uploaded is there for the step after it. Its world's state is
// kept (per user, by journal) and a rebuilt world that differs is refused.
func TestSandboxWithPostgresJournalKeepsItsWorld(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	dir := t.TempDir()
	name := fmt.Sprintf("pg-rehearsal-%d", time.Now().UnixNano())
	rb := writeFile(t, dir, "up.hcl", fmt.Sprintf(`runbook %q {
  window = "1h"
}

provider "ssh" "app" {
  host = "app-1.internal"
}

step "ssh_upload" "upload" {
  provider = ssh.app
  path     = "/srv/app/notes.txt"
  content  = "release notes"
  rollback "ssh_exec" {
    provider = ssh.app
    command  = ["rm", "-f", "/srv/app/notes.txt"]
  }
}

step "ssh_exec" "uploaded" {
  provider   = ssh.app
  command    = ["test", "-f", "/srv/app/notes.txt"]
  read_only  = true
  depends_on = [step.upload]
}
`, name))
	writeFile(t, dir, "up.test.hcl", "world {\n  ssh_host {\n    host = \"app-1.internal\"\n    dirs = [\"/srv/app\"]\n  }\n}\n")

	r := run(t, dir, "apply", "--sandbox", rb, "--crash-after", "step.upload", "-journal", dsn)
	require.Equal(t, 3, r.code, r.stderr)
	resume := regexp.MustCompile(`handrail resume \S+ -journal '[^']+'`).FindString(r.stderr)
	require.NotEmpty(t, resume, r.stderr)
	id := regexp.MustCompile(`resume (\S+)`).FindStringSubmatch(resume)[1]
	_, err := os.Stat(filepath.Join(dir, ".handrail"))
	assert.True(t, os.IsNotExist(err), "a PostgreSQL rehearsal writes no state directory")
	saved, err := filepath.Glob(filepath.Join(os.Getenv("XDG_STATE_HOME"), "handrail", "worlds", "*", id+".json"))
	require.NoError(t, err)
	require.Len(t, saved, 1, "the world's state is kept for the run")
	b, err := os.ReadFile(saved[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), "notes.txt", "the upload is in the saved world")

	// A saved world the replay does not reach is refused, not continued.
	require.NoError(t, os.WriteFile(saved[0], []byte("{}\n"), 0o600))
	r = paste(t, t.TempDir(), resume)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "cannot be rebuilt")
	require.NoError(t, os.WriteFile(saved[0], b, 0o600))

	r = paste(t, t.TempDir(), resume)
	require.Equal(t, 0, r.code, "%s\n%s", resume, r.stderr)
	assert.Contains(t, r.stderr, "against its fake world, rebuilt as the rehearsal left it")
	assert.Regexp(t, `✔ uploaded`, r.stderr, "the file the crashed process uploaded is found")
	assert.Contains(t, r.stderr, "succeeded")
}
