package traffic

import (
	"math/bits"
	"time"
)

// The latency histogram is log-linear: values below 256 ns have a bucket
// each, and every power of two above is split into 128 equal buckets, so a
// bucket is never wider than 1/128 of its lower bound and a percentile read
// from its middle is within 0.4% of the true sample. Values from 2^40 ns
// (about 18 minutes) up share the last bucket. The minimum, maximum and mean
// are exact. The whole histogram is a fixed 34 KiB, whatever the stream's
// length.
const (
	subBits  = 7
	subCount = 1 << subBits
	maxBits  = 40
	nBuckets = (maxBits-subBits)*subCount + subCount
)

type histogram struct {
	counts   [nBuckets]uint64
	n        uint64
	min, max int64
	sum      float64
}

func bucketOf(v uint64) int {
	if v >= 1<<maxBits {
		v = 1<<maxBits - 1
	}
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBits
	return shift*subCount + int(v>>shift)
}

// bucketRange returns the smallest value of bucket i and the bucket's width.
func bucketRange(i int) (lower, width uint64) {
	if i < 2*subCount {
		return uint64(i), 1
	}
	shift := i/subCount - 1
	return uint64(i-shift*subCount) << shift, 1 << shift
}

func (h *histogram) add(ns int64) {
	if ns < 0 {
		ns = 0
	}
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
	h.n++
	h.sum += float64(ns)
	h.counts[bucketOf(uint64(ns))]++
}

// quantile returns the q-quantile (0 < q <= 1) by the nearest-rank method,
// to the histogram's precision.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lower, width := bucketRange(i)
			v := int64(lower + (width-1)/2)
			return max(h.min, min(v, h.max))
		}
	}
	return h.max
}

// Percentiles summarises one-way latencies of the probes received once.
// P50, P90 and P99 are read from a histogram (within 0.4%); Min, Max and
// Mean are exact.
type Percentiles struct {
	Min, Mean, P50, P90, P99, Max time.Duration
}

func (h *histogram) percentiles() Percentiles {
	if h.n == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Min:  time.Duration(h.min),
		Mean: time.Duration(h.sum / float64(h.n)),
		P50:  time.Duration(h.quantile(0.50)),
		P90:  time.Duration(h.quantile(0.90)),
		P99:  time.Duration(h.quantile(0.99)),
		Max:  time.Duration(h.max),
	}
}
