package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

var sysColor = map[string]string{
	sysStrict.key: "#d62728",
	sysFlufl.key:  "#ff7f0e",
	sysPy.key:     "#1f77b4",
	sysC.key:      "#2ca02c",
	sysFlock.key:  "#7f7f7f",
	// -baseline runs of nfslease (another tree's workers)
	sysStrict.key + "-baseline": "#f7a6a6",
	sysFlufl.key + "-baseline":  "#ffd19a",
}

func sysLabel(key string) string {
	if s, err := systemByKey(key); err == nil {
		return s.label
	}
	return key
}

// handoffSVG draws the distributions (empirical CDFs, log time axis) of
// the handoff latencies (top row) and of the waits (bottom row) of each
// system, one column per process count. Waits still going on at the end
// count as lasting to the end, so starvation shows.
func handoffSVG(results []*handoffResult, title string) string {
	byProcs := map[int][]*handoffResult{}
	var procs []int
	for _, r := range results {
		if r.Acqs == 0 {
			continue
		}
		if _, ok := byProcs[r.Procs]; !ok {
			procs = append(procs, r.Procs)
		}
		byProcs[r.Procs] = append(byProcs[r.Procs], r)
	}
	sort.Ints(procs)
	const (
		pw, ph       = 340.0, 220.0 // panel plot area
		left, top    = 70.0, 50.0
		gap, vgap    = 40.0, 75.0
		legendH      = 110.0
		loExp, hiExp = -2.0, 5.0 // 10 µs .. 100 s
	)
	n := max(1, len(procs))
	w := max(760, left+float64(n)*(pw+gap)+10)
	h := top + 2*ph + vgap + 60 + legendH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	x := func(ms float64) float64 {
		e := math.Log10(math.Max(ms, math.Pow(10, loExp)))
		return (math.Min(e, hiExp) - loExp) / (hiExp - loExp) * pw
	}
	rows := []struct {
		label string
		data  func(*handoffResult) []float64
	}{
		{"handoff: release → next acquisition by another process", func(r *handoffResult) []float64 { return r.Lat }},
		{"wait: start of a wait → its acquisition (or the end)", func(r *handoffResult) []float64 { return r.Waits }},
	}
	seen := map[string]bool{}
	var legend []string
	for ri, row := range rows {
		oy := top + float64(ri)*(ph+vgap)
		for i, p := range procs {
			ox := left + float64(i)*(pw+gap)
			fmt.Fprintf(&b, `<g transform="translate(%.1f,%.1f)">`+"\n", ox, oy)
			if ri == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="-8" text-anchor="middle" font-weight="bold">%d processes</text>`+"\n", pw/2, p)
			}
			fmt.Fprintf(&b, `<rect width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", pw, ph)
			for e := loExp; e <= hiExp; e++ {
				gx := x(math.Pow(10, e))
				fmt.Fprintf(&b, `<line x1="%.1f" y1="0" x2="%.1f" y2="%.0f" stroke="#ddd"/>`+"\n", gx, gx, ph)
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", gx, ph+16, msLabel(math.Pow(10, e)))
			}
			for q := 0.0; q <= 1.0001; q += 0.25 {
				gy := ph - q*ph
				fmt.Fprintf(&b, `<line x1="0" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`+"\n", gy, pw, gy)
				if i == 0 {
					fmt.Fprintf(&b, `<text x="-6" y="%.1f" text-anchor="end" dominant-baseline="middle">%.2f</text>`+"\n", gy, q)
				}
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", pw/2, ph+34, esc(row.label))
			for _, r := range byProcs[p] {
				s := append([]float64(nil), row.data(r)...)
				if len(s) == 0 {
					continue
				}
				sort.Float64s(s)
				var pts []string
				for j, v := range s {
					px := x(v)
					pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", px, ph-float64(j)/float64(len(s))*ph, px, ph-float64(j+1)/float64(len(s))*ph))
				}
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", sysColor[r.System], strings.Join(pts, " "))
				if !seen[r.System] {
					seen[r.System] = true
					legend = append(legend, r.System)
				}
			}
			b.WriteString("</g>\n")
		}
		fmt.Fprintf(&b, `<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">share ≤ x</text>`+"\n", oy+ph/2)
	}
	ly := top + 2*ph + vgap + 62
	for i, k := range legend {
		lx, yy := left, ly+float64(i)*20
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/>`, lx, yy, lx+24, yy, sysColor[k])
		var ns []string
		for _, p := range procs {
			for _, r := range byProcs[p] {
				if r.System == k {
					ns = append(ns, fmt.Sprintf("%d/%d", len(r.Lat), len(r.Waits)))
				}
			}
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" dominant-baseline="middle">%s (handoffs/waits per column: %s)</text>`+"\n", lx+30, yy, esc(sysLabel(k)), strings.Join(ns, ", "))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func msLabel(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%g µs", ms*1000)
	case ms < 1000:
		return fmt.Sprintf("%g ms", ms)
	}
	return fmt.Sprintf("%g s", ms/1000)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
