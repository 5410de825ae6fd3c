package main_test

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/internal/testenv"
)

// EnvChromium names the Chromium binary for the report screenshots, in the
// environment or in scripts/test-services' services.env; default: chromium
// (Debian's package) or chromium-browser in $PATH.
const EnvChromium = "HANDRAIL_TEST_CHROMIUM"

// EnvReportPNG, when set, is where the screenshot of the rolled-back run's
// report is copied (docs/report.png is made with it).
const EnvReportPNG = "HANDRAIL_REPORT_PNG"

// chromiumBin returns the Chromium binary, or skips the test (fails it in
// CI, CI=true, where the browser must be installed: apt-get install
// chromium).
func chromiumBin(t *testing.T) string {
	t.Helper()
	if p, err := testenv.Lookup(EnvChromium); err == nil {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("Chromium not available in CI: install Debian's chromium package (apt-get install -y chromium) or set %s", EnvChromium)
	}
	t.Skipf("Chromium not available: apt-get install -y chromium (or set %s) to screenshot the report", EnvChromium)
	return ""
}

// screenshot renders an HTML file in headless Chromium and returns the
// PNG's path.
func screenshot(t *testing.T, chromium, html string, width, height int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--screenshot="+out, fmt.Sprintf("--window-size=%d,%d", width, height), "file://"+html)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", msg)
	return out
}

// checkPNG asserts the screenshot is a real picture of the report: the
// size asked for, not blank, with the report's red (failure and rollback)
// and green (success) in it.
func checkPNG(t *testing.T, path string, width, height int) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), int64(40_000), "a screenshot of a whole report is not that small")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, width, height), img.Bounds())
	colours := map[[3]uint8]int{}
	var red, green int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
			colours[c]++
			if near(c, [3]uint8{0xd6, 0x45, 0x45}) {
				red++
			}
			if near(c, [3]uint8{0x1f, 0x9d, 0x55}) {
				green++
			}
		}
	}
	assert.Greater(t, len(colours), 200, "the screenshot is (nearly) blank")
	assert.Greater(t, red, 50, "failure and rollback segments in red")
	assert.Greater(t, green, 50, "successes in green")
}

func near(a, b [3]uint8) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a[0], b[0])+d(a[1], b[1])+d(a[2], b[2]) < 30
}

// reportRunbook exercises what the report shows: a step retried twice, an
// approval, a step over its budget, a soak gate whose p95 climbs over its
// threshold, and the rollback that follows (one compensation takes 2 s).
const reportRunbook = `runbook "report-demo" {
  description = "A release that breaches its soak and rolls back"
  window      = "10m"
}

provider "http" "svc" {
  base_url = %[1]q
}

provider "prometheus" "main" {
  url = %[1]q
}

phase "prepare" {
  step "http_request" "maintenance_on" {
    provider = http.svc
    method   = "POST"
    url      = "/maintenance"
    budget   = "1s"
    rollback "http_request" {
      provider = http.svc
      method   = "DELETE"
      url      = "/maintenance"
    }
  }

  step "http_request" "migrate" {
    provider = http.svc
    method   = "POST"
    url      = "/flaky/migrate"
    budget   = "2s"
    retry {
      attempts = 3
      delay    = "400ms"
    }
    rollback "http_request" {
      provider = http.svc
      method   = "DELETE"
      url      = "/slow/migrate"
    }
  }
}

gate "approval" "go_no_go" {
  message = "Deploy?"
  timeout = "1m"
}

phase "deploy" {
  step "http_request" "deploy" {
    provider = http.svc
    method   = "POST"
    url      = "/slow/deploy"
    budget   = "1s"
    rollback "http_request" {
      provider = http.svc
      method   = "DELETE"
      url      = "/deploy"
    }
  }

  gate "soak" "soak" {
    duration = "6s"
    every    = "400ms"
    budget   = "6s"
    check "p95" {
      probe         = "prometheus_query"
      provider      = prometheus.main
      query         = "p95"
      condition     = self.value < 0.2
      error_message = "API latency p95 is above 200 ms"
    }
    check "error_rate" {
      probe     = "prometheus_query"
      provider  = prometheus.main
      query     = "error_rate"
      condition = self.value < 0.01
    }
  }

  step "http_request" "traffic" {
    provider = http.svc
    method   = "POST"
    url      = "/traffic"
    budget   = "1s"
    rollback "http_request" {
      provider = http.svc
      method   = "DELETE"
      url      = "/traffic"
    }
  }
}
`

