package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnlockCommand: the printed unlock command names the journal as the
// run used it, with an absolute state directory, quoted for a shell, and
// never with a password. The state directory is given even when it is in
// the index (which finds runs, not locks).
func TestUnlockCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "it's state")
	got := unlockCommand(stateFlags{stateDir: dir, indexed: true}, "release 2")
	assert.Equal(t, `handrail unlock 'release 2' -state-dir '`+strings.ReplaceAll(dir, "'", `'\''`)+`'`, got)
	// The quoting is what a shell reads back.
	out, err := exec.Command("sh", "-c", "printf '%s\\n' "+strings.TrimPrefix(got, "handrail unlock ")).Output()
	require.NoError(t, err)
	assert.Equal(t, "release 2\n-state-dir\n"+dir+"\n", string(out))

	got = unlockCommand(stateFlags{journal: "postgres://deploy:s3cr3t-pw@db.internal:5432/handrail?sslmode=require&password=other-pw"}, "release-2")
	assert.NotContains(t, got, "s3cr3t-pw")
	assert.NotContains(t, got, "other-pw")
	assert.Contains(t, got, "handrail unlock release-2 -journal 'postgres://deploy@db.internal:5432/handrail?sslmode=require'")
	assert.Contains(t, got, "PGPASSWORD")

	got = unlockCommand(stateFlags{journal: "postgres://deploy@db.internal/handrail"}, "release-2")
	assert.Equal(t, "handrail unlock release-2 -journal postgres://deploy@db.internal/handrail", got)
}
