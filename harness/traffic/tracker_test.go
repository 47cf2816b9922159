package traffic

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	tests := []struct {
		name                                 string
		seqs                                 []uint64
		limit                                uint64
		unique, dup, reordered, foreign, max uint64
	}{
		{name: "in order", seqs: []uint64{0, 1, 2, 3, 4}, limit: 5, unique: 5, max: 4},
		{name: "empty", limit: 10},
		{name: "gap, late, dup", seqs: []uint64{0, 2, 1, 3, 3, 5}, limit: 6, unique: 5, dup: 1, reordered: 1, max: 5},
		{name: "reversed", seqs: []uint64{5, 4, 3, 2, 1, 0}, limit: 6, unique: 6, reordered: 5, max: 5},
		{name: "late then dup", seqs: []uint64{2, 0, 0, 2}, limit: 3, unique: 2, dup: 2, reordered: 1, max: 2},
		{name: "beyond sent", seqs: []uint64{0, 100, 1, 10}, limit: 10, unique: 2, foreign: 2, max: 1},
		{name: "word edges", seqs: []uint64{63, 64, 127, 128, 0, 64, 191}, limit: 192, unique: 6, dup: 1, reordered: 1, max: 191},
		{name: "gaps only", seqs: []uint64{0, 10, 20, 30}, limit: 40, unique: 4, max: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(0)
			for _, s := range tt.seqs {
				tr.observe(s, tt.limit, 1000)
			}
			if tr.unique != tt.unique || tr.dup != tt.dup || tr.reordered != tt.reordered || tr.foreign != tt.foreign {
				t.Errorf("unique/dup/reordered/foreign = %d/%d/%d/%d, want %d/%d/%d/%d",
					tr.unique, tr.dup, tr.reordered, tr.foreign, tt.unique, tt.dup, tt.reordered, tt.foreign)
			}
			if tr.unique > 0 && tr.maxSeq != tt.max {
				t.Errorf("maxSeq = %d, want %d", tr.maxSeq, tt.max)
			}
			if tr.lat.n != tr.unique {
				t.Errorf("%d latency samples for %d distinct probes", tr.lat.n, tr.unique)
			}
			if words := uint64(len(tr.seen)); words > (tt.limit+63)/64 {
				t.Errorf("bitmap has %d words for %d probes sent", words, tt.limit)
			}
		})
	}
}

func TestTrackerVerdicts(t *testing.T) {
	tr := newTracker(4)
	for i, tc := range []struct {
		seq  uint64
		want verdict
	}{{0, inOrder}, {2, inOrder}, {1, late}, {1, duplicate}, {3, inOrder}, {4, foreign}} {
		if got := tr.observe(tc.seq, 4, 0); got != tc.want {
			t.Errorf("%d: observe(%d) = %d, want %d", i, tc.seq, got, tc.want)
		}
	}
}

// A shuffled, partly duplicated stream: the tracker agrees with a map.
func TestTrackerRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	var seqs []uint64
	for i := uint64(0); i < n; i++ {
		switch r.IntN(20) {
		case 0: // lost
		case 1:
			seqs = append(seqs, i, i)
		default:
			seqs = append(seqs, i)
		}
	}
	for i := range seqs { // local reordering
		if j := i + r.IntN(4); j < len(seqs) {
			seqs[i], seqs[j] = seqs[j], seqs[i]
		}
	}
	tr := newTracker(n)
	seen := map[uint64]bool{}
	var dup, late, maxSeq uint64
	for i, s := range seqs {
		switch {
		case seen[s]:
			dup++
		case i > 0 && s < maxSeq:
			late++
		}
		if !seen[s] && s > maxSeq {
			maxSeq = s
		}
		seen[s] = true
		tr.observe(s, n, int64(s))
	}
	if tr.unique != uint64(len(seen)) || tr.dup != dup || tr.reordered != late {
		t.Fatalf("unique/dup/reordered = %d/%d/%d, want %d/%d/%d", tr.unique, tr.dup, tr.reordered, len(seen), dup, late)
	}
}

func TestBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 1e6, 123456789, 1<<40 - 1} {
		i := bucketOf(v)
		lo, w := bucketRange(i)
		if v < lo || v >= lo+w {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, lo, lo+w)
		}
		if i < prev {
			t.Errorf("bucket %d for %d below the previous %d", i, v, prev)
		}
		if v >= 256 && float64(w)/float64(lo) > 1.0/128 {
			t.Errorf("bucket %d: width %d too wide for %d", i, w, lo)
		}
		prev = i
	}
	if i := bucketOf(1 << 62); i != nBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last (%d)", i, nBuckets-1)
	}
	if lo, w := bucketRange(nBuckets - 1); lo+w != 1<<maxBits {
		t.Errorf("last bucket ends at %d, want %d", lo+w, uint64(1)<<maxBits)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h histogram
	var vals []int64
	for range 100000 {
		v := int64(20000 + r.ExpFloat64()*50000) // 20 µs + exponential tail
		vals = append(vals, v)
		h.add(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		exact := vals[int(q*float64(len(vals))+0.999999)-1]
		got := h.quantile(q)
		if d := float64(got-exact) / float64(exact); d > 0.005 || d < -0.005 {
			t.Errorf("q%.2f = %d, exact %d (%.3f%% off)", q, got, exact, 100*d)
		}
	}
	p := h.percentiles()
	if p.Min != time.Duration(vals[0]) || p.Max != time.Duration(vals[len(vals)-1]) {
		t.Errorf("min/max = %v/%v, want %v/%v", p.Min, p.Max, time.Duration(vals[0]), time.Duration(vals[len(vals)-1]))
	}
	if !(p.Min <= p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.Max) {
		t.Errorf("percentiles out of order: %+v", p)
	}
	var empty histogram
	if p := empty.percentiles(); p != (Percentiles{}) {
		t.Errorf("empty histogram: %+v", p)
	}
}

func TestReportString(t *testing.T) {
	r := Report{StreamID: 0xab, Sent: 10, Received: 7, Lost: 3, SendErrors: 2, LastSendError: "sendto: network is unreachable"}
	s := r.String()
	for _, want := range []string{"stream 000000ab", "sent=10", "lost=3 (30.000%)", "senderr=2", `lasterr="sendto: network is unreachable"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if strings.Contains(s, "\n") {
		t.Errorf("%q is not one line", s)
	}
}

func BenchmarkTrackerObserve(b *testing.B) {
	tr := newTracker(uint64(b.N))
	limit := uint64(b.N) + 8
	b.ReportAllocs()
	for i := range uint64(b.N) {
		seq := i
		if i%100 == 1 { // some reordering
			seq = i + 1
		} else if i%100 == 2 {
			seq = i - 1
		}
		tr.observe(seq, limit, int64(30000+i%5000))
	}
}
