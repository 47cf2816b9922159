package coop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/getlab/getlab/gateway/control"
	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Addresses of coop.clab.yml and coop-split.clab.yml.
var (
	ks1   = netip.MustParseAddr("192.0.2.1")
	ks2   = netip.MustParseAddr("192.0.2.2")
	ks3   = netip.MustParseAddr("192.0.2.3")
	gm1   = netip.MustParseAddr("192.0.2.11")
	gm2   = netip.MustParseAddr("192.0.2.12")
	gm3   = netip.MustParseAddr("192.0.2.13")
	gm4   = netip.MustParseAddr("192.0.2.14")
	hostA = netip.MustParseAddr("198.51.100.10")
	hostB = netip.MustParseAddr("203.0.113.10")

	kss = []netip.Addr{ks1, ks2, ks3}
	gms = []netip.Addr{gm1, gm2, gm3, gm4}
)

// nodeOf names the node at an address of the lab.
var nodeOf = map[netip.Addr]string{
	ks1: "ks1", ks2: "ks2", ks3: "ks3", gm1: "gm1", gm2: "gm2", gm3: "gm3", gm4: "gm4",
}

// linkOf is the capture point of a KS's or GM's WAN interface: what it
// sends is there once, whatever the bridge does with it.
func linkOf(a netip.Addr) string { return nodeOf[a] + ":eth1" }

// The suite runs protocol time 20 times faster where both implementations
// scale their timers down to it: the seeds' COOP timers (refresh 20 s,
// periodic 30 s) become 1 s and 1.5 s, a failover (90 s) 4.5 s.
const scale = 0.05

// runScale is the timer scale the chosen pairing runs at: scale, or 1
// (protocol time, the containers then labelled slow) where an
// implementation cannot scale its timers down to it.
var runScale = suitekit.TimerScale(scale)

// protocol converts a wall-clock duration to protocol time, wall the
// other way.
func protocol(d time.Duration) time.Duration { return time.Duration(float64(d) / runScale) }
func wall(d time.Duration) time.Duration     { return time.Duration(float64(d) * runScale) }

// minSlack is the least timing tolerance, in wall time: how late a process
// on a busy 2-core machine may be scheduled (and a main mode or a
// signature computed) without the protocol being wrong. CI runs two suites
// side by side on 2 cores: 100 ms, 2 protocol s at scale 0.05, which
// still tells the 5 s member batch from an immediate announcement.
const minSlack = 100 * time.Millisecond

// slackOf is the tolerance on a protocol interval d: 10 % of it, at least
// minSlack of wall time; in protocol time.
func slackOf(d time.Duration) time.Duration { return max(d/10, protocol(minSlack)) }

// policyBatch is how long after registering a GM a key server announces
// it to its peers (the seeds' fixed 5 s batch, CO-17).
const policyBatch = 5 * time.Second

// timers are a scenario's COOP timers, in protocol time.
type timers struct {
	refresh, periodic time.Duration
	retransmit        int
}

func coopTimers(m *scenario.Scenario) timers {
	c := m.Groups[0].COOP
	return timers{
		refresh:    time.Duration(c.Refresh) * time.Second,
		periodic:   time.Duration(c.Periodic) * time.Second,
		retransmit: c.Retransmit,
	}
}

// failover is how long after the primary's last announcement a secondary
// takes over: it waits one periodic interval, then asks its peers
// retransmit times one periodic interval apart, and decides one periodic
// interval after the last round (CO-14, CO-15, CO-16).
func (t timers) failover() time.Duration {
	return t.periodic * time.Duration(1+t.retransmit)
}

// coopModel is coop.clab.yml in the neutral model (scenario.DefaultCOOP:
// priorities 100/75/50, takeover preserve-keys, the seeds' COOP timers)
// at the pairing's timer scale.
func coopModel() *scenario.Scenario {
	m, err := scenario.DefaultCOOP()
	Expect(err).NotTo(HaveOccurred())
	m.TimerScale = runScale
	return m
}

