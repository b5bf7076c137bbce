//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proxy is a fault-injecting TCP proxy for ONC RPC record streams (NFS
// over TCP): one front port per client, each forwarding to the server. It
// works on whole records, and per record it may
//
//   - drop a request (the client retransmits after its timeout) or a reply
//     (the server executed the call; the retransmission meets its
//     duplicate request cache);
//   - delay a request, or send it and a late duplicate of it (the server
//     may execute it again after other calls);
//   - forward a request and reset both connections at once (the client
//     reconnects and retransmits on a new connection, where duplicate
//     request caches are known to miss);
//   - drop everything of one client while it is blackholed (a partition:
//     its connection stays up, its calls go unanswered).
//
// It counts what it did. Every goroutine belongs to the proxy and is
// joined by close.
type proxy struct {
	upstream string
	faults   proxyFaults
	fronts   []*front
	wg       sync.WaitGroup
	mu       sync.Mutex
	rng      *rand.Rand
	closed   bool
	conns    map[*pipe]struct{}
	localIP  net.IP // the address the upstream connections come from
	stats    proxyStats
}

type proxyFaults struct {
	DropRequests float64       // per request
	DropReplies  float64       // per reply
	DupRequests  float64       // per request: also sent again after a delay up to DupDelay
	DupDelay     time.Duration //
	DelayP       float64       // per request: held back up to DupDelay before it is forwarded
	Resets       float64       // per request: forwarded, then both connections reset
	// NewPorts makes each upstream connection come from a new port, not
	// from its client's: a reconnected client then reaches the server
	// from another address, whose duplicate request cache (ganesha's is
	// per client address and port) does not know its calls. Late
	// duplicates then go over a connection of their own too, and are
	// executed again.
	NewPorts bool
}

type proxyStats struct {
	requests, replies, droppedRequests, droppedReplies, duplicates, delayed, resets, blackholed atomic.Int64
}

func (s *proxyStats) String() string {
	return fmt.Sprintf("requests=%d replies=%d dropped-requests=%d dropped-replies=%d duplicates=%d delayed=%d resets=%d blackholed=%d",
		s.requests.Load(), s.replies.Load(), s.droppedRequests.Load(), s.droppedReplies.Load(),
		s.duplicates.Load(), s.delayed.Load(), s.resets.Load(), s.blackholed.Load())
}

// front is one client's port.
type front struct {
	ln    net.Listener
	until atomic.Int64 // blackholed until this UnixNano
}

// pipe is one client connection and its upstream connection.
type pipe struct {
	f          *front
	client, up *net.TCPConn
	wmu        sync.Mutex // writes to up
	cmu        sync.Mutex // writes to client
	once       sync.Once
	done       chan struct{}
}

func newProxy(upstream string, clients int, faults proxyFaults, seed uint64) (*proxy, error) {
	p := &proxy{upstream: upstream, faults: faults, rng: rand.New(rand.NewPCG(seed, 0x70726f7879)), conns: make(map[*pipe]struct{})}
	// The upstream connections come from the address the server sees us
	// at; each takes the port of its client's connection, so that a
	// client that reconnects from its port (as Linux does) reaches the
	// server from the same address and port too.
	probe, err := net.DialTimeout("tcp", upstream, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %s: %w", upstream, err)
	}
	p.localIP = probe.LocalAddr().(*net.TCPAddr).IP
	probe.Close()
	for range clients {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.close()
			return nil, err
		}
		f := &front{ln: ln}
		p.fronts = append(p.fronts, f)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.accept(f)
		}()
	}
	return p, nil
}

// addr is client i's front address.
func (p *proxy) addr(i int) string { return p.fronts[i].ln.Addr().String() }

// blackhole drops everything to and from client i for d.
func (p *proxy) blackhole(i int, d time.Duration) {
	p.fronts[i].until.Store(time.Now().Add(d).UnixNano())
}

func (p *proxy) unblackhole(i int) { p.fronts[i].until.Store(0) }

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, f := range p.fronts {
		f.ln.Close()
	}
	for c := range p.conns {
		c.reset()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) chance(x float64) bool {
	if x <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < x
}

func (p *proxy) upTo(d time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Duration(p.rng.Int64N(int64(d) + 1))
}

func (p *proxy) accept(f *front) {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		client := c.(*net.TCPConn)
		port := client.RemoteAddr().(*net.TCPAddr).Port
		if p.faults.NewPorts {
			port = 0
		}
		up, err := p.dialUp(port)
		if err != nil {
			_ = client.SetLinger(0)
			client.Close()
			continue
		}
		pp := &pipe{f: f, client: client, up: up, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pp.reset()
			return
		}
		p.conns[pp] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			p.requests(pp)
		}()
		go func() {
			defer p.wg.Done()
			p.replies(pp)
		}()
	}
}

