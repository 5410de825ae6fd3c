package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// service is a local HTTP service that the runbooks of the signal and
// terminal tests call through the http provider. It records every request
// ("METHOD /path"); requests under /hang/ are held until the client gives
// up, requests under /hold/ until release is closed (or the client gives
// up), requests under /slow/ answer after 2.2 s, requests under /flaky/
// fail (503) twice per path before they succeed. POST /api/v1/query is a
// Prometheus instant query answering the values of series[query] in turn
// (the last one over and over).
type service struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []string
	calls   map[string]int
	series  map[string][]float64
	arrived chan string
	release chan struct{}
	once    sync.Once
}

func newService(t *testing.T) *service {
	t.Helper()
	s := &service{arrived: make(chan string, 100), release: make(chan struct{}), calls: map[string]int{}, series: map[string][]float64{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/query" {
			s.prometheus(w, r)
			return
		}
		req := r.Method + " " + r.URL.Path
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.calls[req]++
		n := s.calls[req]
		s.mu.Unlock()
		select {
		case s.arrived <- req:
		default:
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/hang/"):
			<-r.Context().Done()
			return
		case strings.HasPrefix(r.URL.Path, "/slow/"):
			select {
			case <-time.After(2200 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		case strings.HasPrefix(r.URL.Path, "/flaky/") && n <= 2:
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		case strings.HasPrefix(r.URL.Path, "/hold/"):
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(func() {
		s.unblock()
		s.Close()
	})
	return s
}

// prometheus answers an instant query with the next value of its series.
func (s *service) prometheus(w http.ResponseWriter, r *http.Request) {
	q := r.FormValue("query")
	s.mu.Lock()
	vals := s.series[q]
	n := s.calls["query "+q]
	s.calls["query "+q]++
	s.mu.Unlock()
	if len(vals) == 0 {
		http.Error(w, "unknown query "+q, http.StatusBadRequest)
		return
	}
	v := vals[min(n, len(vals)-1)]
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"%g"]}]}}`, time.Now().Unix(), v)
}

// unblock releases the requests held under /hold/.
func (s *service) unblock() { s.once.Do(func() { close(s.release) }) }

// requests returns the requests received so far, in order.
func (s *service) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// await waits for the request want ("METHOD /path") to arrive.
func (s *service) await(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case got := <-s.arrived:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("request %q never arrived; got %v", want, s.requests())
		}
	}
}

// interruptRunbook: two steps that change the world (each with an explicit
// rollback), then a step that hangs until it is interrupted. The rollback
// of "two" goes to /hold/, so a test can interrupt during it.
const interruptRunbook = `runbook "ctrl-c" {
  description = "Interrupted while a step hangs"
  window      = "1h"
}

provider "http" "svc" {
  base_url = %q
  timeout  = "2m"
}

step "http_request" "one" {
  provider = http.svc
  method   = "POST"
  url      = "/one"
  budget   = "1m"
  rollback "http_request" {
    provider = http.svc
    method   = "DELETE"
    url      = "/one"
  }
}

step "http_request" "two" {
  provider = http.svc
  method   = "POST"
  url      = "/two"
  budget   = "1m"
  rollback "http_request" {
    provider = http.svc
    method   = "DELETE"
    url      = "/hold/two"
  }
}