// coopNeeds are what a COOP lab needs: cooperative key servers with
// unicast rekeys and acknowledgements, and GMs that take them.
var coopNeeds = map[impl.Role][]impl.Capability{
	impl.KS: {impl.COOP, impl.UnicastRekey, impl.Acks},
	impl.GM: {impl.UnicastRekey, impl.Acks},
}

// coopGap is why a lab of model m cannot run with the pairing
// (suitekit.ModelGap); "" when it can.
func coopGap(m *scenario.Scenario) string { return suitekit.ModelGap(m, coopNeeds) }

// requireCOOP skips the spec, with coopGap's sentence, unless its lab can
// run (suitekit.SkipUnlessRuns).
func requireCOOP(m *scenario.Scenario) { suitekit.SkipUnlessRuns(m, coopNeeds) }

// linksUp is a StartModel before that waits until every link of the lab
// is up (suitekit.WaitLinksUp): the key servers' start-up election must
// not begin while a bridge port of the WAN still drops what it gets.
func linksUp(ctx context.Context) func(*netns.Lab) {
	return func(lab *netns.Lab) { suitekit.WaitLinksUp(ctx, lab, 5*time.Second) }
}

// decrypts reports whether the key servers write key logs, so that their
// announcements (under their phase-1 SAs) can be read.
func decrypts() bool { return suitekit.Offers(impl.KS, impl.KeyLog) }

// isakmpOf returns the ISAKMP frames of exchange x that src sent dst (any
// destination when dst is invalid), captured on src's own link, in time
// order: each one once, as it left.
func isakmpOf(pkts []pcap.Packet, x isakmp.ExchangeType, src, dst netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP == nil || p.ISAKMP.Type != uint8(x) || p.Link != linkOf(src) || p.Src != src {
			continue
		}
		if dst.IsValid() && p.Dst != dst {
			continue
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// anns are the announcements src sent dst (every peer when dst is
// invalid), as they left src.
func anns(pkts []pcap.Packet, src, dst netip.Addr) []pcap.Packet {
	return isakmpOf(pkts, isakmp.ExchangeCOOPAnnounce, src, dst)
}

// received are the announcements src sent dst as they reached dst (on
// dst's link): what dst heard.
func received(pkts []pcap.Packet, src, dst netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeCOOPAnnounce) && p.Link == linkOf(dst) && p.Src == src && p.Dst == dst {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// between keeps the packets captured in [from, to) (a zero bound is open).
func between(pkts []pcap.Packet, from, to time.Time) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if (from.IsZero() || !p.Time.Before(from)) && (to.IsZero() || p.Time.Before(to)) {
			out = append(out, p)
		}
	}
	return out
}

// annOf is an announcement's ANN payload, decrypted with the key servers'
// key logs; it fails the spec when the frame did not decrypt.
func annOf(p pcap.Packet) *coopwire.ANN {
	ExpectWithOffset(1, p.ISAKMP.ANN).NotTo(BeNil(), "the ANN of frame %d (%s -> %s at %s) decrypts with the key servers' key logs: %s",
		p.Index, p.Src, p.Dst, p.Time.Format("15:04:05.000"), p.ISAKMP.DecryptError)
	return p.ISAKMP.ANN
}

// has reports whether a decrypted announcement carries flag f (false for
// one that did not decrypt: a wait on the wire reads what it can).
func has(p pcap.Packet, f coopwire.Flags) bool {
	return p.ISAKMP != nil && p.ISAKMP.ANN != nil && p.ISAKMP.ANN.Flags.Has(f)
}

// withFlag keeps the announcements carrying f.
func withFlag(ps []pcap.Packet, f coopwire.Flags) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range ps {
		if has(p, f) {
			out = append(out, p)
		}
	}
	return out
}

// membersOf lists the group members an announcement's MEMBERS payload
// names (nil if it has none, or did not decrypt).
func membersOf(p pcap.Packet) []netip.Addr {
	if p.ISAKMP == nil || p.ISAKMP.Msg == nil {
		return nil
	}
	var out []netip.Addr
	for _, pl := range p.ISAKMP.Msg.Payloads {
		if m, ok := pl.(*coopwire.Members); ok {
			for _, e := range m.List {
				out = append(out, e.Address)
			}
		}
	}
	return out
}

