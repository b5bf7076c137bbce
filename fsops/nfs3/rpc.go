package nfs3

import (
	"context"
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

// ONC RPC version 2 (RFC 5531) over TCP with record marking, as a
// kernel client does it: one connection at a time, calls multiplexed on it
// by XID; a call unanswered after its timeout is sent again with the same
// XID (so that the server's duplicate request cache can recognise it), on
// the same connection if it is alive, else on a new one made from the same
// local port. A hard client retries for ever; a soft one gives up with
// ETIMEDOUT after retrans retransmissions.

const (
	msgCall  = 0
	msgReply = 1

	authNone = 0
	authSys  = 1

	maxRecord = 4 << 20 // larger replies are a protocol error
)

// errClosed is returned by calls on a closed client.
var errClosed = errors.New("nfs3: client closed")

// rpcError is an RPC-level failure: the call was refused (denied, or not
// accepted), not an NFS status.
type rpcError struct{ msg string }

func (e *rpcError) Error() string { return "nfs3: rpc: " + e.msg }

// Unwrap makes errors.Is(err, syscall.EIO) true for RPC failures.
func (e *rpcError) Unwrap() error { return syscall.EIO }

type rpcConfig struct {
	timeo   time.Duration // first timeout; each retransmission adds it again (TCP)
	retrans int           // soft: give up after this many retransmissions
	soft    bool
	uid     uint32
	gid     uint32
	machine string
	// newPortOnReconnect makes reconnections use a fresh local port
	// (the kernel reuses its port so that the server's duplicate request
	// cache, keyed by client address, still applies).
	newPortOnReconnect bool
	dialTimeout        time.Duration
}

// counters are the client's statistics, shared by its rpc clients.
type counters struct {
	calls       [nprocs]atomic.Uint64
	mountCalls  atomic.Uint64
	retransmits atomic.Uint64
	timeouts    atomic.Uint64 // soft calls given up
	reconnects  atomic.Uint64
	lateReplies atomic.Uint64 // replies for no call waiting (answered twice, or after we gave up)
	jukebox     atomic.Uint64
}

// rpcClient is one server address (host:port) and program.
type rpcClient struct {
	addr  string
	prog  uint32
	vers  uint32
	cfg   rpcConfig
	stats *counters
	cred  []byte // the encoded AUTH_SYS credential

	ctx     context.Context // cancelled by close
	cancel  context.CancelFunc
	closing <-chan struct{} // ctx.Done()
	readers sync.WaitGroup  // one reader goroutine per connection

	mu        sync.Mutex
	cur       *rconn // nil: none
	dialed    bool   // a connection was made before: the next one is a reconnection
	localPort int
	lastDial  time.Time
	dialBack  time.Duration
	xid       uint32
}

// rconn is one TCP connection and the calls waiting for replies on it.
type rconn struct {
	c    *net.TCPConn
	wmu  sync.Mutex // one record at a time
	mu   sync.Mutex
	wait map[uint32]chan []byte
	dead chan struct{} // closed when the connection is lost
	once sync.Once
}

func newRPCClient(addr string, prog, vers uint32, cfg rpcConfig, stats *counters) *rpcClient {
	c := &rpcClient{addr: addr, prog: prog, vers: vers, cfg: cfg, stats: stats, xid: rand.Uint32()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.closing = c.ctx.Done()
	var e encoder
	e.u32(uint32(time.Now().Unix()))
	e.string(cfg.machine)
	e.u32(cfg.uid)
	e.u32(cfg.gid)
	e.u32(1) // auxiliary groups: the primary group
	e.u32(cfg.gid)
	c.cred = e.b
	return c
}

// close fails every call in progress and joins the reader goroutines.
func (c *rpcClient) close() {
	c.cancel()
	c.mu.Lock()
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cur != nil {
		cur.kill()
	}
	c.readers.Wait()
}

// dropConn abandons the current connection (tests use it to force a
// reconnection, as a network reset would).
func (c *rpcClient) dropConn() {
	c.mu.Lock()
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cur != nil {
		cur.kill()
	}
}

func (rc *rconn) kill() {
	rc.once.Do(func() {
		_ = rc.c.SetLinger(0) // a reset, no TIME_WAIT: the port can be reused at once
		_ = rc.c.Close()
		close(rc.dead)
	})
}

// conn returns the live connection, making one if there is none. It does
// not wait past deadline.
func (c *rpcClient) conn(deadline time.Time) (*rconn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		select {
		case <-c.closing:
			return nil, errClosed
		default:
		}
		if c.cur != nil {
			select {
			case <-c.cur.dead:
				c.cur = nil
			default:
				return c.cur, nil
			}
		}
		// Reconnections are paced, so that a server that refuses
		// connections is not hammered.
		if wait := time.Until(c.lastDial.Add(c.dialBack)); wait > 0 {
			if time.Now().Add(wait).After(deadline) {
				return nil, syscall.ETIMEDOUT
			}
			c.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.closing:
			}
			t.Stop()
			c.mu.Lock()
			continue
		}
		c.lastDial = time.Now()
		rc, err := c.dial(deadline)
		if err != nil {
			c.dialBack = min(max(2*c.dialBack, 50*time.Millisecond), time.Second)
			return nil, err
		}
		c.dialBack = 0
		if c.dialed {
			c.stats.reconnects.Add(1)
		}
		c.dialed = true
		c.cur = rc
		c.readers.Add(1)
		go func() {
			defer c.readers.Done()
			c.read(rc)
		}()
		return rc, nil
	}
}

// dial connects, from the local port of the previous connection if there
// was one. Called with c.mu held.
func (c *rpcClient) dial(deadline time.Time) (*rconn, error) {
	timeout := min(time.Until(deadline), c.cfg.dialTimeout)
	if timeout <= 0 {
		return nil, syscall.ETIMEDOUT
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	d := net.Dialer{Control: reuseAddr}
	var nc net.Conn
	var err error
	if c.localPort != 0 && !c.cfg.newPortOnReconnect {
		d.LocalAddr = &net.TCPAddr{Port: c.localPort}
		nc, err = d.DialContext(ctx, "tcp", c.addr)
		if err != nil && ctx.Err() == nil {
			d.LocalAddr = nil // the port is taken: any port will do
			nc, err = d.DialContext(ctx, "tcp", c.addr)
		}
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return nil, err
	}
	tc := nc.(*net.TCPConn)
	_ = tc.SetNoDelay(true)
	c.localPort = tc.LocalAddr().(*net.TCPAddr).Port
	return &rconn{c: tc, wait: make(map[uint32]chan []byte), dead: make(chan struct{})}, nil
}

// read delivers replies to the calls waiting for them until the
// connection fails.
func (c *rpcClient) read(rc *rconn) {
	defer rc.kill()
	var hdr [4]byte
	for {
		var rec []byte
		for last := false; !last; {
			if _, err := io.ReadFull(rc.c, hdr[:]); err != nil {
				return
			}
			h := binary.BigEndian.Uint32(hdr[:])
			last = h&0x80000000 != 0
			n := int(h & 0x7fffffff)
			if len(rec)+n > maxRecord {
				return
			}
			start := len(rec)
			rec = append(rec, make([]byte, n)...)
			if _, err := io.ReadFull(rc.c, rec[start:]); err != nil {
				return
			}
		}
		if len(rec) < 8 || binary.BigEndian.Uint32(rec[4:]) != msgReply {
			continue // not a reply: ignore, as a kernel does
		}
		xid := binary.BigEndian.Uint32(rec)
		rc.mu.Lock()
		ch := rc.wait[xid]
		delete(rc.wait, xid)
		rc.mu.Unlock()
		if ch == nil {
			c.stats.lateReplies.Add(1)
			continue
		}
		select {
		case ch <- rec:
		default: // the call has its reply already (a retransmission answered twice)
			c.stats.lateReplies.Add(1)
		}
	}
}

// record builds the call message with its record mark.
func (c *rpcClient) record(xid, proc uint32, args []byte) []byte {
	var e encoder
	e.b = make([]byte, 0, 4+40+len(c.cred)+len(args))
	e.u32(0) // record mark, filled in below
	e.u32(xid)
	e.u32(msgCall)
	e.u32(2) // RPC version
	e.u32(c.prog)
	e.u32(c.vers)
	e.u32(proc)
	e.u32(authSys)
	e.opaque(c.cred)
	e.u32(authNone)
	e.u32(0)
	e.b = append(e.b, args...)
	binary.BigEndian.PutUint32(e.b, 0x80000000|uint32(len(e.b)-4))
	return e.b
}

// call sends the procedure with its encoded arguments and returns the
// encoded results of a successful reply.
func (c *rpcClient) call(proc uint32, args []byte) ([]byte, error) {
	c.mu.Lock()
	c.xid++
	xid := c.xid
	c.mu.Unlock()
	return c.callXID(xid, proc, args)
}

// callXID is call with a given XID (tests replay calls with it).
func (c *rpcClient) callXID(xid, proc uint32, args []byte) ([]byte, error) {
	rec := c.record(xid, proc, args)
	ch := make(chan []byte, 1)
	timeout := c.cfg.timeo
	deadline := time.Now().Add(timeout)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	sent := false
	tries := 0
	var last *rconn // the connection the call is registered on
	defer func() {
		if last != nil {
			last.mu.Lock()
			delete(last.wait, xid)
			last.mu.Unlock()
		}
	}()
	for {
		rc, err := c.conn(deadline)
		if errors.Is(err, errClosed) {
			return nil, err
		}
		if err == nil {
			rc.mu.Lock()
			rc.wait[xid] = ch
			rc.mu.Unlock()
			last = rc
			if sent {
				c.stats.retransmits.Add(1)
			}
			sent = true
			rc.wmu.Lock()
			_, werr := rc.c.Write(rec)
			rc.wmu.Unlock()
			if werr != nil {
				rc.kill()
			}
			select {
			case rep := <-ch:
				return c.parseReply(xid, rep)
			case <-rc.dead:
				// Lost with the connection: send it again at once on a
				// new one, within the same timeout. A reply that came
				// just before is taken.
				select {
				case rep := <-ch:
					return c.parseReply(xid, rep)
				default:
				}
				rc.mu.Lock()
				delete(rc.wait, xid)
				rc.mu.Unlock()
				if time.Now().Before(deadline) {
					continue
				}
			case <-timer.C:
				rc.mu.Lock()
				delete(rc.wait, xid)
				rc.mu.Unlock()
				select { // a reply that raced the timer
				case rep := <-ch:
					return c.parseReply(xid, rep)
				default:
				}
			case <-c.closing:
				return nil, errClosed
			}
		} else if time.Now().Before(deadline) {
			// No connection yet: try again until the timeout.
			select {
			case <-timer.C:
			case <-c.closing:
				return nil, errClosed
			case <-time.After(min(time.Until(deadline), 50*time.Millisecond)):
				continue
			}
		}
		// A timeout: retransmit, or give up if soft.
		tries++
		if c.cfg.soft && tries > c.cfg.retrans {
			c.stats.timeouts.Add(1)
			return nil, syscall.ETIMEDOUT
		}
		timeout = min(timeout+c.cfg.timeo, 600*time.Second)
		deadline = time.Now().Add(timeout)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(timeout)
	}
}

// parseReply checks a reply message and returns its results.
func (c *rpcClient) parseReply(xid uint32, rep []byte) ([]byte, error) {
	res, err := parseReply(rep)
	if err != nil {
		return nil, fmt.Errorf("%w (xid %#x, program %d)", err, xid, c.prog)
	}
	return res, nil
}

// parseReply parses an RPC reply message (without record mark) and returns
// the results of an accepted, successful call.
func parseReply(rep []byte) ([]byte, error) {
	d := decoder{b: rep}
	d.u32() // xid
	if d.u32() != msgReply {
		d.fail()
	}
	switch stat := d.u32(); {
	case d.err != nil:
	case stat == 0: // MSG_ACCEPTED
		d.u32()       // verifier flavor
		d.opaque(400) // verifier body
		as := d.u32() // accept_stat
		if d.err != nil {
			break
		}
		switch as {
		case 0: // SUCCESS
			return d.b, nil
		case 1:
			return nil, &rpcError{"program unavailable"}
		case 2:
			lo, hi := d.u32(), d.u32()
			return nil, &rpcError{fmt.Sprintf("program version mismatch (server has %d to %d)", lo, hi)}
		case 3:
			return nil, &rpcError{"procedure unavailable"}
		case 4:
			return nil, &rpcError{"garbage arguments"}
		case 5:
			return nil, &rpcError{"system error"}
		default:
			return nil, &rpcError{fmt.Sprintf("accept status %d", as)}
		}
	case stat == 1: // MSG_DENIED
		switch rs := d.u32(); rs {
		case 0:
			lo, hi := d.u32(), d.u32()
			return nil, &rpcError{fmt.Sprintf("RPC version mismatch (server has %d to %d)", lo, hi)}
		case 1:
			return nil, &rpcError{fmt.Sprintf("authentication error %d", d.u32())}
		default:
			return nil, &rpcError{fmt.Sprintf("denied, status %d", rs)}
		}
	default:
		d.fail()
	}
	return nil, errShort
}

// reuseAddr sets SO_REUSEADDR so that a reconnection can bind the port of
// the connection it replaces.
func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setReuseAddr(fd) }); err != nil {
		return err
	}
	return serr
}