step "http_request" "wait" {
  provider = http.svc
  url      = "/hang/wait"
  timeout  = "2m"
  budget   = "2m"
}
`

// started is a running handrail process whose output is collected.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
	code           int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the binary in the background (no terminal, NO_COLOR).
func start(t *testing.T, dir string, args ...string) *started {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	s := &started{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	require.NoError(t, cmd.Start())
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.code = ee.ExitCode()
		} else if err != nil {
			s.code = -1
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *started) interrupt(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
}

// wait waits for the process to exit and returns its exit code.
func (s *started) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(timeout):
		t.Fatalf("handrail did not exit within %s\nstdout:\n%s\nstderr:\n%s", timeout, s.stdout, s.stderr)
		return -1
	}
}

// onlyRun returns the id of the only run in a state directory.
func onlyRun(t *testing.T, dir, state string) string {
	t.Helper()
	r := run(t, dir, "runs", "-state-dir", state, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var doc struct {
		Runs []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	require.Len(t, doc.Runs, 1)
	return doc.Runs[0]["id"].(string)
}

func TestInterruptOnceRollsBack(t *testing.T) {
	svc := newService(t)
	svc.unblock() // the rollback of "two" answers at once
	dir := t.TempDir()
	rb := writeFile(t, dir, "ctrlc.hcl", fmt.Sprintf(interruptRunbook, svc.URL))
	state := filepath.Join(dir, "state")

	p := start(t, dir, "apply", rb, "-state-dir", state)
	svc.await(t, "GET /hang/wait", 20*time.Second)
	p.interrupt(t)
	code := p.wait(t, 20*time.Second)
	out, errOut := p.stdout.String(), p.stderr.String()
	require.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, errOut, "Interrupted: stopping the run and rolling back")
	assert.Contains(t, errOut, "rolled back")
	assert.Contains(t, errOut, "two compensated")
	assert.Contains(t, errOut, "one compensated")
	assert.Empty(t, out, "progress goes to stderr")
	assert.Equal(t, []string{"POST /one", "POST /two", "GET /hang/wait", "DELETE /hold/two", "DELETE /one"}, svc.requests(),
		"compensations run in reverse order of completion; the interrupted step had nothing to undo")

	id := onlyRun(t, dir, state)
	r := run(t, dir, "show", id, "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rolled_back")
	assert.NotContains(t, r.stdout, "left to undo")
}

func TestInterruptTwiceStopsRollbackThenRollbackFinishes(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	rb := writeFile(t, dir, "ctrlc.hcl", fmt.Sprintf(interruptRunbook, svc.URL))
	state := filepath.Join(dir, "state")

	p := start(t, dir, "apply", rb, "-state-dir", state)
	svc.await(t, "GET /hang/wait", 20*time.Second)
	p.interrupt(t)
	// The rollback is compensating "two" (held by the service): a second
	// Ctrl-C lets that compensation finish and stops before "one".
	svc.await(t, "DELETE /hold/two", 20*time.Second)
	p.interrupt(t)
	require.Eventually(t, func() bool {
		return strings.Contains(p.stderr.String(), "Stopping the rollback after the current compensation")
	}, 10*time.Second, 10*time.Millisecond)
	svc.unblock()
	code := p.wait(t, 20*time.Second)
	out, errOut := p.stdout.String(), p.stderr.String()
	require.Equal(t, 3, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, errOut, "two compensated")
	assert.NotContains(t, errOut, "one compensated")
	assert.Contains(t, errOut, "left to undo: one")
	assert.Contains(t, errOut, "handrail rollback ")
	assert.NotContains(t, svc.requests(), "DELETE /one")

	id := onlyRun(t, dir, state)
	assert.Contains(t, errOut, "handrail rollback "+id, "the message names the command that finishes the rollback")
	r := run(t, dir, "show", id, "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "left to undo, in order: one")

	r = run(t, dir, "rollback", id, "-state-dir", state)
	assert.Equal(t, 2, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "one compensated")
	assert.NotContains(t, r.stderr, "two compensated", "what was compensated stays compensated")
	assert.Contains(t, r.stderr, "rolled back as requested (handrail rollback): compensated in this order: one.", "a requested rollback gives its reason")
	reqs := svc.requests()
	assert.Equal(t, "DELETE /one", reqs[len(reqs)-1])
	assert.Equal(t, 1, count(reqs, "DELETE /hold/two"))

	r = run(t, dir, "show", id, "-state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rolled_back")
	assert.NotContains(t, r.stdout, "left to undo")

	// The report shows the interrupted run and the later rollback.
	html := filepath.Join(dir, "report.html")
	r = run(t, dir, "report", id, "-state-dir", state, "-o", html)
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Contains(t, string(b), "handrail rollback</text>", "a marker where the later rollback started")
	assert.Contains(t, string(b), "Later processes")
	assert.Regexp(t, `(?s)⟲ two.*⟲ one`, string(b))
	if p := os.Getenv("HANDRAIL_INTERRUPT_REPORT"); p != "" {
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}

	// Nothing is left: a second rollback has nothing to do, says so and
	// calls nothing.
	r = run(t, dir, "rollback", id, "-state-dir", state)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Nothing to undo")
	assert.Equal(t, 1, count(svc.requests(), "DELETE /one"))
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}
