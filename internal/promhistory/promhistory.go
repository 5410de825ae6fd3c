// Package promhistory serves made-up metric history from a real
// Prometheus server, for tests of gate backtests: the history is written in
// OpenMetrics text, backfilled with promtool (Debian's prometheus package
// ships it beside the server) and served by the prometheus binary.
package promhistory

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
)

// ErrorRatio is 48 hours from "from" of a per-minute error ratio,
// http_request_errors_ratio{job="api"}, in OpenMetrics text, known by
// construction:
// 0.2 % everywhere, except
//   - bad: 5 % during hours 10-13 and hour 30 (regressions the gate must catch);
//   - bad: 0.8 % during hour 40 (a regression under the 1 % threshold: missed);
//   - a 3 % blip at minutes 5-6 of hour 20, inside a good period (a false abort).
func ErrorRatio(from time.Time) string {
	var sb strings.Builder
	sb.WriteString("# HELP http_request_errors_ratio Share of requests that failed.\n# TYPE http_request_errors_ratio gauge\n")
	for m := 0; m < 48*60; m++ {
		v := 0.002
		h := m / 60
		switch {
		case h >= 10 && h < 13, h == 30:
			v = 0.05
		case h == 40:
			v = 0.008
		case h == 20 && (m%60 == 5 || m%60 == 6):
			v = 0.03
		}
		fmt.Fprintf(&sb, "http_request_errors_ratio{job=\"api\"} %g %d\n", v, from.Add(time.Duration(m)*time.Minute).Unix())
	}
	sb.WriteString("# EOF\n")
	return sb.String()
}

// Start backfills history with promtool (Debian's prometheus
// package ships it beside the server) and serves it with a real server.
func Start(t testing.TB, om string) string {
	t.Helper()
	bin := testenv.PrometheusBin(t)
	promtool := filepath.Join(filepath.Dir(bin), "promtool")
	if _, err := os.Stat(promtool); err != nil {
		if testenv.InCI() {
			t.Fatalf("promtool not found beside %s (CI=true): run scripts/test-services start", bin)
		}
		t.Skipf("promtool not found beside %s: run scripts/test-services start", bin)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	in := filepath.Join(dir, "history.om")
	must(t, os.WriteFile(in, []byte(om), 0o600))
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	must(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte("global:\n  scrape_interval: 1m\n"), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	must(t, l.Close())
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=30d", "--web.listen-address="+addr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	must(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	u := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(u + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus not ready: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
