// Package faultnet injects ambiguous failures into real network
// conversations, for tests against real components (PostgreSQL, sshd, the
// Docker engine): a request goes through and takes effect, and its answer
// is lost, as on a connection reset after the server committed.
//
// A [Cut] decides which request loses its answer. [Cut.Conn] wraps a
// connection a client dials (a Docker client's dialer, pgx's DialFunc);
// [Proxy] forwards TCP connections to a server and applies a Cut to each,
// for clients whose dialer cannot be replaced.
package faultnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCut is wrapped by the error a client reads when its answer was
// dropped.
var ErrCut = errors.New("faultnet: connection reset by peer (the answer was dropped after the request went through)")

// Cut drops the answer to one request. Match sees everything the client
// writes on a connection, one write at a time, together with the tail of
// what it wrote before; the first write for which it returns true is sent
// on, and the server's answer to it is read (so the server has acted) and
// dropped: the client's read fails with [ErrCut] and the connection is
// closed. A Cut strikes once; [Cut.Fired] tells whether it did.
type Cut struct {
	// Match reports whether a write is the request whose answer is lost.
	Match func(written []byte) bool
	// Times is how many requests lose their answer (0: one).
	Times int
	// Before, when set, drops the matching request itself instead of its
	// answer: the server gets half of it and a reset, and the client's
	// write fails (a failure before the effect).
	Before bool
	// Answer, when set, replaces Match for protocols whose requests cannot
	// be read (SSH is encrypted): the cut strikes on the first answer that
	// arrives while Answer reports that the world shows the change (the
	// server acted), and drops it.
	Answer func() bool
	// OnFire, if set, is called when the cut strikes: with false when a
	// request was dropped (Before), with true once the server's answer
	// arrived (the server acted) and before the client sees the failure.
	OnFire func(applied bool)
	// Hold, when set, holds the answer instead of dropping it at once: the
	// connection stays open and silent for Hold, or until the client
	// closes it (a step's timeout gave up), and is then reset. It is a
	// timeout whose effect was applied.
	Hold time.Duration

	mu    sync.Mutex
	fired atomic.Int32
}

// Fired returns how many answers the cut dropped.
func (c *Cut) Fired() int { return int(c.fired.Load()) }

func (c *Cut) take(window []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.Times
	if limit <= 0 {
		limit = 1
	}
	if int(c.fired.Load()) >= limit {
		return false
	}
	if window == nil {
		// An answer, for a cut that watches the world.
		if c.Answer == nil || !c.Answer() {
			return false
		}
	} else if c.Match == nil || !c.Match(window) {
		return false
	}
	c.fired.Add(1)
	return true
}

// Conn wraps conn: writes are checked against the cut, and the answer to
// the matching request is dropped.
func (c *Cut) Conn(conn net.Conn) net.Conn {
	return &cutConn{Conn: conn, cut: c, closed: make(chan struct{})}
}

// tailSize is how much of the earlier writes Match sees with a write, so a
// request split over writes still matches.
const tailSize = 512

type cutConn struct {
	net.Conn
	cut       *Cut
	tail      []byte
	cutting   atomic.Bool
	fired     atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

// Close closes the connection and ends a held answer's wait.
func (c *cutConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// hold keeps a struck answer back for the cut's Hold, or until the
// connection is closed.
func (c *cutConn) hold() {
	if c.cut.Hold <= 0 {
		return
	}
	t := time.NewTimer(c.cut.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.closed:
	}
}

func (c *cutConn) Write(p []byte) (int, error) {
	window := append(append([]byte(nil), c.tail...), p...)
	if !c.cutting.Load() && c.cut.take(window) {
		if c.cut.Before {
			// Half the request leaves, then the connection resets: the
			// server discards a truncated request, and the client cannot
			// take it for one that never left (Go's HTTP transport
			// silently retries those).
			c.cutting.Store(true)
			// OnFire first: once the reset is out, the client may finish
			// (and its test check the fault) before this goroutine runs
			// again.
			if c.cut.OnFire != nil {
				c.cut.OnFire(false)
			}
			n, _ := c.Conn.Write(p[:len(p)/2])
			return n, c.reset(nil)
		}
		// Before the request leaves: a reader already blocked in Read
		// must see the flag when the answer arrives.
		c.cutting.Store(true)
	}
	n, err := c.Conn.Write(p)
	if len(window) > tailSize {
		window = window[len(window)-tailSize:]
	}
	c.tail = window
	return n, err
}

// Read passes answers through until the matching request was written; the
// next answer (the server has acted on the request) is dropped and the
// connection reset. The server's side is closed before OnFire runs, as if
// the client had died: a session the server ties to it (locks,
// transactions) ends.
func (c *cutConn) Read(p []byte) (int, error) {
	if !c.cutting.Load() {
		n, err := c.Conn.Read(p)
		if n > 0 && !c.cutting.Load() && c.cut.Answer != nil && c.cut.take(nil) {
			c.cutting.Store(true)
		}
		if !c.cutting.Load() || n == 0 {
			return n, err
		}
		// The request was written while this read waited: these bytes
		// are its answer.
		return 0, c.strike(nil)
	}
	if c.cut.Before {
		return 0, c.reset(nil)
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var one [1]byte
	_, rerr := io.ReadFull(c.Conn, one[:])
	if rerr != nil {
		return 0, c.reset(rerr)
	}
	return 0, c.strike(nil)
}

// strike ends the connection once the server's answer arrived. Dropped
// at once, the server's side is closed before OnFire runs; held, OnFire
// runs when the answer arrives (the effect is there to see) and the reset
// comes after the hold.
func (c *cutConn) strike(rerr error) error {
	if c.cut.Hold > 0 {
		c.fire()
		c.hold()
		return c.reset(rerr)
	}
	err := c.reset(rerr)
	c.fire()
	return err
}

func (c *cutConn) fire() {
	if c.cut.OnFire != nil && !c.fired.Swap(true) {
		c.cut.OnFire(true)
	}
}

func (c *cutConn) reset(rerr error) error {
	if tc, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0) // RST rather than FIN, as a reset would
	}
	_ = c.Conn.Close()
	if rerr != nil {
		return fmt.Errorf("%w (and reading the answer failed: %v)", ErrCut, rerr)
	}
	return ErrCut
}

// Proxy forwards every TCP connection it accepts to Target, through the
// cut when one is set.
type Proxy struct {
	ln     net.Listener
	target string
	cut    atomic.Pointer[Cut]
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// NewProxy listens on a loopback port and forwards to target
// ("127.0.0.1:55432").
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultnet: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address ("127.0.0.1:41234").
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetCut makes connections opened from now on go through c (nil: none).
func (p *Proxy) SetCut(c *Cut) { p.cut.Store(c) }

// Close stops accepting and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(server) {
		_ = client.Close()
		return
	}
	upstream := server
	if c := p.cut.Load(); c != nil {
		upstream = c.Conn(server)
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(upstream, client)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, upstream)
		done <- struct{}{}
	}()
	<-done
	if tc, ok := client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = client.Close()
	_ = upstream.Close() // the server, and a held answer's wait
	<-done
}