// lists reports whether an announcement names every one of want.
func lists(p pcap.Packet, want ...netip.Addr) bool {
	got := membersOf(p)
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// pushesTo are the GROUPKEY-PUSHes ks sent gm, as they reached gm (on
// its link), every copy, in time order.
func pushesTo(pkts []pcap.Packet, ks, gm netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPush) && p.Link == linkOf(gm) && p.Src == ks && p.Dst == gm {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// acks are the GROUPKEY-PUSH-ACKs (RFC 8263, in clear) gm sent ks, as
// they left gm.
func acks(pkts []pcap.Packet, gm, ks netip.Addr) []pcap.Packet {
	return isakmpOf(pkts, isakmp.ExchangeGroupkeyPushAck, gm, ks)
}

// seqOf is a decrypted PUSH's (or an acknowledgement's) sequence number;
// it fails the spec when there is none.
func seqOf(p pcap.Packet) uint32 {
	ExpectWithOffset(1, p.ISAKMP.SEQ).NotTo(BeNil(), "frame %d (%s -> %s) has a readable SEQ: %s", p.Index, p.Src, p.Dst, p.ISAKMP.DecryptError)
	return *p.ISAKMP.SEQ
}

// seqText is a PUSH's sequence number as text, "?" when it did not
// decrypt.
func seqText(p pcap.Packet) string {
	if p.ISAKMP.SEQ == nil {
		return "?"
	}
	return fmt.Sprint(*p.ISAKMP.SEQ)
}

// kekOf is the KEK a GROUPKEY-PUSH travels under: its header's cookies,
// as a status command writes a KEK SPI.
func kekOf(p pcap.Packet) string { return p.ISAKMP.ICookie + p.ISAKMP.RCookie }

// pullKSs are the key servers gm sent GROUPKEY-PULL messages to at or
// after from, as they left gm.
func pullKSs(pkts []pcap.Packet, gm netip.Addr, from time.Time) []netip.Addr {
	var out []netip.Addr
	for _, p := range between(isakmpOf(pkts, isakmp.ExchangeGroupkeyPull, gm, netip.Addr{}), from, time.Time{}) {
		if !slices.Contains(out, p.Dst) {
			out = append(out, p.Dst)
		}
	}
	return out
}

// registeredAt returns when ks completed gm's first registration at or
// after from (its PULL 4, first copy), and whether it did.
func registeredAt(pkts []pcap.Packet, ks, gm netip.Addr, from time.Time) (time.Time, bool) {
	for _, x := range suitekit.Registrations(pkts, ks, gm) {
		if last := x[len(x)-1]; !last.Time.Before(from) {
			return last.Time, true
		}
	}
	return time.Time{}, false
}

// await polls the capture so far (decrypted with the key logs when
// decrypt is set) until cond holds or within has passed, and reports
// whether it held. It never fails the spec: a wait that runs out leaves
// the verdict to the specs, which judge what the capture holds.
func await(ctx context.Context, s *suitekit.Scenario, decrypt bool, within time.Duration, what string, cond func([]pcap.Packet) bool) bool {
	deadline := time.Now().Add(within)
	for {
		pkts := s.Peek()
		if decrypt {
			pkts = s.PeekDecrypted()
		}
		if cond(pkts) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			GinkgoWriter.Printf("waited %v for %s: not on the wire\n", within, what)
			return false
		}
		time.Sleep(pollEvery)
	}
}

// pollEvery is how often await reads the capture: 100 ms, or a protocol
// second where that is longer (a scenario in protocol time), since each
// read decodes the whole capture so far. It paces the driving only: every
// timing is read from capture timestamps.
var pollEvery = max(100*time.Millisecond, wall(time.Second))

// awaitElected waits, while only the key servers run, until winner has
// announced itself primary with its keys to every other key server:
// then they hold the group's keys and register GMs. Without key logs
// the announcements cannot be read, and it waits out the start-up
// election (one refresh interval) and one refresh more.
func awaitElected(ctx context.Context, s *suitekit.Scenario, t timers, winner netip.Addr) {
	if !decrypts() {
		time.Sleep(wall(2 * t.refresh))
		return
	}
	await(ctx, s, true, wall(3*t.refresh)+5*time.Second, nodeOf[winner]+"'s PRIMARY announcements with its keys", func(pkts []pcap.Packet) bool {
		for _, peer := range kss {
			if peer != winner && len(withFlag(withFlag(anns(pkts, winner, peer), coopwire.FlagPrimary), coopwire.FlagPolicy)) == 0 {
				return false
			}
		}
		return true
	})
}

// keys is what a status command says of a node's group keys.
type keys struct {
	KEK  string
	TEKs []string
}

func (k keys) String() string { return fmt.Sprintf("KEK %s, TEKs %v", k.KEK, k.TEKs) }

// statuses reads the status of every node of nodes (GMs, or KSs with
// role KS), side by side; nil where the implementation offers no status.
// A node whose status cannot be read is left out (the specs say which).
func statuses(ctx context.Context, s *suitekit.Scenario, role impl.Role, nodes ...netip.Addr) map[netip.Addr]impl.StatusDoc {
	if !suitekit.Offers(role, impl.Status) {
		return nil
	}
	type result struct {
		a  netip.Addr
		st impl.StatusDoc
		ok bool
	}
	ch := make(chan result, len(nodes))
	for _, a := range nodes {
		go func() {
			st, err := suitekit.StatusOf(ctx, s.Lab, nodeOf[a], role)
			if err != nil {
				GinkgoWriter.Printf("status of %s: %v\n", nodeOf[a], err)
			}
			ch <- result{a, st, err == nil}
		}()
	}
	out := map[netip.Addr]impl.StatusDoc{}
	for range nodes {
		if r := <-ch; r.ok {
			out[r.a] = r.st
		}
	}
	return out
}

func keysOf(st impl.StatusDoc) keys { return keys{KEK: st.KEKSPI, TEKs: st.TEKSPIs} }

// saveCOOP writes every key server's COOP state (GET /v1/ks/coop, what
// `getctl show gdoi ks coop --json` prints) into dir/<node>/coop-<when>.json,
// where the implementation offers events (getvpnd's control socket).
func saveCOOP(ctx context.Context, s *suitekit.Scenario, when string, nodes ...netip.Addr) {
	if !suitekit.Offers(impl.KS, impl.Events) {
		return
	}
	for _, a := range nodes {
		st, err := suitekit.Control(s.Lab, nodeOf[a]).COOP(ctx)
		var v any = st
		if err != nil {
			v = map[string]string{"error": err.Error()}
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		dir := filepath.Join(s.Dir, nodeOf[a])
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, "coop-"+when+".json"), b, 0o644)
	}
}

