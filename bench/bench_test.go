package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAnalyzeHandoffs(t *testing.T) {
	tests := []struct {
		name                     string
		recs, pending            []hrec
		handoffs, retakes, overl int
		p50                      float64
	}{
		{
			name: "alternating",
			recs: []hrec{
				{w: 0, ws: 0, acq: 0, rel: 20e6},
				{w: 1, ws: 1e6, acq: 21e6, rel: 41e6},
				{w: 0, ws: 30e6, acq: 44e6, rel: 64e6},
			},
			handoffs: 2, p50: 1,
		},
		{
			name: "re-take while another waits",
			recs: []hrec{
				{w: 0, ws: 0, acq: 0, rel: 20e6},
				{w: 0, ws: 20e6, acq: 21e6, rel: 41e6},
				{w: 1, ws: 1e6, acq: 42e6, rel: 62e6},
			},
			handoffs: 1, retakes: 1, p50: 1,
		},
		{
			name: "re-take, the waiter still waiting at the end",
			recs: []hrec{
				{w: 0, ws: 0, acq: 0, rel: 20e6},
				{w: 0, ws: 20e6, acq: 21e6, rel: 41e6},
			},
			pending: []hrec{{w: 1, ws: 1e6}},
			retakes: 1,
		},
		{
			name: "no one waiting: not a re-take",
			recs: []hrec{
				{w: 0, ws: 0, acq: 0, rel: 20e6},
				{w: 0, ws: 30e6, acq: 30e6, rel: 50e6},
				{w: 1, ws: 60e6, acq: 60e6, rel: 80e6},
			},
			handoffs: 1, p50: 10,
		},
		{
			name: "overlap counted",
			recs: []hrec{
				{w: 0, ws: 0, acq: 0, rel: 20e6},
				{w: 1, ws: 0, acq: 10e6, rel: 30e6},
			},
			handoffs: 1, overl: 1, p50: -10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &handoffResult{}
			analyzeHandoffs(r, tt.recs, tt.pending, 100e6)
			if r.Handoffs != tt.handoffs || r.Retakes != tt.retakes || r.Overlaps != tt.overl {
				t.Errorf("handoffs %d retakes %d overlaps %d, want %d %d %d", r.Handoffs, r.Retakes, r.Overlaps, tt.handoffs, tt.retakes, tt.overl)
			}
			if len(tt.pending) > 0 && r.WaitMax != 99 {
				t.Errorf("longest wait %v ms, want 99 (the pending one, to the end)", r.WaitMax)
			}
			if tt.handoffs > 0 && r.P50 != tt.p50 {
				t.Errorf("p50 %v ms, want %v", r.P50, tt.p50)
			}
		})
	}
}

func TestParseStraceSummary(t *testing.T) {
	const out = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ------------------
 56.18   12.375103        1193     10366      1495 futex
  6.39    1.408364          43     32503           getdents64
  0.84    0.184725          14     13044           close
------ ----------- ----------- --------- --------- ------------------
100.00   22.027781         157    140000      6500 total
`
	p := filepath.Join(t.TempDir(), "s.txt")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := parseStraceSummary(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"futex": 10366, "getdents64": 32503, "close": 13044}
	if len(m) != len(want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: %d, want %d", k, m[k], v)
		}
	}
}

func TestQuantile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct{ q, want float64 }{{0.5, 5}, {0.99, 10}, {0.1, 1}, {0, 1}, {1, 10}} {
		if got := quantile(s, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if median([]float64{1, 2, 3, 4}) != 2.5 {
		t.Error("median of 1..4")
	}
}
