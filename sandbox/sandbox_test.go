package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/runbook"
)

const tiny = `runbook "tiny" {
  window = "1h"
}

variable "host" {
  type    = string
  default = "lb-01"
}

variable "query" {
  type    = string
  default = "errors"
}

provider "ssh" "lb" {
  host = var.host
}

provider "prometheus" "main" {
  url = "http://prometheus:9090"
}

provider "manual" "team" {}

step "ssh_exec" "maintenance" {
  provider        = ssh.lb
  script          = "ln -sf /etc/a.conf /etc/enabled/ && systemctl reload nginx"
  rollback_script = "rm -f /etc/enabled/a.conf"
}

step "ssh_exec" "upload" {
  provider     = ssh.lb
  command      = ["aws", "s3", "cp", "/var/backup.gz", "s3://backups/pre/"]
  irreversible = true
}

gate "soak" "watch" {
  duration = "10m"
  check "errors" {
    probe     = "prometheus_query"
    query     = var.query
    condition = self.value < 0.01
  }
}

gate "approval" "go" {
  message = "Go?"
}
`

const tinyTests = `
variables {
  host = "lb-01"
}

world {
  ssh_host {
    host  = var.host
    files = { "/etc/a.conf" = "maintenance", "/var/backup.gz" = "dump" }
    dirs  = ["/etc/enabled"]
  }
  s3_bucket {
    name = "backups"
  }
  prometheus {
    query = var.query
    value = 0.001
  }
}

scenario "happy" {
  expect {
    status   = "succeeded"
    executed = ["maintenance", "upload", "watch", "go"]
    world {
      ssh_file {
        host   = var.host
        path   = "/etc/enabled/a.conf"
        exists = true
      }
      s3_object {
        bucket = "backups"
        key    = "pre/backup.gz"
        exists = true
      }
    }
  }
}

scenario "breach" {
  world {
    prometheus {
      query = var.query
      value = 0.001
      at {
        node  = "watch"
        after = "3m"
        value = 0.2
      }
    }
  }
  expect {
    status       = "rolled_back"
    compensated  = ["maintenance"]
    not_executed = ["go"]
    world {
      ssh_file {
        host   = var.host
        path   = "/etc/enabled/a.conf"
        exists = false
      }
    }
  }
}

scenario "no_go" {
  deny = ["gate.go"]
  expect {
    status         = "rolled_back"
    error_contains = "denied"
  }
}

scenario "injected" {
  fail = ["step.upload"]
  expect {
    status      = "rolled_back"
    compensated = ["maintenance"]
  }
}

scenario "crash" {
  crash_after = "step.upload"
  expect {
    status   = "succeeded"
    executed = ["maintenance", "upload", "watch", "go"]
  }
}

scenario "wrong" {
  expect {
    status      = "rolled_back"
    compensated = ["nothing"]
  }
}
`

func writeTiny(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tiny.hcl"), []byte(tiny), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tiny.test.hcl"), []byte(tinyTests), 0o644))
	return dir
}

func TestRunTestFile(t *testing.T) {
	dir := writeTiny(t)
	results, err := RunTestFile(context.Background(), filepath.Join(dir, "tiny.test.hcl"), TestOptions{})
	require.NoError(t, err)
	byName := map[string]ScenarioResult{}
	for _, r := range results {
		byName[r.Name] = r
	}
	require.Len(t, byName, 6)
	for _, name := range []string{"happy", "breach", "no_go", "injected", "crash"} {
		assert.True(t, byName[name].Passed, "%s: %v", name, byName[name].Failures)
		assert.NoError(t, byName[name].Err())
	}
	assert.Equal(t, 3*time.Minute, byName["breach"].Simulated)
	wrong := byName["wrong"]
	assert.False(t, wrong.Passed)
	assert.ErrorIs(t, wrong.Err(), ErrScenarioFailed)
	assert.Contains(t, strings.Join(wrong.Failures, "\n"), "status = succeeded, want rolled_back")
	assert.Contains(t, strings.Join(wrong.Failures, "\n"), `want ["nothing"]`)
}

func TestForRunbookAppliesTheTestFileWorld(t *testing.T) {
	dir := writeTiny(t)
	w, err := ForRunbook(filepath.Join(dir, "tiny.hcl"), DefaultStart)
	require.NoError(t, err)
	assert.True(t, w.SSH.Host("lb-01").Exists("/etc/a.conf"))
	assert.Equal(t, dir, w.Dir)
	assert.Equal(t, map[string]string{"host": "lb-01"}, w.Vars)

	other := t.TempDir()
	w, err = ForRunbook(filepath.Join(other, "none.hcl"), DefaultStart)
	require.NoError(t, err)
	assert.Empty(t, w.SSH.Hosts())
}

func TestParseTestFileErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"missing expect", `scenario "a" {}`, "Missing expect block"},
		{"bad status", "scenario \"a\" {\n  expect {\n    status = \"done\"\n  }\n}\n", "Invalid expected status"},
		{"duplicate", "scenario \"a\" {\n  expect {\n    status = \"succeeded\"\n  }\n}\nscenario \"a\" {\n  expect {\n    status = \"succeeded\"\n  }\n}\n", "Duplicate scenario"},
		{"unknown world block", `world { kubernetes {} }`, "kubernetes"},
		{"bad group", "scenario \"a\" {\n  expect {\n    status = \"succeeded\"\n    compensated = [1]\n  }\n}\n", "Invalid compensated"},
		{"bad start", `start = "yesterday"`, "Invalid start"},
		{"bad fault mode", "scenario \"a\" {\n  fault {\n    node = \"step.x\"\n    mode = \"late\"\n  }\n  expect {\n    status = \"succeeded\"\n  }\n}\n", "x.test.hcl:2,3-8: Invalid fault mode; Scenario \"a\": unknown fault mode \"late\""},
		{"crash as a fault", "scenario \"a\" {\n  fault {\n    node = \"step.x\"\n    mode = \"crash_after\"\n  }\n  expect {\n    status = \"succeeded\"\n  }\n}\n", "a crash is written crash_after = \"step.x\""},
		{"latency without a duration", "scenario \"a\" {\n  fault {\n    node = \"step.x\"\n    mode = \"latency\"\n  }\n  expect {\n    status = \"succeeded\"\n  }\n}\n", "Invalid fault latency"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.test.hcl")
			require.NoError(t, os.WriteFile(p, []byte(tt.src), 0o644))
			_, err := ParseTestFile(p)
			require.Error(t, err)
			var diags hhcl.Diagnostics
			require.ErrorAs(t, err, &diags)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "x.test.hcl:")
		})
	}
}

func TestWorldErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tiny.hcl"), []byte(tiny), 0o644))
	p := filepath.Join(dir, "tiny.test.hcl")
	require.NoError(t, os.WriteFile(p, []byte(`
world {
  prometheus {
    query = "q"
    at {
      after = "soon"
      value = 1
    }
  }
}
scenario "a" {
  expect {
    status = "succeeded"
  }
}
`), 0o644))
	results, err := RunTestFile(context.Background(), p, TestOptions{})
	require.NoError(t, err)
	require.Len(t, results, 1)
	assert.False(t, results[0].Passed)
	assert.Contains(t, results[0].Failures[0], `"soon" is not a duration`)
}

func TestFailNames(t *testing.T) {
	plan, err := runbook.NewBuilder("p").
		Step(runbook.Step{Name: "traffic[10]", Action: runbook.ActionFunc(func(context.Context, *runbook.Env) (runbook.Outputs, error) { return nil, nil }), Irreversible: true}).
		Build()
	require.NoError(t, err)
	_, err = Fail(plan, []string{"step.traffic[50]"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `did you mean traffic[10]`)
	failed, err := Fail(plan, []string{"step.traffic[10]"})
	require.NoError(t, err)
	res, err := (&runbook.Executor{}).Run(context.Background(), failed, runbook.RunOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInjected)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
}

func TestSSHScriptsAndAWSCLI(t *testing.T) {
	w := New(DefaultStart)
	reg, err := w.Registry()
	require.NoError(t, err)
	p, _ := reg.Provider("ssh")
	cfg := map[string]cty.Value{}
	for n, a := range p.ConfigSchema() {
		cfg[n] = cty.NullVal(a.Type)
	}
	cfg["host"] = cty.StringVal("app-01")
	inst, err := p.Configure(context.Background(), "app", cty.ObjectVal(cfg))
	require.NoError(t, err)
	c := inst.(ssh.Client)
	w.SSH.Host("app-01").WriteFile("/srv/static/app.js", "x")
	w.AWS.CreateBucket("assets", false)
	exit, err := c.Run(context.Background(), "", ssh.Command{Script: "mkdir /srv/x && aws s3 sync static s3://assets/0.3.0/ ; touch /srv/x/done", Dir: "/srv"}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, exit)
	assert.True(t, w.SSH.Host("app-01").Exists("/srv/x/done"))
	assert.Equal(t, []string{"0.3.0/index.js"}, w.AWS.Keys("assets"))
	exit, err = c.Run(context.Background(), "", ssh.Command{Argv: []string{"aws", "s3", "rm", "--recursive", "s3://assets/0.3.0/"}}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, exit)
	assert.Empty(t, w.AWS.Keys("assets"))
	exit, err = c.Run(context.Background(), "", ssh.Command{Script: "false && touch /srv/never"}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, exit)
	assert.False(t, w.SSH.Host("app-01").Exists("/srv/never"))
	d, ok := inst.(provider.Dialer)
	require.True(t, ok, "docker's via = ssh.app needs a dialer")
	_, err = d.DialContext(context.Background(), "unix", "/var/run/docker.sock")
	assert.ErrorContains(t, err, "no network")
}

func TestMatchGroups(t *testing.T) {
	assert.True(t, matchGroups([]string{"a", "c", "b", "d"}, [][]string{{"a"}, {"b", "c"}, {"d"}}))
	assert.False(t, matchGroups([]string{"a", "c", "b"}, [][]string{{"a"}, {"c"}, {"b"}, {"d"}}))
	assert.False(t, matchGroups([]string{"b", "a"}, [][]string{{"a"}, {"b"}}))
	assert.True(t, matchGroups(nil, [][]string{}))
}
