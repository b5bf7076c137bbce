//go:build linux

package main

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer answers every record with itself, like an RPC server whose
// replies carry the request's XID.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					rec, err := readRecord(c)
					if err != nil {
						return
					}
					if _, err := c.Write(rec); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func record(xid uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x80000000|4)
	return binary.BigEndian.AppendUint32(b, xid)
}

// roundTrip sends a record and reports whether its echo came back within
// wait, or the connection failed.
func roundTrip(t *testing.T, c net.Conn, xid uint32, wait time.Duration) (answered, failed bool) {
	t.Helper()
	if _, err := c.Write(record(xid)); err != nil {
		return false, true
	}
	c.SetReadDeadline(time.Now().Add(wait))
	rec, err := readRecord(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false, false
	}
	if err != nil {
		return false, true
	}
	if got := binary.BigEndian.Uint32(rec[4:]); got != xid {
		t.Errorf("echo of %d: %d", xid, got)
	}
	return true, false
}

func TestProxyFaults(t *testing.T) {
	up := echoServer(t)
	for _, tc := range []struct {
		name   string
		faults proxyFaults
		check  func(t *testing.T, p *proxy, c net.Conn)
	}{
		{"clean", proxyFaults{}, func(t *testing.T, p *proxy, c net.Conn) {
			for i := range 20 {
				if ok, _ := roundTrip(t, c, uint32(i), time.Second); !ok {
					t.Fatalf("record %d not answered", i)
				}
			}
		}},
		{"replies dropped", proxyFaults{DropReplies: 1}, func(t *testing.T, p *proxy, c net.Conn) {
			if ok, failed := roundTrip(t, c, 1, 100*time.Millisecond); ok || failed {
				t.Errorf("answered %v, failed %v; want a silent drop", ok, failed)
			}
			if p.stats.droppedReplies.Load() != 1 || p.stats.requests.Load() != 1 {
				t.Errorf("stats %v", &p.stats)
			}
		}},
		{"requests dropped", proxyFaults{DropRequests: 1}, func(t *testing.T, p *proxy, c net.Conn) {
			roundTrip(t, c, 1, 100*time.Millisecond)
			if p.stats.droppedRequests.Load() != 1 || p.stats.replies.Load() != 0 {
				t.Errorf("stats %v", &p.stats)
			}
		}},
		{"duplicated late", proxyFaults{DupRequests: 1, DupDelay: 50 * time.Millisecond}, func(t *testing.T, p *proxy, c net.Conn) {
			if ok, _ := roundTrip(t, c, 7, time.Second); !ok {
				t.Fatal("not answered")
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			rec, err := readRecord(c) // the duplicate's reply
			if err != nil || binary.BigEndian.Uint32(rec[4:]) != 7 {
				t.Errorf("second reply %v, %v", rec, err)
			}
			if p.stats.duplicates.Load() != 1 {
				t.Errorf("stats %v", &p.stats)
			}
		}},
		{"reset", proxyFaults{Resets: 1}, func(t *testing.T, p *proxy, c net.Conn) {
			c.Write(record(1))
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := io.ReadAll(c); err == nil {
				// A reset: the read fails; a clean close would give EOF, nil.
				t.Error("connection closed without a reset")
			}
			if p.stats.resets.Load() != 1 {
				t.Errorf("stats %v", &p.stats)
			}
		}},
		{"blackhole", proxyFaults{}, func(t *testing.T, p *proxy, c net.Conn) {
			p.blackhole(0, time.Hour)
			if ok, _ := roundTrip(t, c, 1, 100*time.Millisecond); ok {
				t.Error("answered while blackholed")
			}
			p.unblackhole(0)
			if ok, _ := roundTrip(t, c, 2, time.Second); !ok {
				t.Error("not answered after the blackhole")
			}
			if p.stats.blackholed.Load() != 1 {
				t.Errorf("stats %v", &p.stats)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newProxy(up, 1, tc.faults, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			c, err := net.Dial("tcp", p.addr(0))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.check(t, p, c)
		})
	}
}
