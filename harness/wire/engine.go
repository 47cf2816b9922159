package wire

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/getlab/getlab/pcap"
)

// Ports are the wire's two sides: a frame that comes in on one leaves on
// the other (ICMP errors the wire makes leave where the frame came in).
const (
	Eth1 = 0
	Eth2 = 1
)

// PortName is the interface name of a port in the node: eth1 or eth2.
func PortName(p int) string {
	if p == Eth1 {
		return "eth1"
	}
	return "eth2"
}

// Frame is an Ethernet frame the wire has read, numbered from 1 in the
// order frames were read (both sides together).
type Frame struct {
	Index uint64
	From  int
	At    time.Time
	Data  []byte
}

// Emission is a frame to send on port Out at At (now or later).
type Emission struct {
	Out  int
	At   time.Time
	Data []byte
}

// Decision is what a rule did to a frame, as the decision log records it:
// enough to find the frame again (its index) and to replay the run.
type Decision struct {
	Index  uint64    `json:"i"`
	Time   time.Time `json:"t"`
	From   string    `json:"from"`
	Len    int       `json:"len"`
	Rule   string    `json:"rule"`
	Action string    `json:"action"`
	Frame  string    `json:"frame"`
}

// Engine decides the fate of each frame by the rules; it does no I/O. It
// is safe for concurrent use: the two directions share it.
type Engine struct {
	mu     sync.Mutex
	rules  Rules
	state  []ruleState
	holds  map[string][]held
	keys   *pcap.KeyLog
	stream *pcap.Stream
	deep   bool // a rule needs decoded GDOI fields
	stats  Stats
	log    func(Decision)
}

// ruleState is a rule's counters and, per direction, its random source and
// the state of its loss model and its rate.
type ruleState struct {
	matched, taken int
	dir            [2]dirState
}

type dirState struct {
	rng         *rand.Rand
	every       int
	bad         bool      // Gilbert-Elliott state
	busyUntil   time.Time // when the rate's link is free
	departures  []time.Time
	lastRelease time.Time
}

type held struct {
	out  int
	data []byte
}

// Stats are the wire's counters, per direction (index: the port frames
// came in on).
type Stats struct {
	Received   [2]uint64         `json:"received"`
	Forwarded  [2]uint64         `json:"forwarded"` // sent on, copies and fragments included
	Dropped    [2]uint64         `json:"dropped"`
	Delayed    [2]uint64         `json:"delayed"`
	Duplicated [2]uint64         `json:"duplicated"`
	Corrupted  [2]uint64         `json:"corrupted"`
	Fragmented [2]uint64         `json:"fragmented"`
	ICMP       [2]uint64         `json:"icmp"`
	Held       map[string]int    `json:"held"`
	Taken      map[string]uint64 `json:"taken"` // frames each rule took
}

// NewEngine returns an engine with rules (nil: none) that reports its
// decisions to log (nil: nowhere).
func NewEngine(rules *Rules, log func(Decision)) *Engine {
	e := &Engine{holds: map[string][]held{}, keys: &pcap.KeyLog{}, log: log}
	e.stream = pcap.NewStream(e.keys)
	if rules == nil {
		rules = &Rules{}
	}
	e.SetRules(rules)
	return e
}

// SetRules replaces the rules; counters and random sources start again
// from the seed. Held frames stay held.
func (e *Engine) SetRules(r *Rules) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = *r
	e.state = make([]ruleState, len(r.Rules))
	e.deep = false
	for i, ru := range r.Rules {
		e.deep = e.deep || ru.Match.deep
		for d := range 2 {
			h := fnv.New64a()
			fmt.Fprintf(h, "%d/%s/%d", i, ru.Name, d)
			e.state[i].dir[d].rng = rand.New(rand.NewPCG(r.Seed, h.Sum64()))
		}
	}
}

// Rules returns the rules in force.
func (e *Engine) Rules() Rules {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rules
}

// AddKeys reads key log records (the daemons' key logs): the GDOI fields
// of encrypted messages they open become matchable.
func (e *Engine) AddKeys(text string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var kl pcap.KeyLog
	if err := kl.Read(strings.NewReader(text)); err != nil {
		return err
	}
	e.keys.IKE = append(e.keys.IKE, kl.IKE...)
	e.keys.KEK = append(e.keys.KEK, kl.KEK...)
	e.keys.ESP = append(e.keys.ESP, kl.ESP...)
	return nil
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Held = map[string]int{}
	for name, q := range e.holds {
		s.Held[name] = len(q)
	}
	s.Taken = map[string]uint64{}
	for i, ru := range e.rules.Rules {
		s.Taken[ru.Name] = uint64(e.state[i].taken)
	}
	return s
}

// Release sends up to n (all when n ≤ 0) of the frames held in hold, in
// the order they came, now.
func (e *Engine) Release(hold string, n int, now time.Time) []Emission {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.holds[hold]
	if n <= 0 || n > len(q) {
		n = len(q)
	}
	out := make([]Emission, 0, n)
	for _, h := range q[:n] {
		out = append(out, Emission{Out: h.out, At: now, Data: h.data})
		e.stats.Forwarded[1-h.out]++
	}
	e.holds[hold] = q[n:]
	return out
}

// Discard drops the frames held in hold and says how many there were.
func (e *Engine) Discard(hold string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.holds[hold])
	for _, h := range e.holds[hold] {
		e.stats.Dropped[1-h.out]++
	}
	delete(e.holds, hold)
	return n
}

// Decide returns what to send for f: nothing (lost or held), f itself now
// (no rule took it), or its copies, fragments and ICMP errors, each at its
// time. f.Data becomes the engine's.
func (e *Engine) Decide(f Frame) []Emission { return e.decide(f, false) }

// decide is Decide for a frame whose memory is only lent (borrowed): the
// caller reuses it once it has sent what is due now, so what the engine
// keeps longer (a held frame, what the GDOI decoder remembers) it copies.
// Emissions may still refer to it.
func (e *Engine) decide(f Frame, borrowed bool) []Emission {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Received[f.From]++
	out := 1 - f.From
	v := parseView(f.Data)
	if e.deep && v.deepCandidate() {
		if borrowed {
			f.Data, borrowed = append([]byte(nil), f.Data...), false
			v = parseView(f.Data)
		}
		p := e.stream.Decode("wire", f.At, f.Data)
		v.pkt = &p
	}
	for i := range e.rules.Rules {
		ru := &e.rules.Rules[i]
		if ru.From != "" && ru.From != PortName(f.From) || !ru.Match.matches(&v) {
			continue
		}
		st := &e.state[i]
		st.matched++
		if !ru.selects(st.matched) {
			continue
		}
		st.taken++
		if ru.Hold != "" && borrowed {
			f.Data = append([]byte(nil), f.Data...)
			v = parseView(f.Data)
		}
		return e.apply(ru, &st.dir[f.From], f, out, &v)
	}
	e.stats.Forwarded[f.From]++
	return []Emission{{Out: out, At: f.At, Data: f.Data}}
}

// selects says whether the rule takes the matched-th matching frame.
func (ru *Rule) selects(matched int) bool {
	switch {
	case matched <= ru.Skip:
		return false
	case ru.Nth > 0:
		return matched-ru.Skip == ru.Nth
	case ru.Count > 0:
		return matched-ru.Skip <= ru.Count
	}
	return true
}

// apply does rule ru's actions to frame f, which it took, in the order
// Rule lists them, and logs the decision; out is the port f goes on to.
func (e *Engine) apply(ru *Rule, ds *dirState, f Frame, out int, v *view) []Emission {
	decide := func(action string) {
		if e.log != nil {
			e.log(Decision{Index: f.Index, Time: f.At, From: PortName(f.From), Len: len(f.Data), Rule: ru.Name, Action: action, Frame: v.summary()})
		}
	}
	if ru.Hold != "" {
		e.holds[ru.Hold] = append(e.holds[ru.Hold], held{out: out, data: f.Data})
		decide("hold " + ru.Hold)
		return nil
	}
	if ru.Drop || ru.Loss != nil && ds.lose(ru.Loss) {
		e.stats.Dropped[f.From]++
		decide("drop")
		return nil
	}
	frames := [][]byte{f.Data}
	var ems []Emission
	var notes []string
	if ru.MTU > 0 && v.ipv4 && len(v.ip) > ru.MTU {
		if v.df {
			e.stats.Dropped[f.From]++
			e.stats.ICMP[f.From]++
			decide(fmt.Sprintf("drop: %d octets > mtu %d with DF; ICMP fragmentation needed from %s", len(v.ip), ru.MTU, ru.icmpFrom))
			return []Emission{{Out: f.From, At: f.At, Data: fragNeeded(f.Data, v, ru.icmpFrom, ru.MTU)}}
		}
		frames = fragment(f.Data, v, ru.MTU)
		e.stats.Fragmented[f.From]++
		notes = append(notes, fmt.Sprintf("fragmented in %d (mtu %d)", len(frames), ru.MTU))
	}
	if c := ru.Corrupt; c != nil && (c.Probability == 0 || ds.rng.Float64() < c.Probability) {
		for _, fr := range frames {
			corrupt(parseView(fr).ip, c)
		}
		e.stats.Corrupted[f.From]++
		notes = append(notes, fmt.Sprintf("corrupted at %d", c.Offset))
	}
	copies := 1
	if ru.Duplicate > 0 && ds.rng.Float64() < ru.Duplicate {
		copies = 2
		e.stats.Duplicated[f.From]++
		notes = append(notes, "duplicated")
	}
	for c := range copies {
		for _, fr := range frames {
			if c > 0 {
				fr = append([]byte(nil), fr...)
			}
			at, ok, note := ds.departure(ru, f.At, len(fr))
			if !ok {
				e.stats.Dropped[f.From]++
				notes = append(notes, note)
				continue
			}
			if note != "" && c == 0 {
				notes = append(notes, note)
			}
			if at.After(f.At) {
				e.stats.Delayed[f.From]++
			}
			e.stats.Forwarded[f.From]++
			ems = append(ems, Emission{Out: out, At: at, Data: fr})
		}
	}
	action := "pass"
	if len(notes) > 0 {
		action = strings.Join(notes, "; ")
	}
	decide(action)
	return ems
}

// lose applies the loss model to one frame.
func (ds *dirState) lose(l *Loss) bool {
	lost := false
	if l.Every > 0 {
		ds.every++
		if ds.every%l.Every == 0 {
			lost = true
		}
	}
	if l.Random > 0 && ds.rng.Float64() < l.Random {
		lost = true
	}
	if g := l.Gilbert; g != nil {
		// The state moves first, then the frame meets it.
		if ds.bad {
			ds.bad = ds.rng.Float64() >= g.R
		} else {
			ds.bad = ds.rng.Float64() < g.P
		}
		p := g.GoodLoss
		if ds.bad {
			p = 1
			if g.BadLoss != nil {
				p = *g.BadLoss
			}
		}
		if p > 0 && ds.rng.Float64() < p {
			lost = true
		}
	}
	return lost
}

// departure is when a frame of size octets taken at arrival leaves: its
// delay (jitter, reordering), its order, and the rate's queue; false when
// the rate's queue is full.
func (ds *dirState) departure(ru *Rule, arrival time.Time, size int) (time.Time, bool, string) {
	note := ""
	d := time.Duration(ru.Delay)
	if ru.Jitter > 0 {
		j := float64(ru.Jitter)
		if ru.Distribution == "normal" {
			d += time.Duration(j * ds.rng.NormFloat64())
		} else {
			d += time.Duration(j * (2*ds.rng.Float64() - 1))
		}
		d = max(d, 0)
	}
	if ru.Reorder > 0 && ds.rng.Float64() < ru.Reorder {
		d, note = 0, "reordered (sent at once)"
	} else if d > 0 {
		note = "delay " + d.Round(10*time.Microsecond).String()
	}
	at := arrival.Add(d)
	if ru.KeepOrder && at.Before(ds.lastRelease) {
		at = ds.lastRelease
	}
	if ru.bps > 0 {
		// Frames still waiting for the link: more than the queue holds
		// and this one is tail-dropped.
		i := 0
		for i < len(ds.departures) && !ds.departures[i].After(arrival) {
			i++
		}
		ds.departures = ds.departures[i:]
		limit := ru.Queue
		if limit == 0 {
			limit = 1000
		}
		if len(ds.departures) >= limit {
			return time.Time{}, false, fmt.Sprintf("drop: rate queue full (%d)", limit)
		}
		start := at
		if ds.busyUntil.After(start) {
			start = ds.busyUntil
		}
		ds.busyUntil = start.Add(time.Duration(float64(size*8) / ru.bps * float64(time.Second)))
		at = ds.busyUntil
		ds.departures = append(ds.departures, at)
		if note == "" {
			note = "rate " + ru.Rate
		}
	}
	if at.After(ds.lastRelease) {
		ds.lastRelease = at
	}
	return at, true, note
}

// corrupt XORs the chosen octet of ip, an IPv4 packet (nil: not IPv4,
// left alone): Offset from its first octet, or from its end when negative.
// Octets a frame carries past the packet (Ethernet padding) are not its.
func corrupt(ip []byte, c *Corrupt) {
	x := c.XOR
	if x == 0 {
		x = 0xff
	}
	i := c.Offset
	if i < 0 {
		i += len(ip)
	}
	if i >= 0 && i < len(ip) {
		ip[i] ^= x
	}
}

// view is what matching needs of a frame, read without allocating; pkt is
// the full decode, made only for the frames a GDOI field can match.
type view struct {
	ip           []byte // from the IPv4 header on (nil: not IPv4)
	ipv4, df     bool
	frag         bool // a fragment (offset or MF)
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	l4           []byte // the transport header on, first fragment only
	pkt          *pcap.Packet
}

// ethHeader is the length of the Ethernet header the wire reads frames
// with: untagged, IPv4 right after it. A frame may carry octets past its
// IPv4 packet (padding to Ethernet's 60-octet minimum): view.ip ends at
// the packet's own length.
const ethHeader = 14

func parseView(frame []byte) view {
	var v view
	if len(frame) < ethHeader+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return v
	}
	ip := frame[ethHeader:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ip[0]>>4 != 4 || ihl < 20 || total < ihl || total > len(ip) {
		return v
	}
	ip = ip[:total]
	v.ip, v.ipv4 = ip, true
	v.df = ip[6]&0x40 != 0
	v.frag = ip[6]&0x20 != 0 || binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0
	v.src = netip.AddrFrom4([4]byte(ip[12:16]))
	v.dst = netip.AddrFrom4([4]byte(ip[16:20]))
	v.proto = ip[9]
	if binary.BigEndian.Uint16(ip[6:8])&0x1fff == 0 {
		v.l4 = ip[ihl:]
		if (v.proto == 6 || v.proto == 17) && len(v.l4) >= 4 {
			v.sport = binary.BigEndian.Uint16(v.l4[0:2])
			v.dport = binary.BigEndian.Uint16(v.l4[2:4])
		}
	}
	return v
}

// deepCandidate: the frames the GDOI decoder must see, in order, to keep
// exchanges' message positions right: ISAKMP and IPv4 fragments (a large
// PUSH crosses as fragments).
func (v *view) deepCandidate() bool {
	return v.ipv4 && (v.frag || v.isISAKMP())
}

func (v *view) isISAKMP() bool {
	return v.proto == 17 && (v.sport == 848 || v.dport == 848 || v.sport == 500 || v.dport == 500)
}

func (m *Match) matches(v *view) bool {
	if m.src.IsValid() && (!v.ipv4 || !m.src.Contains(v.src)) {
		return false
	}
	if m.dst.IsValid() && (!v.ipv4 || !m.dst.Contains(v.dst)) {
		return false
	}
	switch {
	case m.proto == protoISAKMP:
		if !v.isISAKMP() && !(v.frag && v.pkt != nil && v.pkt.ISAKMP != nil) {
			return false
		}
	case m.proto >= 0 && (!v.ipv4 || int(v.proto) != m.proto):
		return false
	}
	if m.SrcPort != 0 && v.sport != m.SrcPort || m.DstPort != 0 && v.dport != m.DstPort {
		return false
	}
	if m.SPI != 0 || m.ESPSeq != nil {
		if v.proto != 50 || len(v.l4) < 8 {
			return false
		}
		if m.SPI != 0 && binary.BigEndian.Uint32(v.l4[0:4]) != m.SPI {
			return false
		}
		if m.ESPSeq != nil && binary.BigEndian.Uint32(v.l4[4:8]) != *m.ESPSeq {
			return false
		}
	}
	if m.exchange >= 0 || m.Message > 0 || m.Repeat != nil || m.SEQ != nil {
		if v.pkt == nil || v.pkt.ISAKMP == nil {
			return false
		}
		x := v.pkt.ISAKMP
		if m.exchange >= 0 && int(x.Type) != m.exchange ||
			m.Message > 0 && x.Message != m.Message ||
			m.Repeat != nil && x.Repeat != *m.Repeat ||
			m.SEQ != nil && (x.SEQ == nil || *x.SEQ != *m.SEQ) {
			return false
		}
	}
	return true
}

// summary is a frame's one-line description in the decision log.
func (v *view) summary() string {
	switch {
	case v.pkt != nil:
		return v.pkt.String()
	case !v.ipv4:
		return "not IPv4"
	case v.proto == 50 && len(v.l4) >= 8:
		return fmt.Sprintf("ESP %s > %s spi %#x seq %d", v.src, v.dst, binary.BigEndian.Uint32(v.l4[0:4]), binary.BigEndian.Uint32(v.l4[4:8]))
	case v.sport != 0 || v.dport != 0:
		return fmt.Sprintf("%s %s:%d > %s:%d len %d", protoName(v.proto), v.src, v.sport, v.dst, v.dport, len(v.ip))
	}
	return fmt.Sprintf("%s %s > %s len %d", protoName(v.proto), v.src, v.dst, len(v.ip))
}

func protoName(p uint8) string {
	for name, n := range protos {
		if n == int(p) {
			return name
		}
	}
	return fmt.Sprintf("proto %d", p)
}
