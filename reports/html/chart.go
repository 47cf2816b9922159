package html

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// The charts are inline SVG written here, not drawn by script: they show in
// any browser, from file://, with JavaScript off, and in a DOM dump.

// palette colours the links, in the order they first carry a frame.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// Chart geometry, in SVG user units (the SVG scales to the page width).
const (
	chartW, chartH = 960, 170
	padL, padR     = 56, 12
	padT, padB     = 10, 26
	plotW          = chartW - padL - padR
	maxBuckets     = 300
	probeChartH    = 80
	maxProbeCharts = 8
)

// bucketFor picks the width of a chart's bins: a round duration giving at
// most maxBuckets bins over span (a one-second lab gets 10 ms bins, an
// hour of protocol time minute bins).
func bucketFor(span time.Duration) time.Duration {
	for _, d := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
		5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute} {
		if span/d < maxBuckets {
			return d
		}
	}
	return span / maxBuckets
}

// axis maps times to x.
type axis struct {
	from, to time.Time
	bucket   time.Duration
	n        int
}

func newAxis(from, to time.Time) axis {
	span := to.Sub(from)
	if span <= 0 {
		span = time.Millisecond
	}
	a := axis{from: from, bucket: bucketFor(span)}
	a.n = int(span/a.bucket) + 1
	a.to = from.Add(time.Duration(a.n) * a.bucket)
	return a
}

func (a axis) x(t time.Time) float64 {
	return padL + float64(plotW)*t.Sub(a.from).Seconds()/a.to.Sub(a.from).Seconds()
}

func (a axis) bin(t time.Time) int {
	i := int(t.Sub(a.from) / a.bucket)
	return max(0, min(a.n-1, i))
}

func (a axis) counts(ts []time.Time) []int {
	c := make([]int, a.n)
	for _, t := range ts {
		c[a.bin(t)]++
	}
	return c
}

// rate is per second from a count per bin.
func (a axis) rate(n int) float64 { return float64(n) / a.bucket.Seconds() }

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// marks are what the charts draw over the packets: the failure's moment
// and the spec's own span.
type marks struct {
	failure          time.Time
	failureLabel     string
	hasFailure       bool
	specFrom, specTo time.Time
	pushes           []time.Time
}

// linkChart is packets per second per link over the capture.
func linkChart(b *base, m marks) (template.HTML, []legendItem) {
	if b.packets == 0 {
		return "", nil
	}
	a := newAxis(b.first, b.last)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" id="pps" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="packets per second per link">`, chartW, chartH)
	series := make([][]int, len(b.links))
	top := 0.0
	for i, l := range b.links {
		series[i] = a.counts(b.perLink[l])
		for _, n := range series[i] {
			top = math.Max(top, a.rate(n))
		}
	}
	top = niceMax(top)
	h := float64(chartH - padT - padB)
	y := func(v float64) float64 { return padT + h - h*v/top }
	frame(&sb, a, m, chartH, fmt.Sprintf("%g/s", top))
	var legend []legendItem
	for i, l := range b.links {
		col := palette[i%len(palette)]
		var pts []string
		for j, n := range series[i] {
			x := a.x(a.from.Add(time.Duration(j)*a.bucket + a.bucket/2))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y(a.rate(n))))
		}
		fmt.Fprintf(&sb, `<polyline class="series" data-link="%s" fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`,
			html.EscapeString(l), col, strings.Join(pts, " "), html.EscapeString(l))
		legend = append(legend, legendItem{Name: l, Color: col, Frames: len(b.perLink[l])})
	}
	for _, t := range m.pushes {
		if !t.Before(a.from) && !t.After(a.to) {
			x := a.x(t)
			fmt.Fprintf(&sb, `<line class="push" x1="%.1f" x2="%.1f" y1="%d" y2="%d"><title>GROUPKEY-PUSH at %s</title></line>`, x, x, padT, padT+8, clock(t))
		}
	}
	failureLine(&sb, a, m, chartH)
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()), legend
}

type legendItem struct {
	Name   string
	Color  string
	Frames int
}

