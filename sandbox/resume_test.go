package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const resumeTests = `
variables {
  host = "lb-01"
}

world {
  ssh_host {
    host  = var.host
    files = { "/etc/a.conf" = "maintenance", "/var/backup.gz" = "dump" }
    dirs  = ["/etc/enabled"]
  }
  ssh_reply {
    host      = var.host
    command   = ["aws", "s3", "cp", "/var/backup.gzz", "..."]
    stderr    = "The user-provided path /var/backup.gzz does not exist."
    exit_code = 1
  }
  s3_bucket {
    name = "backups"
  }
  prometheus {
    query = var.query
    value = 0.001
  }
}

scenario "typo_fixed" {
  resume {
    runbook      = "fixed.hcl"
    first_status = "aborted"
  }
  expect {
    status       = "succeeded"
    executed     = ["upload", "watch", "go"]
    not_executed = ["maintenance"]
  }
}

scenario "completed_step_edited" {
  resume {
    runbook = "edited.hcl"
  }
  expect {
    status = "succeeded"
  }
}

scenario "completed_step_edited_forced" {
  resume {
    runbook = "edited.hcl"
    force   = true
    reason  = "the new script only adds a log line"
  }
  expect {
    status       = "succeeded"
    not_executed = ["maintenance"]
  }
}
`

// TestScenarioResumesWithAnEditedRunbook: a scenario can say "fails at X,
// edited, resumed" with a second runbook file; an unsafe edit fails the
// scenario unless forced with a reason.
func TestScenarioResumesWithAnEditedRunbook(t *testing.T) {
	dir := t.TempDir()
	typo := strings.Replace(tiny, `"/var/backup.gz", "s3://backups/pre/"]
  irreversible = true`, `"/var/backup.gzz", "s3://backups/pre/"]
  irreversible = true
  on_fail      = "abort"`, 1)
	require.NotEqual(t, tiny, typo)
	fixed := strings.Replace(typo, "/var/backup.gzz", "/var/backup.gz", 1)
	edited := strings.Replace(fixed, "systemctl reload nginx", "systemctl reload nginx && logger maintenance", 1)
	for name, src := range map[string]string{"tiny.hcl": typo, "fixed.hcl": fixed, "edited.hcl": edited, "tiny.test.hcl": resumeTests} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	results, err := RunTestFile(context.Background(), filepath.Join(dir, "tiny.test.hcl"), TestOptions{})
	require.NoError(t, err)
	byName := map[string]ScenarioResult{}
	for _, r := range results {
		byName[r.Name] = r
	}
	require.Len(t, byName, 3)
	assert.True(t, byName["typo_fixed"].Passed, "%v", byName["typo_fixed"].Failures)
	assert.True(t, byName["completed_step_edited_forced"].Passed, "%v", byName["completed_step_edited_forced"].Failures)
	refused := byName["completed_step_edited"]
	assert.False(t, refused.Passed)
	assert.Contains(t, strings.Join(refused.Failures, "\n"), "maintenance (completed, and its action or arguments changed)")
}
