package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shopRunbook touches S3, a load balancer rule, a docker service, a
// Prometheus query and an HTTP route: an empty fake world holds none.
const shopRunbook = `runbook "shop" {
  description = "A release touching several providers"
  window      = "1h"
}

variable "bucket" {
  type = string
}

variable "rule" {
  type    = string
  default = "arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/shop/1/2/3"
}

locals {
  old = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/blue/1"
  new = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/green/2"
}

provider "aws" "prod" {
  region = "eu-west-1"
}

provider "prometheus" "mon" {
  url = "http://prometheus.internal:9090"
}

provider "http" "shop" {
  base_url = "https://shop.example.com"
}

provider "docker" "app" {}

step "s3_object_exists" "backup" {
  provider = aws.prod
  bucket   = var.bucket
  prefix   = "db/backup-"
}

step "docker_service_update" "api" {
  provider = docker.app
  project  = "shop"
  service  = "api"
  image    = "shop/api:2.0.0"
}

step "elbv2_weights" "canary" {
  provider   = aws.prod
  rule_arn   = var.rule
  weights    = { (local.old) = 80, (local.new) = 20 }
  depends_on = [step.api]
}

gate "check" "healthy" {
  depends_on = [step.canary]
  check "latency" {
    provider  = prometheus.mon
    probe     = "prometheus_query"
    query     = "histogram_quantile(0.95, rate(http_seconds_bucket[5m]))"
    condition = self.value < 0.4
  }
  check "home" {
    provider  = http.shop
    url       = "/healthz"
    condition = self.ok
  }
}

step "elbv2_weights" "all_in" {
  provider   = aws.prod
  rule_arn   = var.rule
  weights    = { (local.old) = 0, (local.new) = 100 }
  depends_on = [gate.healthy]
}
`

// TestTestInitWritesAWorldSkeleton: rehearsing a runbook against an empty
// fake world says to add a world {} block and prints `handrail test -init
// FILE`; pasted from another directory, that writes NAME.test.hcl with what
// the plan touches, after which the rehearsal and the scenario pass.
func TestTestInitWritesAWorldSkeleton(t *testing.T) {
	dir := t.TempDir()
	rb := writeFile(t, dir, "shop.hcl", shopRunbook)
	other := t.TempDir()

	r := run(t, other, "apply", "--sandbox", rb, "-var", "bucket=shop-backups")
	require.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, "aws: not found", "the empty world's own error is still shown")
	assert.Contains(t, oneLine(r.stderr), "The fake world was empty: shop.hcl has no test file (shop.test.hcl) with a world {} block")
	cmd := regexp.MustCompile(`handrail test -init [^\n]+`).FindString(r.stderr)
	require.NotEmpty(t, cmd, r.stderr)

	r = paste(t, t.TempDir(), cmd+" -var bucket=shop-backups")
	require.Equal(t, 0, r.code, r.stderr)
	tf := filepath.Join(dir, "shop.test.hcl")
	assert.Equal(t, tf, strings.TrimSpace(r.stdout))
	printed := regexp.MustCompile(`(?m)^  (handrail (?:test|apply --sandbox) .+)$`).FindAllStringSubmatch(r.stderr, -1)
	require.Len(t, printed, 2, r.stderr)
	b, err := os.ReadFile(tf)
	require.NoError(t, err)
	skel := string(b)
	for _, want := range []string{
		`runbook = "shop.hcl"`,
		`bucket = "shop-backups"`, // the -var, kept for every scenario
		`key    = "db/backup-TODO"`,
		`docker_images = ["shop/api:2.0.0"]`,
		`name    = "shop-api"`, `project = "shop"`, `service = "api"`,
		`arn = "arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/shop/1/2/3"`,
		`"arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/blue/1"  = 100`,
		`"arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/green/2" = 0`,
		`query = "histogram_quantile(0.95, rate(http_seconds_bucket[5m]))"`,
		`value = 0.2`,
		`path   = "/healthz"`,
		`scenario "happy"`,
		"TODO",
	} {
		assert.Contains(t, skel, want)
	}
	r = run(t, other, "fmt", "-check", tf)
	assert.Equal(t, 0, r.code, "the skeleton is fmt-clean: %s", r.stdout)

	// The commands it printed work as pasted from anywhere: the rehearsal
	// now starts from a world that holds what the runbook expects.
	for _, p := range printed {
		r = paste(t, t.TempDir(), p[1])
		assert.Equal(t, 0, r.code, "%s:\n%s%s", p[1], r.stdout, r.stderr)
		assert.NotContains(t, r.stderr, "world {}")
	}
	r = run(t, other, "test", tf)
	assert.Contains(t, r.stdout, "--- PASS: happy")

	// An existing test file is never overwritten.
	r = paste(t, other, cmd)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "exists already")
	b2, err := os.ReadFile(tf)
	require.NoError(t, err)
	assert.Equal(t, skel, string(b2))
}
