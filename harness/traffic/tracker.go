package traffic

// tracker does a receiver's accounting for one stream. It keeps one bit per
// sequence number that may have been sent, so its memory grows with the
// number of probes sent (an eighth of a byte each) and never with what
// arrives; the latency histogram has a fixed size.
type tracker struct {
	seen      []uint64 // bit seq%64 of seen[seq/64]: seq has arrived
	maxSeq    uint64   // highest sequence number seen, valid if unique > 0
	unique    uint64
	dup       uint64
	reordered uint64
	foreign   uint64
	lat       histogram
}

// verdict is what observe made of one probe.
type verdict uint8

const (
	inOrder verdict = iota
	late            // first arrival, but after a higher sequence number
	duplicate
	foreign // out of the range sent: not from this stream's sender
)

// newTracker returns a tracker with room for expect probes (a hint; 0 if
// the stream's length is not known).
func newTracker(expect uint64) *tracker {
	return &tracker{seen: make([]uint64, 0, (expect+63)/64)}
}

// observe accounts for probe seq of a stream that had sent limit probes
// (sequence numbers 0 to limit-1) when it arrived, with one-way latency
// latNs. A sequence number at or above limit cannot come from the stream's
// sender and is counted as foreign, which also bounds the bitmap.
func (t *tracker) observe(seq, limit uint64, latNs int64) verdict {
	if seq >= limit {
		t.foreign++
		return foreign
	}
	w, bit := seq/64, uint64(1)<<(seq%64)
	if w >= uint64(len(t.seen)) {
		t.seen = append(t.seen, make([]uint64, w+1-uint64(len(t.seen)))...)
	}
	if t.seen[w]&bit != 0 {
		t.dup++
		return duplicate
	}
	t.seen[w] |= bit
	t.lat.add(latNs)
	v := inOrder
	if t.unique > 0 && seq < t.maxSeq {
		t.reordered++
		v = late
	} else {
		t.maxSeq = seq
	}
	t.unique++
	return v
}

// notProbe counts a datagram that is not a probe of this stream.
func (t *tracker) notProbe() { t.foreign++ }
