//go:build linux

package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestCheck(t *testing.T) {
	ms := int64(1e6)
	iv := func(id int, tok uint64, start, end int64) interval {
		return interval{id: id, pid: 100 + id, tok: tok, start: start * ms, end: end * ms, why: "done"}
	}
	for _, tc := range []struct {
		name             string
		ivs              []interval
		overlaps, tokens int
	}{
		{"sequential", []interval{iv(1, 1, 0, 10), iv(2, 2, 10, 20), iv(1, 3, 25, 30)}, 0, 0},
		{"out of order input", []interval{iv(1, 3, 25, 30), iv(1, 1, 0, 10), iv(2, 2, 10, 20)}, 0, 0},
		{"overlap", []interval{iv(1, 1, 0, 10), iv(2, 2, 9, 20)}, 1, 0},
		{"nested", []interval{iv(1, 1, 0, 30), iv(2, 2, 5, 10), iv(3, 3, 12, 14)}, 2, 0},
		{"token reused", []interval{iv(1, 1, 0, 10), iv(2, 1, 11, 20)}, 0, 2},
		{"token goes down", []interval{iv(1, 5, 0, 10), iv(2, 4, 11, 20), iv(3, 6, 21, 22)}, 0, 1},
		{"token gaps are fine", []interval{iv(1, 2, 0, 10), iv(2, 7, 11, 20)}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, k, _ := check(tc.ivs)
			if o != tc.overlaps || k != tc.tokens {
				t.Errorf("check = %d overlaps, %d token violations; want %d, %d", o, k, tc.overlaps, tc.tokens)
			}
		})
	}
}