func TestReportOfRolledBackRun(t *testing.T) {
	svc := newService(t)
	svc.series["p95"] = []float64{0.081, 0.085, 0.09, 0.097, 0.11, 0.118, 0.13, 0.142, 0.16, 0.171, 0.19, 0.236}
	svc.series["error_rate"] = []float64{0.001, 0.0012, 0.0011, 0.0015, 0.0013, 0.0019, 0.0021, 0.0018, 0.0024, 0.0031, 0.0042, 0.0057}
	dir := t.TempDir()
	rb := writeFile(t, dir, "report-demo.hcl", fmt.Sprintf(reportRunbook, svc.URL))
	state := filepath.Join(dir, "state")
	r := run(t, dir, "apply", rb, "-auto-approve", "-state-dir", state)
	require.Equal(t, 2, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	require.Contains(t, r.stderr, "API latency p95 is above 200 ms")
	id := onlyRun(t, dir, state)

	html := filepath.Join(dir, "report.html")
	r = run(t, dir, "report", id, "-state-dir", state, "-o", html)
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	page := string(b)
	for _, want := range []string{
		"rolled_back", "Failed at soak and rolled back", "API latency p95 is above 200 ms",
		`class="planned"`, `class="rollback"`, `class="retrytick"`, "↻ 3 attempts", `class="overrun"`,
		"threshold &lt; 0.2", `class="failzone"`, "soak · p95", "go_no_go", "auto-approve",
		"⟲ deploy", "⟲ maintenance_on", "PREPARE", "DEPLOY", "not run",
	} {
		assert.Contains(t, page, want)
	}
	// Self-contained: no script, nothing fetched.
	assert.NotContains(t, page, "<script")
	assert.NotRegexp(t, regexp.MustCompile(`(src|href)="(https?:)?//`), page)
	// The compensations ran in reverse order of completion.
	assert.Regexp(t, `(?s)⟲ deploy.*⟲ migrate.*⟲ maintenance_on`, page)

	chromium := chromiumBin(t)
	png := screenshot(t, chromium, html, 1280, 1600)
	checkPNG(t, png, 1280, 1600)
	if dst := os.Getenv(EnvReportPNG); dst != "" {
		copyFile(t, png, dst)
		t.Logf("screenshot copied to %s", dst)
	}
}

// TestReportOfSandboxRehearsal: the report of the README's rollback
// rehearsal.
func TestReportOfSandboxRehearsal(t *testing.T) {
	rb, err := filepath.Abs("../../examples/release-2/release-2.hcl")
	require.NoError(t, err)
	_, err = os.Stat(rb)
	require.NoError(t, err, "the release-2 example is part of the repository")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	r := run(t, dir, "apply", "--sandbox", rb, "--fail", "gate.soak[50]", "-state-dir", state)
	require.Equal(t, 2, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	id := onlyRun(t, dir, state)
	html := filepath.Join(dir, "report.html")
	r = run(t, dir, "report", id, "-state-dir", state, "-o", html)
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	page := string(b)
	for _, want := range []string{
		"release-2", "dCMMS Release 2", "rolled_back", "Failed at soak[50] and rolled back", "soak[50] · p95",
		"⟲ status_incident", `class="rollback"`, `class="planned"`, "CHECKLISTS", "RAMP", "planned 4h0m0s of a 4h0m0s window",
	} {
		assert.Contains(t, page, want)
	}
	chromium := chromiumBin(t)
	png := screenshot(t, chromium, html, 1280, 1600)
	checkPNG(t, png, 1280, 1600)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(dst)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// TestReportNeedsARun: a wrong run id names what to do.
func TestReportNeedsARun(t *testing.T) {
	dir := t.TempDir()
	r := run(t, dir, "report", "nope", "-state-dir", filepath.Join(dir, "state"), "-o", filepath.Join(dir, "r.html"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "handrail runs")
	r = run(t, dir, "report")
	assert.Equal(t, 1, r.code)
	assert.True(t, strings.Contains(r.stderr, "report takes one run id"), r.stderr)
}
