package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/runbook"
)

const consoleRunbook = `runbook "console-demo" {
  description = "A go/no-go answered from the console"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "tok-5d1e-console-secret"
}

gate "approval" "go_no_go" {
  message       = "Ship it?"
  approvers     = ["alice", "bob"]
  separate_from = "starter"
  timeout       = "5m"
}

output "token" {
  value     = var.token
  sensitive = true
}
`

// proc is a handrail process whose stderr is read line by line.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	all   strings.Builder
}

func startProc(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// expect returns the first line matching re.
func (p *proc) expect(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("the process ended before printing %q:\n%s", re, p.all.String())
			}
			p.all.WriteString(l + "\n")
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("no line matching %q within a minute:\n%s", re, p.all.String())
		}
	}
}

func (p *proc) wait(t *testing.T) (int, string) {
	t.Helper()
	for l := range p.lines {
		p.all.WriteString(l + "\n")
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), p.all.String()
	}
	require.NoError(t, err)
	return 0, p.all.String()
}

func getBody(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestApplyWithConsoleAndSignedLinkThenServe(t *testing.T) {
	dir := t.TempDir()
	rb := writeFile(t, dir, "release.hcl", consoleRunbook)
	h, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	require.NoError(t, err)
	users := writeFile(t, dir, "users", fmt.Sprintf("alice:%s:release\n", h))
	state := filepath.Join(dir, "state")

	p := startProc(t, dir, "apply", rb, "-state-dir", state, "-ui", "127.0.0.1:0", "-ui-users", users, "-ui-links")
	base := p.expect(t, `^Console: (http://127\.0\.0\.1:\d+)$`)[1]
	link := p.expect(t, `^Approval link for bob \(go_no_go\): (http://\S+)$`)[1]
	assert.Contains(t, link, base+"/link?")

	// The page of the run is live and shows the question, without secrets.
	code, list := getBody(t, base+"/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, list, "console-demo")
	assert.NotContains(t, list, "tok-5d1e-console-secret")

	// bob answers from his signed link: the run goes on.
	code, page := getBody(t, link)
	require.Equal(t, http.StatusOK, code, page)
	assert.Contains(t, page, "Ship it?")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	evidence := regexp.MustCompile(`name="evidence" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, csrf)
	require.NotNil(t, evidence)
	u, _ := url.Parse(link)
	form := url.Values{"csrf": {csrf[1]}, "link": {u.RawQuery}, "evidence": {evidence[1]}, "answer": {"approve"}, "comment": {"dashboards green"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/link", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var reply struct {
		OK      bool
		Message string
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reply))
	resp.Body.Close()
	assert.True(t, reply.OK, reply.Message)
	exit, out := p.wait(t)
	require.Equal(t, 0, exit, out)
	assert.Contains(t, out, "go_no_go approved by bob")

	// The journal has the decision with the plan hash, the channel and the
	// comment.
	r := run(t, dir, "runs", "-state-dir", state, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	id := regexp.MustCompile(`"id": "([^"]+)"`).FindStringSubmatch(r.stdout)
	require.NotNil(t, id, r.stdout)

	// serve lists the run and shows it as its report.
	sbase := serveURL(t, dir, state)
	code, list = getBody(t, sbase+"/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, list, id[1])
	code, report := getBody(t, sbase+"/runs/"+id[1])
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, report, "go_no_go")
	assert.Contains(t, report, "bob")
	assert.NotContains(t, report, "tok-5d1e-console-secret")
	code, live := getBody(t, sbase+"/runs/"+id[1]+"/state")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, live, `"via":"link"`)
	assert.Contains(t, live, `"comment":"dashboards green"`)
	assert.Contains(t, live, `"plan_hash":"`)
}

// serveURL starts `handrail serve` and returns its address from stdout.
func serveURL(t *testing.T, dir, state string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-state-dir", state, "-addr", "127.0.0.1:0")
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := regexp.MustCompile(`^Serving runs at (http://\S+) `).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				return
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-ctx.Done():
		t.Fatal("serve did not say where it serves")
		return ""
	}
}

