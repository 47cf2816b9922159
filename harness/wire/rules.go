package wire

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/strictyaml"
)

// Rules is what a wire does to the frames it forwards: the first rule
// that takes a frame decides its fate; a frame no rule takes is forwarded
// at once, untouched. Seed makes every random choice: the same rules, the
// same seed and the same frames in the same order give the same decisions.
type Rules struct {
	Seed  uint64 `yaml:"seed" json:"seed"`
	Rules []Rule `yaml:"rules" json:"rules"`
}

// Rule is one impairment: which frames it takes and what it does to them,
// in this order — hold, loss, MTU, corruption, duplication, then the time
// each copy leaves (delay, jitter, reordering, rate).
type Rule struct {
	Name string `yaml:"name" json:"name"`
	// From is the interface frames come in on ("eth1", "eth2"); empty
	// takes both directions.
	From  string `yaml:"from" json:"from,omitempty"`
	Match Match  `yaml:"match" json:"match"`
	// Nth takes only the Nth frame that matches (from 1); Skip lets the
	// first Skip matching frames pass; Count takes at most Count frames,
	// after which the rule is spent. Zero means no such bound.
	Nth   int `yaml:"nth" json:"nth,omitempty"`
	Skip  int `yaml:"skip" json:"skip,omitempty"`
	Count int `yaml:"count" json:"count,omitempty"`

	// Hold queues the frames taken in the hold of this name until the
	// bench releases (or discards) them.
	Hold string `yaml:"hold" json:"hold,omitempty"`
	// Drop loses every frame taken; Loss loses some.
	Drop bool  `yaml:"drop" json:"drop,omitempty"`
	Loss *Loss `yaml:"loss" json:"loss,omitempty"`
	// MTU is the largest IPv4 packet the wire carries: a larger one with
	// DF set is dropped and answered with ICMP "fragmentation needed"
	// from ICMPFrom (a router's address on the narrow link); one without
	// DF is cut into fragments.
	MTU      int    `yaml:"mtu" json:"mtu,omitempty"`
	ICMPFrom string `yaml:"icmp_from" json:"icmp_from,omitempty"`
	// Corrupt changes octets of the frames taken.
	Corrupt *Corrupt `yaml:"corrupt" json:"corrupt,omitempty"`
	// Duplicate is the probability that a frame taken is sent twice.
	Duplicate float64 `yaml:"duplicate" json:"duplicate,omitempty"`
	// Delay holds each frame for Delay, give or take Jitter (uniform, or
	// "normal" with Jitter as the standard deviation); a delayed frame may
	// be overtaken by a later one unless KeepOrder. Reorder is the
	// probability that a frame is sent at once instead, ahead of the
	// delayed frames before it (netem's reorder; it needs a Delay).
	Delay        Duration `yaml:"delay" json:"delay,omitempty"`
	Jitter       Duration `yaml:"jitter" json:"jitter,omitempty"`
	Distribution string   `yaml:"distribution" json:"distribution,omitempty"`
	KeepOrder    bool     `yaml:"keep_order" json:"keep_order,omitempty"`
	Reorder      float64  `yaml:"reorder" json:"reorder,omitempty"`
	// Rate is the link's rate ("10mbit", "2gbit", bits per second):
	// frames leave one after the other at that rate; Queue frames may wait
	// (default 1000), more are dropped.
	Rate  string `yaml:"rate" json:"rate,omitempty"`
	Queue int    `yaml:"queue" json:"queue,omitempty"`

	icmpFrom netip.Addr
	bps      float64
}

// Match selects frames by what the project's decoders read in them. An
// empty field matches anything. GDOI fields (Exchange, Message, SEQ) are
// read from the ISAKMP header and, for encrypted messages, from what the
// key log given to the wire can decrypt; a message the wire cannot read
// does not match a field it would need.
type Match struct {
	Src     string `yaml:"src" json:"src,omitempty"` // an address or prefix
	Dst     string `yaml:"dst" json:"dst,omitempty"`
	Proto   string `yaml:"proto" json:"proto,omitempty"` // udp, tcp, icmp, esp, isakmp, or a number
	SrcPort uint16 `yaml:"sport" json:"sport,omitempty"`
	DstPort uint16 `yaml:"dport" json:"dport,omitempty"`
	// Exchange is an ISAKMP exchange: main-mode, informational,
	// groupkey-pull, groupkey-push, groupkey-push-ack, or its number.
	Exchange string `yaml:"exchange" json:"exchange,omitempty"`
	// Message is the message's position in its exchange (main mode 1-6,
	// GROUPKEY-PULL 1-4); Repeat selects retransmissions (true) or first
	// copies (false) only.
	Message int   `yaml:"message" json:"message,omitempty"`
	Repeat  *bool `yaml:"repeat" json:"repeat,omitempty"`
	// SEQ is a GROUPKEY-PUSH's SEQ payload (needs the KEK in the key log).
	SEQ *uint32 `yaml:"seq" json:"seq,omitempty"`
	// SPI and ESPSeq select ESP packets.
	SPI    uint32  `yaml:"spi" json:"spi,omitempty"`
	ESPSeq *uint32 `yaml:"esp_seq" json:"esp_seq,omitempty"`

	src, dst netip.Prefix
	proto    int // -1: any
	exchange int // -1: any
	deep     bool
}

// Loss loses frames: at random with probability Random, every Nth frame
// taken, or in bursts by the Gilbert-Elliott model.
type Loss struct {
	Random  float64  `yaml:"random" json:"random,omitempty"`
	Every   int      `yaml:"every" json:"every,omitempty"`
	Gilbert *Gilbert `yaml:"gilbert" json:"gilbert,omitempty"`
}

// Gilbert is the Gilbert-Elliott two-state loss model: in the good state a
// frame is lost with probability GoodLoss and the channel turns bad with
// probability P; in the bad state a frame is lost with probability BadLoss
// (1 when unset) and the channel turns good again with probability R.
// The mean burst is 1/R frames, the share of frames in the bad state
// P/(P+R).
type Gilbert struct {
	P        float64  `yaml:"p" json:"p"`
	R        float64  `yaml:"r" json:"r"`
	GoodLoss float64  `yaml:"good_loss" json:"good_loss,omitempty"`
	BadLoss  *float64 `yaml:"bad_loss" json:"bad_loss,omitempty"`
}

// Corrupt XORs the octet at Offset of the IP packet (0 is the first octet
// of its header; negative counts from its end) with XOR (0xff when unset),
// with probability Probability (1 when unset).
type Corrupt struct {
	Offset      int     `yaml:"offset" json:"offset"`
	XOR         uint8   `yaml:"xor" json:"xor,omitempty"`
	Probability float64 `yaml:"probability" json:"probability,omitempty"`
}

// Duration is a time.Duration written as Go writes it ("200ms", "1.5s").
type Duration time.Duration

// UnmarshalText reads "200ms"; a bare number is milliseconds.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if ms, err := strconv.ParseFloat(s, 64); err == nil {
		*d = Duration(ms * float64(time.Millisecond))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ParseRules reads rules from YAML (or JSON, which is YAML) and checks them.
func ParseRules(data []byte, name string) (*Rules, error) {
	var r Rules
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := strictyaml.Decode(data, name, &r); err != nil {
			return nil, err
		}
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &r, nil
}

// check validates the rules and prepares what matching needs.
func (r *Rules) check() error {
	var errs []error
	names := map[string]bool{}
	for i := range r.Rules {
		if n := r.Rules[i].Name; n != "" && names[n] {
			errs = append(errs, fmt.Errorf("rule %s: named twice (stats and decisions name rules)", n))
		}
		names[r.Rules[i].Name] = true
		if err := r.Rules[i].check(); err != nil {
			name := r.Rules[i].Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			errs = append(errs, fmt.Errorf("rule %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (ru *Rule) check() error {
	if ru.Name == "" {
		return errors.New("no name (decisions are logged by rule name)")
	}
	if ru.From != "" && ru.From != "eth1" && ru.From != "eth2" {
		return fmt.Errorf("from %q: eth1, eth2 or empty (both)", ru.From)
	}
	if ru.Nth < 0 || ru.Skip < 0 || ru.Count < 0 || ru.Queue < 0 || ru.MTU < 0 {
		return errors.New("nth, skip, count, queue and mtu cannot be negative")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"duplicate", ru.Duplicate}, {"reorder", ru.Reorder}} {
		if p.v < 0 || p.v > 1 {
			return fmt.Errorf("%s %v: a probability, 0 to 1", p.name, p.v)
		}
	}
	if ru.Loss != nil {
		if err := ru.Loss.check(); err != nil {
			return err
		}
	}
	if ru.Corrupt != nil && (ru.Corrupt.Probability < 0 || ru.Corrupt.Probability > 1) {
		return fmt.Errorf("corrupt probability %v: 0 to 1", ru.Corrupt.Probability)
	}
	if ru.Delay < 0 || ru.Jitter < 0 {
		return errors.New("delay and jitter cannot be negative")
	}
	switch ru.Distribution {
	case "", "uniform", "normal":
	default:
		return fmt.Errorf("distribution %q: uniform or normal", ru.Distribution)
	}
	if ru.Reorder > 0 && ru.Delay == 0 {
		return errors.New("reorder needs a delay: a reordered frame is one sent ahead of delayed ones")
	}
	if ru.Rate != "" {
		bps, err := parseRate(ru.Rate)
		if err != nil {
			return err
		}
		ru.bps = bps
	}
	if ru.MTU > 0 {
		if ru.MTU < 68 {
			return fmt.Errorf("mtu %d: IPv4 needs 68 at least", ru.MTU)
		}
		a, err := netip.ParseAddr(ru.ICMPFrom)
		if err != nil || !a.Is4() {
			return fmt.Errorf("mtu needs icmp_from, the IPv4 address the ICMP errors come from: %q", ru.ICMPFrom)
		}
		ru.icmpFrom = a
	}
	return ru.Match.check()
}

func (l *Loss) check() error {
	if l.Random < 0 || l.Random > 1 || l.Every < 0 {
		return fmt.Errorf("loss: random %v (0 to 1), every %d (≥ 0)", l.Random, l.Every)
	}
	if g := l.Gilbert; g != nil {
		for _, v := range []float64{g.P, g.R, g.GoodLoss} {
			if v < 0 || v > 1 {
				return errors.New("loss: gilbert p, r and good_loss are probabilities, 0 to 1")
			}
		}
		if g.BadLoss != nil && (*g.BadLoss < 0 || *g.BadLoss > 1) {
			return errors.New("loss: gilbert bad_loss is a probability, 0 to 1")
		}
	}
	return nil
}

// exchanges names the ISAKMP exchanges a match may give by name.
var exchanges = map[string]int{
	"main-mode": 2, "informational": 5, "groupkey-pull": 32, "groupkey-push": 33, "groupkey-push-ack": 35,
}

// protos names the protocols a match may give by name; isakmp is UDP to
// or from port 848 or 500.
var protos = map[string]int{"icmp": 1, "tcp": 6, "udp": 17, "esp": 50, "isakmp": protoISAKMP}

const protoISAKMP = 1000

func (m *Match) check() error {
	var err error
	if m.src, err = parsePrefix(m.Src); err != nil {
		return fmt.Errorf("match src: %w", err)
	}
	if m.dst, err = parsePrefix(m.Dst); err != nil {
		return fmt.Errorf("match dst: %w", err)
	}
	m.proto = -1
	if m.Proto != "" {
		if p, ok := protos[strings.ToLower(m.Proto)]; ok {
			m.proto = p
		} else if n, err := strconv.ParseUint(m.Proto, 10, 8); err == nil {
			m.proto = int(n)
		} else {
			return fmt.Errorf("match proto %q: udp, tcp, icmp, esp, isakmp or a number", m.Proto)
		}
	}
	m.exchange = -1
	if m.Exchange != "" {
		if x, ok := exchanges[strings.ToLower(m.Exchange)]; ok {
			m.exchange = x
		} else if n, err := strconv.ParseUint(m.Exchange, 10, 8); err == nil {
			m.exchange = int(n)
		} else {
			return fmt.Errorf("match exchange %q: main-mode, informational, groupkey-pull, groupkey-push, groupkey-push-ack or a number", m.Exchange)
		}
	}
	if m.Message < 0 {
		return errors.New("match message cannot be negative")
	}
	// The fields only a full decode gives.
	m.deep = m.exchange >= 0 || m.Message > 0 || m.Repeat != nil || m.SEQ != nil || m.SPI != 0 || m.ESPSeq != nil
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseRate reads "10mbit", "1.5gbit", "800kbit" or bits per second.
func parseRate(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("rate %q: a positive number with kbit, mbit or gbit", s)
	}
	return v * mult, nil
}