// frame draws the axes, time ticks and the spec's span.
func frame(sb *strings.Builder, a axis, m marks, height int, topLabel string) {
	bottom := height - padB
	if !m.specFrom.IsZero() && m.specTo.After(a.from) && m.specFrom.Before(a.to) {
		x1, x2 := a.x(maxTime(m.specFrom, a.from)), a.x(minTime(m.specTo, a.to))
		fmt.Fprintf(sb, `<rect class="span" x="%.1f" y="%d" width="%.1f" height="%d"><title>this spec ran here</title></rect>`, x1, padT, math.Max(x2-x1, 1), bottom-padT)
	}
	fmt.Fprintf(sb, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, padL, chartW-padR, bottom, bottom)
	fmt.Fprintf(sb, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, padL, padL, padT, bottom)
	fmt.Fprintf(sb, `<text class="lbl" x="%d" y="%d" text-anchor="end">%s</text>`, padL-4, padT+8, html.EscapeString(topLabel))
	fmt.Fprintf(sb, `<text class="lbl" x="%d" y="%d" text-anchor="end">0</text>`, padL-4, bottom)
	span := a.to.Sub(a.from)
	for i := 0; i <= 6; i++ {
		t := a.from.Add(span * time.Duration(i) / 6)
		x := a.x(t)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 6:
			anchor = "end"
		}
		fmt.Fprintf(sb, `<line class="tick" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/><text class="lbl" x="%.1f" y="%d" text-anchor="%s">+%s</text>`,
			x, x, bottom, bottom+4, x, bottom+16, anchor, seconds(t.Sub(a.from)))
	}
}

func failureLine(sb *strings.Builder, a axis, m marks, height int) {
	if !m.hasFailure || m.failure.Before(a.from) || m.failure.After(a.to) {
		return
	}
	x := a.x(m.failure)
	fmt.Fprintf(sb, `<line class="failmark" x1="%.1f" x2="%.1f" y1="%d" y2="%d"><title>%s at %s</title></line>`,
		x, x, padT, height-padB, html.EscapeString(m.failureLabel), clock(m.failure))
	fmt.Fprintf(sb, `<text class="faillbl" x="%.1f" y="%d" text-anchor="end">%s</text>`, x-3, padT+10, html.EscapeString(m.failureLabel))
}

// probeCharts draws, per probe stream the capture saw on two links or
// more, the probes per second where it enters the capture and those lost
// before it leaves it, on the same time axis as the link chart.
func probeCharts(b *base, m marks) []probeChart {
	if b.packets == 0 {
		return nil
	}
	a := newAxis(b.first, b.last)
	var out []probeChart
	for i, ps := range b.probes {
		if i == maxProbeCharts {
			break
		}
		pc := probeChart{S: ps}
		if ps.Sent > 0 {
			pc.Percent = 100 * float64(ps.Lost) / float64(ps.Sent)
		}
		sent, lost := a.counts(ps.sent), a.counts(ps.lost)
		top := 0.0
		for _, n := range sent {
			top = math.Max(top, a.rate(n))
		}
		top = niceMax(top)
		hgt := float64(probeChartH - padT - padB)
		y := func(v float64) float64 { return padT + hgt - hgt*v/top }
		var sb strings.Builder
		fmt.Fprintf(&sb, `<svg class="chart probe" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="probe stream 0x%08x">`, chartW, probeChartH, ps.ID)
		frame(&sb, a, m, probeChartH, fmt.Sprintf("%g/s", top))
		var pts []string
		for j, n := range sent {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", a.x(a.from.Add(time.Duration(j)*a.bucket+a.bucket/2)), y(a.rate(n))))
		}
		fmt.Fprintf(&sb, `<polyline class="sent" fill="none" points="%s"><title>probes/s on %s</title></polyline>`, strings.Join(pts, " "), html.EscapeString(ps.In))
		w := math.Max(float64(plotW)/float64(a.n)-0.5, 1)
		for j, n := range lost {
			if n == 0 {
				continue
			}
			x := a.x(a.from.Add(time.Duration(j) * a.bucket))
			fmt.Fprintf(&sb, `<rect class="lost" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d lost at +%s</title></rect>`,
				x, y(a.rate(n)), w, padT+hgt-y(a.rate(n)), n, seconds(time.Duration(j)*a.bucket))
		}
		failureLine(&sb, a, m, probeChartH)
		sb.WriteString(`</svg>`)
		pc.SVG = template.HTML(sb.String())
		out = append(out, pc)
	}
	return out
}

type probeChart struct {
	S       *probeStream
	Percent float64
	SVG     template.HTML
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// seconds formats an offset for the charts and the timeline: "12.345".
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}

// clock is a wall-clock time as the logs show it, UTC.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }
