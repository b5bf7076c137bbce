package nfs3

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestXDRRoundTrip(t *testing.T) {
	var e encoder
	e.u32(0xdeadbeef)
	e.u64(1<<40 + 7)
	e.bool(true)
	e.bool(false)
	e.opaque([]byte{1, 2, 3})
	e.string("hello")
	e.fixed([]byte{9, 9, 9, 9, 9, 9, 9, 9})
	if len(e.b)%4 != 0 {
		t.Fatalf("encoding of %d bytes is not padded", len(e.b))
	}
	want := []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 1, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0}
	if !bytes.Equal(e.b[:len(want)], want) {
		t.Fatalf("encoding = % x\nwant       % x", e.b[:len(want)], want)
	}
	d := decoder{b: e.b}
	if v := d.u32(); v != 0xdeadbeef {
		t.Errorf("u32 = %#x", v)
	}
	if v := d.u64(); v != 1<<40+7 {
		t.Errorf("u64 = %d", v)
	}
	if !d.bool() || d.bool() {
		t.Error("bools")
	}
	if v := d.opaque(10); !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Errorf("opaque = %v", v)
	}
	if v := d.string(10); v != "hello" {
		t.Errorf("string = %q", v)
	}
	if v := d.fixed(8); len(v) != 8 {
		t.Errorf("fixed = %v", v)
	}
	if d.err != nil || len(d.b) != 0 {
		t.Errorf("err %v, %d bytes left", d.err, len(d.b))
	}
}

func TestXDRMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(d *decoder)
	}{
		{"short u32", []byte{1, 2}, func(d *decoder) { d.u32() }},
		{"short u64", []byte{0, 0, 0, 1}, func(d *decoder) { d.u64() }},
		{"bool 2", []byte{0, 0, 0, 2}, func(d *decoder) { d.bool() }},
		{"opaque over max", []byte{0, 0, 0, 65}, func(d *decoder) { d.opaque(64) }},
		{"opaque past end", []byte{0, 0, 0, 8, 1, 2, 3, 4}, func(d *decoder) { d.opaque(64) }},
		{"missing padding", []byte{0, 0, 0, 1, 1}, func(d *decoder) { d.opaque(64) }},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff}, func(d *decoder) { d.opaque(1 << 30) }},
	} {
		d := decoder{b: tc.b}
		tc.read(&d)
		if !errors.Is(d.err, errShort) {
			t.Errorf("%s: err = %v, want errShort", tc.name, d.err)
		}
		if d.u32() != 0 {
			t.Errorf("%s: a read after the error returned data", tc.name)
		}
	}
}

// reply builds an RPC reply message (without record mark).
func reply(xid uint32, body func(e *encoder)) []byte {
	var e encoder
	e.u32(xid)
	e.u32(msgReply)
	body(&e)
	return e.b
}

func accepted(stat uint32, rest ...uint32) func(e *encoder) {
	return func(e *encoder) {
		e.u32(0) // MSG_ACCEPTED
		e.u32(authNone)
		e.opaque(nil)
		e.u32(stat)
		for _, v := range rest {
			e.u32(v)
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		msg     []byte
		results []byte
		rpcErr  bool
	}{
		{"success", reply(1, accepted(0, 7)), []byte{0, 0, 0, 7}, false},
		{"success, no results", reply(1, accepted(0)), []byte{}, false},
		{"prog unavail", reply(1, accepted(1)), nil, true},
		{"prog mismatch", reply(1, accepted(2, 2, 3)), nil, true},
		{"garbage args", reply(1, accepted(4)), nil, true},
		{"denied rpc mismatch", reply(1, func(e *encoder) { e.u32(1); e.u32(0); e.u32(2); e.u32(2) }), nil, true},
		{"denied auth", reply(1, func(e *encoder) { e.u32(1); e.u32(1); e.u32(5) }), nil, true},
		{"a call", func() []byte { var e encoder; e.u32(1); e.u32(msgCall); return e.b }(), nil, false},
		{"truncated", reply(1, accepted(0))[:14], nil, false},
		{"bad reply stat", reply(1, func(e *encoder) { e.u32(7) }), nil, false},
	} {
		res, err := parseReply(tc.msg)
		var re *rpcError
		switch {
		case tc.results != nil:
			if err != nil || !bytes.Equal(res, tc.results) {
				t.Errorf("%s: parseReply = %v, %v; want %v", tc.name, res, err, tc.results)
			}
		case tc.rpcErr:
			if !errors.As(err, &re) || !errors.Is(err, syscall.EIO) {
				t.Errorf("%s: error %v, want an RPC error wrapping EIO", tc.name, err)
			}
		default:
			if !errors.Is(err, errShort) {
				t.Errorf("%s: error %v, want errShort", tc.name, err)
			}
		}
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add(reply(1, accepted(0, 7)))
	f.Add(reply(1, accepted(2, 2, 3)))
	f.Add(reply(1, func(e *encoder) { e.u32(1); e.u32(1); e.u32(5) }))
	var e encoder
	e.u32(0)
	e.bool(true)
	e.b = append(e.b, make([]byte, 84)...)
	f.Add(reply(2, accepted(0, 0, 1)))
	f.Fuzz(func(t *testing.T, msg []byte) {
		res, err := parseReply(msg)
		if err == nil {
			if len(res) > len(msg) {
				t.Fatalf("results longer than the message")
			}
			// The NFS result decoders must not panic on any results.
			for _, dec := range []func(d *decoder){
				func(d *decoder) { d.u32(); d.postOpAttr(); d.wcc() },
				func(d *decoder) { d.u32(); d.postOpFH(); d.postOpAttr(); d.wcc() },
				func(d *decoder) { d.fattr() },
				func(d *decoder) {
					d.u32()
					d.postOpAttr()
					d.fixed(8)
					for d.bool() {
						d.u64()
						d.string(maxName)
						d.u64()
					}
				},
			} {
				dec(&decoder{b: res})
			}
		}
	})
}

// fakeServer is a minimal ONC RPC server over TCP for the transport tests:
// handle returns the results of a call, or nil to drop it unanswered.
type fakeServer struct {
	t      *testing.T
	ln     net.Listener
	handle func(xid uint32, conn int, remote *net.TCPAddr) []byte
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newFakeServer(t *testing.T, handle func(xid uint32, conn int, remote *net.TCPAddr) []byte) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, handle: handle}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c, n)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) serve(c net.Conn, n int) {
	defer c.Close()
	hdr := make([]byte, 4)
	for {
		if _, err := readFull(c, hdr); err != nil {
			return
		}
		rec := make([]byte, binary.BigEndian.Uint32(hdr)&0x7fffffff)
		if _, err := readFull(c, rec); err != nil {
			return
		}
		xid := binary.BigEndian.Uint32(rec)
		res := s.handle(xid, n, c.RemoteAddr().(*net.TCPAddr))
		if res == nil {
			continue
		}
		msg := reply(xid, accepted(0))
		msg = append(msg, res...)
		out := binary.BigEndian.AppendUint32(nil, 0x80000000|uint32(len(msg)))
		if _, err := c.Write(append(out, msg...)); err != nil {
			return
		}
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func testRPC(addr string, soft bool) (*rpcClient, *counters) {
	st := &counters{}
	cfg := rpcConfig{timeo: 50 * time.Millisecond, retrans: 2, soft: soft, dialTimeout: time.Second, machine: "test"}
	return newRPCClient(addr, progNFS, 3, cfg, st), st
}

func TestRetransmitSameXID(t *testing.T) {
	var mu sync.Mutex
	var xids []uint32
	s := newFakeServer(t, func(xid uint32, _ int, _ *net.TCPAddr) []byte {
		mu.Lock()
		defer mu.Unlock()
		xids = append(xids, xid)
		if len(xids) < 3 {
			return nil // lose the first two
		}
		return []byte{0, 0, 0, 42}
	})
	c, st := testRPC(s.ln.Addr().String(), false)
	defer c.close()
	res, err := c.call(procNull, nil)
	if err != nil || !bytes.Equal(res, []byte{0, 0, 0, 42}) {
		t.Fatalf("call = %v, %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(xids) != 3 || xids[0] != xids[1] || xids[1] != xids[2] {
		t.Errorf("server saw XIDs %v, want one XID three times", xids)
	}
	if n := st.retransmits.Load(); n != 2 {
		t.Errorf("retransmits = %d, want 2", n)
	}
}

func TestSoftTimeout(t *testing.T) {
	var mu sync.Mutex
	n := 0
	s := newFakeServer(t, func(uint32, int, *net.TCPAddr) []byte {
		mu.Lock()
		defer mu.Unlock()
		n++
		return nil
	})
	c, st := testRPC(s.ln.Addr().String(), true)
	defer c.close()
	_, err := c.call(procNull, nil)
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("call = %v, want ETIMEDOUT", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 3 || st.timeouts.Load() != 1 || st.retransmits.Load() != 2 {
		t.Errorf("server saw %d calls, timeouts %d, retransmits %d; want 3, 1, 2", n, st.timeouts.Load(), st.retransmits.Load())
	}
}

// A connection reset mid-call: the call goes again on a new connection,
// from the same local port, with the same XID.
func TestReconnectSamePort(t *testing.T) {
	type seen struct {
		xid  uint32
		conn int
		port int
	}
	var mu sync.Mutex
	var calls []seen
	var s *fakeServer
	s = newFakeServer(t, func(xid uint32, conn int, remote *net.TCPAddr) []byte {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, seen{xid, conn, remote.Port})
		if len(calls) == 1 {
			s.mu.Lock()
			tc := s.conns[conn].(*net.TCPConn)
			s.mu.Unlock()
			tc.SetLinger(0)
			tc.Close() // a reset, the call unanswered
			return nil
		}
		return []byte{}
	})
	c, st := testRPC(s.ln.Addr().String(), false)
	defer c.close()
	if _, err := c.call(procNull, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0].xid != calls[1].xid || calls[0].conn == calls[1].conn || calls[0].port != calls[1].port {
		t.Errorf("calls %+v: want the same XID on a second connection from the same port", calls)
	}
	if st.reconnects.Load() != 1 || st.retransmits.Load() != 1 {
		t.Errorf("reconnects %d, retransmits %d; want 1, 1", st.reconnects.Load(), st.retransmits.Load())
	}
}

func TestCloseUnblocksHardCall(t *testing.T) {
	s := newFakeServer(t, func(uint32, int, *net.TCPAddr) []byte { return nil })
	c, _ := testRPC(s.ln.Addr().String(), false)
	done := make(chan error, 1)
	go func() {
		_, err := c.call(procNull, nil)
		done <- err
	}()
	time.Sleep(120 * time.Millisecond)
	c.close()
	if err := <-done; !errors.Is(err, errClosed) {
		t.Errorf("call after close = %v, want errClosed", err)
	}
}

// Dial gives up when its context is done, whatever the server does.
func TestDialContext(t *testing.T) {
	s := newFakeServer(t, func(uint32, int, *net.TCPAddr) []byte { return nil }) // answers nothing
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	addr := s.ln.Addr().String()
	_, err := Dial(ctx, addr+":/export", WithMountAddr(addr))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want context.DeadlineExceeded", err)
	}
}