func TestServeRefusesAnOpenAddressWithoutSignIn(t *testing.T) {
	r := run(t, t.TempDir(), "serve", "-state-dir", t.TempDir(), "-addr", "0.0.0.0:0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "not a loopback address")
}

// journalDecisions reads the decisions of the only run in a state
// directory, and the plan hash the run started with.
func journalDecisions(t *testing.T, state string) (string, []runbook.Decision) {
	t.Helper()
	j, err := filejournal.Open(state, nil)
	require.NoError(t, err)
	defer j.Close()
	ids, err := j.Runs(context.Background())
	require.NoError(t, err)
	require.Len(t, ids, 1)
	recs, err := j.Load(context.Background(), ids[0])
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	return st.PlanHash, st.Decisions["go_no_go"]
}

const terminalConsoleRunbook = `runbook "either-way" {}

gate "approval" "go_no_go" {
  message = "Ship it?"
  timeout = "5m"
}
`

func TestTerminalAndConsoleAnswerTheSameQuestion(t *testing.T) {
	t.Run("from the terminal", func(t *testing.T) {
		dir := t.TempDir()
		rb := writeFile(t, dir, "release.hcl", terminalConsoleRunbook)
		state := filepath.Join(dir, "state")
		p := startPTY(t, dir, 120, termEnv(), "apply", rb, "-state-dir", state, "-ui", "127.0.0.1:0")
		p.expect(t, "Approve? [y/N]: ")
		base := regexp.MustCompile(`Console: (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(p.output())
		require.NotNil(t, base, p.output())
		// The console shows the question the terminal asks.
		code, st := getBody(t, base[1]+"/")
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, st, "either-way")
		p.typeIn(t, "y\n")
		code, out := p.wait(t)
		require.Equal(t, 0, code, out)
		plan, ds := journalDecisions(t, state)
		require.Len(t, ds, 1)
		assert.Equal(t, "terminal", ds[0].Via)
		assert.Equal(t, plan, ds[0].PlanHash)
		assert.True(t, ds[0].Approved)
		host, _ := os.Hostname()
		assert.Equal(t, host, ds[0].From)
	})
	t.Run("from a signed link while the terminal asks", func(t *testing.T) {
		dir := t.TempDir()
		src := strings.Replace(terminalConsoleRunbook, `timeout = "5m"`, "timeout = \"5m\"\n  approvers = [\"dana\"]", 1)
		rb := writeFile(t, dir, "release.hcl", src)
		state := filepath.Join(dir, "state")
		p := startPTY(t, dir, 200, termEnv(), "apply", rb, "-state-dir", state, "-ui", "127.0.0.1:0", "-ui-links")
		p.expect(t, "Approve? [y/N]: ")
		link := regexp.MustCompile(`Approval link for dana \(go_no_go\): (http://\S+)`).FindStringSubmatch(p.output())
		require.NotNil(t, link, p.output())
		code, page := getBody(t, link[1])
		require.Equal(t, http.StatusOK, code, page)
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		evidence := regexp.MustCompile(`name="evidence" value="([^"]+)"`).FindStringSubmatch(page)
		require.NotNil(t, csrf)
		require.NotNil(t, evidence)
		u, _ := url.Parse(link[1])
		form := url.Values{"csrf": {csrf[1]}, "link": {u.RawQuery}, "evidence": {evidence[1]}, "answer": {"deny"}, "comment": {"not tonight"}}
		req, _ := http.NewRequest(http.MethodPost, u.Scheme+"://"+u.Host+"/link", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		// The link's answer wins: the terminal's question is withdrawn and
		// the run rolls back without anyone typing.
		code, out := p.wait(t)
		assert.Equal(t, 2, code, out)
		assert.Contains(t, out, "not tonight")
		plan, ds := journalDecisions(t, state)
		require.Len(t, ds, 1)
		assert.Equal(t, "link", ds[0].Via)
		assert.Equal(t, "dana", ds[0].By)
		assert.Equal(t, plan, ds[0].PlanHash)
		assert.False(t, ds[0].Approved)
	})
}
