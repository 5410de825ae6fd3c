package faultnet_test

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/faultnet"
)

// lineServer answers each line it reads with "ok <line>" and records the
// lines, as a server that acts on a request before answering.
type lineServer struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					s.mu.Lock()
					s.seen = append(s.seen, strings.TrimSpace(line))
					s.mu.Unlock()
					if _, err := c.Write([]byte("ok " + line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *lineServer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func ask(c net.Conn, line string) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

func TestProxyDropsTheAnswerAfterTheEffect(t *testing.T) {
	s := newLineServer(t)
	p, err := faultnet.NewProxy(s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fired := make(chan bool, 2)
	p.SetCut(&faultnet.Cut{Match: func(w []byte) bool { return strings.Contains(string(w), "commit") },
		OnFire: func(applied bool) { fired <- applied }})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := ask(c, "begin"); err != nil || got != "ok begin\n" {
		t.Fatalf("an unmatched request must pass: %q, %v", got, err)
	}
	got, err := ask(c, "commit")
	if err == nil {
		t.Fatalf("the answer to commit must be lost, got %q", got)
	}
	if want := []string{"begin", "commit"}; strings.Join(s.lines(), ",") != strings.Join(want, ",") {
		t.Fatalf("the server saw %v, want %v: the request must go through", s.lines(), want)
	}
	select {
	case applied := <-fired:
		if !applied {
			t.Fatal("OnFire(false): the request went through, so the effect was applied")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnFire was not called")
	}
}

func TestCutBeforeSendsHalfAndFails(t *testing.T) {
	s := newLineServer(t)
	raw, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cut := &faultnet.Cut{Before: true, Match: func(w []byte) bool { return strings.Contains(string(w), "deploy") }}
	c := cut.Conn(raw)
	defer c.Close()
	n, err := c.Write([]byte("deploy 0.3.0\n"))
	if !errors.Is(err, faultnet.ErrCut) || n >= len("deploy 0.3.0\n") {
		t.Fatalf("write: %d, %v; want a short write failing with ErrCut", n, err)
	}
	time.Sleep(100 * time.Millisecond)
	if len(s.lines()) != 0 {
		t.Fatalf("the server acted on %v: a request cut before must not take effect", s.lines())
	}
	if cut.Fired() != 1 {
		t.Fatalf("fired %d times, want 1", cut.Fired())
	}
}

func TestCutOnWorldStateDropsTheNextAnswer(t *testing.T) {
	s := newLineServer(t)
	raw, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cut := &faultnet.Cut{Answer: func() bool {
		for _, l := range s.lines() {
			if l == "write" {
				return true
			}
		}
		return false
	}}
	c := cut.Conn(raw)
	defer c.Close()
	if got, err := ask(c, "read"); err != nil || got != "ok read\n" {
		t.Fatalf("before the change answers pass: %q, %v", got, err)
	}
	if got, err := ask(c, "write"); !errors.Is(err, faultnet.ErrCut) {
		t.Fatalf("after the change the answer is dropped: %q, %v", got, err)
	}
}

// A held answer: the request takes effect, the client hears nothing until
// it gives up and closes; the proxy then lets go at once, not after Hold.
func TestHoldKeepsTheAnswerUntilTheClientGivesUp(t *testing.T) {
	s := newLineServer(t)
	p, err := faultnet.NewProxy(s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fired := make(chan bool, 2)
	p.SetCut(&faultnet.Cut{Hold: time.Hour, Match: func(w []byte) bool { return strings.Contains(string(w), "commit") },
		OnFire: func(applied bool) { fired <- applied }})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("commit\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case applied := <-fired:
		if !applied {
			t.Fatal("OnFire(false): the request went through")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnFire was not called when the answer arrived")
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var buf [64]byte
	n, err := c.Read(buf[:])
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the held answer must not arrive: read %q, %v", buf[:n], err)
	}
	if got := s.lines(); len(got) != 1 || got[0] != "commit" {
		t.Fatalf("the server saw %v: the request must have taken effect", got)
	}
	// The client gives up; a new connection works at once.
	_ = c.Close()
	p.SetCut(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c2, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Error(err)
			return
		}
		defer c2.Close()
		if got, err := ask(c2, "again"); err != nil || got != "ok again\n" {
			t.Errorf("after the hold: %q, %v", got, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a new connection did not get through")
	}
	closed := make(chan struct{})
	go func() { _ = p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the proxy's Close waited on the held answer: closing the client must end the hold")
	}
}