func (p *proxy) dialUp(port int) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	d.LocalAddr = &net.TCPAddr{IP: p.localIP, Port: port}
	c, err := d.Dial("tcp", p.upstream)
	if err != nil {
		d.LocalAddr = &net.TCPAddr{IP: p.localIP}
		c, err = d.Dial("tcp", p.upstream)
	}
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// reset closes both connections with RST.
func (pp *pipe) reset() {
	pp.once.Do(func() {
		_ = pp.client.SetLinger(0)
		_ = pp.up.SetLinger(0)
		pp.client.Close()
		pp.up.Close()
		close(pp.done)
	})
}

func (pp *pipe) blackholed() bool { return time.Now().UnixNano() < pp.f.until.Load() }

// readRecord reads one RPC record (all its fragments), with its marks.
func readRecord(r io.Reader) ([]byte, error) {
	var rec []byte
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h & 0x7fffffff)
		if len(rec)+n > 8<<20 {
			return nil, errors.New("proxy: record too large")
		}
		start := len(rec)
		rec = append(rec, hdr[:]...)
		rec = append(rec, make([]byte, n)...)
		if _, err := io.ReadFull(r, rec[start+4:]); err != nil {
			return nil, err
		}
		if h&0x80000000 != 0 {
			return rec, nil
		}
	}
}

func (p *proxy) forget(pp *pipe) {
	pp.reset()
	p.mu.Lock()
	delete(p.conns, pp)
	p.mu.Unlock()
}

// sendUp writes a request record upstream, unless the pipe is gone.
func (pp *pipe) sendUp(rec []byte) error {
	pp.wmu.Lock()
	defer pp.wmu.Unlock()
	_, err := pp.up.Write(rec)
	return err
}

func (p *proxy) requests(pp *pipe) {
	var later sync.WaitGroup // delayed and duplicated records
	defer later.Wait()       // after forget: a reset ends their waits
	defer p.forget(pp)
	for {
		rec, err := readRecord(pp.client)
		if err != nil {
			return
		}
		p.stats.requests.Add(1)
		if pp.blackholed() {
			p.stats.blackholed.Add(1)
			continue
		}
		if p.chance(p.faults.DropRequests) {
			p.stats.droppedRequests.Add(1)
			continue
		}
		sendLater := func(d time.Duration) {
			later.Add(1)
			go func() {
				defer later.Done()
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
					if !pp.blackholed() {
						_ = pp.sendUp(rec)
					}
				case <-pp.done:
				}
			}()
		}
		if p.faults.DupDelay > 0 && p.chance(p.faults.DelayP) {
			p.stats.delayed.Add(1)
			sendLater(p.upTo(p.faults.DupDelay))
			continue
		}
		if err := pp.sendUp(rec); err != nil {
			return
		}
		if p.faults.DupDelay > 0 && p.chance(p.faults.DupRequests) {
			p.stats.duplicates.Add(1)
			if p.faults.NewPorts {
				d := p.upTo(p.faults.DupDelay)
				later.Add(1)
				go func() {
					defer later.Done()
					p.dupElsewhere(pp, rec, d)
				}()
			} else {
				sendLater(p.upTo(p.faults.DupDelay))
			}
		}
		if p.chance(p.faults.Resets) {
			// Mid-call: the server has the request, the client will
			// never see its reply on this connection.
			p.stats.resets.Add(1)
			time.Sleep(time.Millisecond) // let it reach the server first
			return
		}
	}
}

// dupElsewhere sends rec to the server after d over a connection of its
// own, from a new port, and discards the reply: a late duplicate that no
// duplicate request cache of the client's connection can recognise.
func (p *proxy) dupElsewhere(pp *pipe, rec []byte, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-pp.done:
		return
	}
	if pp.blackholed() {
		return
	}
	up, err := p.dialUp(0)
	if err != nil {
		return
	}
	defer func() {
		_ = up.SetLinger(0)
		up.Close()
	}()
	_ = up.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := up.Write(rec); err == nil {
		_, _ = readRecord(up) // executed once the reply comes
	}
}

func (p *proxy) replies(pp *pipe) {
	defer p.forget(pp)
	for {
		rec, err := readRecord(pp.up)
		if err != nil {
			return
		}
		p.stats.replies.Add(1)
		if pp.blackholed() {
			p.stats.blackholed.Add(1)
			continue
		}
		if p.chance(p.faults.DropReplies) {
			p.stats.droppedReplies.Add(1)
			continue
		}
		pp.cmu.Lock()
		_, err = pp.client.Write(rec)
		pp.cmu.Unlock()
		if err != nil {
			return
		}
	}
}