// named returns the events called name, in order.
func named(evs []control.Event, name string) []control.Event {
	var out []control.Event
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// report records a figure in the spec's report and the run's output.
func report(name string, format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	AddReportEntry(name, v)
	GinkgoWriter.Printf("%s: %s\n", name, v)
}

// describe is a one-line account of announcements, for failure messages:
// time from t0 in protocol time, source, destination, flags, members.
func describe(ps []pcap.Packet, t0 time.Time) string {
	var b bytes.Buffer
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  +%v %s -> %s", protocol(p.Time.Sub(t0)).Round(10*time.Millisecond), nodeOf[p.Src], nodeOf[p.Dst])
		if a := p.ISAKMP.ANN; a != nil {
			fmt.Fprintf(&b, " flags %s priority %d seq %d members %d", flagNames(a.Flags), a.Priority, a.Seq, p.ISAKMP.Members)
		} else {
			b.WriteString(" (not decrypted)")
		}
	}
	return b.String()
}

func flagNames(f coopwire.Flags) string {
	var out []string
	for _, n := range []struct {
		f    coopwire.Flags
		name string
	}{{coopwire.FlagReplyRequest, "REPLY-REQUEST"}, {coopwire.FlagReply, "REPLY"}, {coopwire.FlagPrimary, "PRIMARY"},
		{coopwire.FlagPolicy, "POLICY"}, {coopwire.FlagElecting, "ELECTING"}} {
		if f.Has(n.f) {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return fmt.Sprint(out)
}
