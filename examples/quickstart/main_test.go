package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := run(context.Background(), &out, dir)
	require.NotNil(t, res, "%v", err)
	require.Error(t, err)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"create_release_dir", "write_config", "switch_current"}, res.Completed)
	assert.Equal(t, []string{"migrate", "switch_current", "write_config", "create_release_dir"}, res.Compensated)
	text := out.String()
	for _, want := range []string{
		"▶ create_release_dir",
		"  │ stdout: wrote " + dir + "/releases/0.3.0/config.env",
		"✗ migrate              failed: migrate: /bin/sh exited with status 1: ERROR: column \"site_id\" does not exist",
		"  │ stderr: ERROR: column \"site_id\" does not exist",
		"↩ rolling back, in order: migrate, switch_current, write_config, create_release_dir",
		"↩ switch_current       compensated (local exec \"rm -f " + dir + "/current\")",
		"run finished: rolled_back",
		"Compensated: migrate, switch_current, write_config, create_release_dir (reverse order of completion)",
		"Left in the scratch directory: [releases]",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "restart")
	_, err = os.Lstat(dir + "/current")
	assert.True(t, os.IsNotExist(err), "the link was removed")
	entries, err := os.ReadDir(dir + "/releases")
	require.NoError(t, err)
	assert.Empty(t, entries, "the release directory was removed")
}

func TestQuickstartGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	cmd := exec.Command("go", "run", ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.Contains(string(out), "run finished: rolled_back"), "%s", out)
}
