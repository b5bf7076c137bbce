package nfs3

import "errors"

// XDR (RFC 4506), the parts NFSv3 needs: big-endian 32- and 64-bit
// integers, booleans, and opaque data and strings padded to four bytes.

// errShort is the decode error of a truncated or malformed message.
var errShort = errors.New("nfs3: malformed XDR message")

type encoder struct{ b []byte }

func (e *encoder) u32(v uint32) {
	e.b = append(e.b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (e *encoder) u64(v uint64) {
	e.u32(uint32(v >> 32))
	e.u32(uint32(v))
}

func (e *encoder) bool(v bool) {
	if v {
		e.u32(1)
	} else {
		e.u32(0)
	}
}

// fixed appends b without a length, padded to four bytes.
func (e *encoder) fixed(b []byte) {
	e.b = append(e.b, b...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

// opaque appends variable-length opaque data: its length, then the bytes.
func (e *encoder) opaque(b []byte) {
	e.u32(uint32(len(b)))
	e.fixed(b)
}

func (e *encoder) string(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

// decoder reads XDR. The first error sticks: later reads return zero
// values, so a sequence of reads is checked once at its end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := uint32(d.b[0])<<24 | uint32(d.b[1])<<16 | uint32(d.b[2])<<8 | uint32(d.b[3])
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	hi := d.u32()
	return uint64(hi)<<32 | uint64(d.u32())
}

// bool reads an XDR boolean; anything but 0 or 1 is malformed.
func (d *decoder) bool() bool {
	switch d.u32() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

// fixed reads n bytes and their padding. The result aliases the message.
func (d *decoder) fixed(n int) []byte {
	p := (n + 3) &^ 3
	if n < 0 || p < n || len(d.b) < p {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[p:]
	return v
}

// opaque reads variable-length opaque data of at most max bytes.
func (d *decoder) opaque(max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.fail()
		return nil
	}
	return d.fixed(int(n))
}

func (d *decoder) string(max int) string { return string(d.opaque(max)) }
