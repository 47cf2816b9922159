package modes

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// Addresses of basic.clab.yml.
var (
	ks1   = netip.MustParseAddr("192.0.2.1")
	gm1   = netip.MustParseAddr("192.0.2.11")
	gm2   = netip.MustParseAddr("192.0.2.12")
	hostA = netip.MustParseAddr("198.51.100.10")
	hostB = netip.MustParseAddr("203.0.113.10")
)

// modesScale runs the labs 10 times faster where both implementations
// scale their timers: nothing waits on a scheduled rekey (the rekeys are
// the operator's), only on a GM's registration retries.
const modesScale = 0.1

// probeRate is the probe streams' rate (probes per second).
const probeRate = 200

// window is a stretch of wall time, compared with capture timestamps.
type window struct{ from, until time.Time }

func (w window) holds(t time.Time) bool { return !t.Before(w.from) && t.Before(w.until) }

// open starts a window now; close ends it now.
func (w *window) open()  { w.from = time.Now() }
func (w *window) close() { w.until = time.Now() }

// stream sends count probes from one host to the other at probeRate and
// returns its report.
func stream(ctx context.Context, s *suitekit.Scenario, from, to string, src, dst netip.Addr, port uint16, count int) traffic.Report {
	st := startStream(ctx, s, from, to, src, dst, port, count)
	r, err := st.Wait()
	Expect(err).NotTo(HaveOccurred())
	return r
}

// startStream starts a probe stream at probeRate, count probes (0: until
// stopped).
func startStream(ctx context.Context, s *suitekit.Scenario, from, to string, src, dst netip.Addr, port uint16, count int) *traffic.Stream {
	st, err := traffic.StartStream(ctx, traffic.StreamConfig{
		From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, from), Addr: src},
		To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, to), Addr: dst},
		Port: port, Rate: probeRate, Count: count, Size: 100,
	})
	Expect(err).NotTo(HaveOccurred())
	return st
}

// warmUp waits until one probe gets through each way between the sites: a
// GM installs its keys once registered, which the wire does not show.
func warmUp(ctx context.Context, s *suitekit.Scenario, port uint16) {
	Eventually(func(g Gomega) {
		for _, r := range []traffic.Report{
			stream(ctx, s, "host-a", "host-b", hostA, hostB, port, 1),
			stream(ctx, s, "host-b", "host-a", hostB, hostA, port, 1),
		} {
			g.Expect(r.Received).To(Equal(r.Sent), "warm-up %s", r)
		}
	}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// blockKS drops every GDOI datagram arriving at ks1 (UDP 848 in on its WAN
// interface) until the impairment is removed: the key server is
// unreachable while the GMs' messages still cross the WAN to it.
func blockKS(lab *netns.Lab) *fault.Impairment {
	imp, err := fault.AddDrop(suitekit.NetNS(lab, "ks1"), fault.Match{
		Iface: "eth1", Dir: fault.Ingress, Proto: unix.IPPROTO_UDP, DstPort: 848,
	})
	Expect(err).NotTo(HaveOccurred())
	return imp
}

// routeSites lets ks1 reach the sites through their GMs, so that packets
// injected there from the WAN meet the GM of their destination.
func routeSites(ctx context.Context, s *suitekit.Scenario) {
	suitekit.Run(ctx, s.Lab, "ks1", []string{"ip", "route", "replace", "198.51.100.0/24", "via", gm1.String()})
	suitekit.Run(ctx, s.Lab, "ks1", []string{"ip", "route", "replace", "203.0.113.0/24", "via", gm2.String()})
}

// injectClear sends count clear IPv4/UDP packets src -> dst:port from ks1's
// namespace (a source on the WAN that does not encrypt), each payload
// starting with marker.
func injectClear(ctx context.Context, s *suitekit.Scenario, src, dst netip.Addr, port uint16, count int, marker string) {
	var cases []attack.Case
	for i := range count {
		cases = append(cases, attack.Case{Name: marker, Bytes: attack.UDPPacket(src, dst, 40000, port, uint16(0x4000+i), append([]byte(marker), byte(i)))})
	}
	sendRaw(ctx, s, cases)
}

// injectUnknownSPI sends ESP packets src -> dst of SPIs no key server gave
// out from ks1's namespace and returns their SPIs, one packet each.
func injectUnknownSPI(ctx context.Context, s *suitekit.Scenario, seed uint64, src, dst netip.Addr) map[uint32]bool {
	var cases []attack.Case
	spis := map[uint32]bool{}
	for _, c := range attack.ESPCorpus(seed, src, dst, 0, 0x5000) {
		if strings.HasPrefix(c.Name, "unknown SPI") {
			cases = append(cases, c)
			spis[binary.BigEndian.Uint32(c.Bytes[20:])] = true
		}
	}
	Expect(cases).NotTo(BeEmpty())
	sendRaw(ctx, s, cases)
	return spis
}

func sendRaw(ctx context.Context, s *suitekit.Scenario, cases []attack.Case) {
	fd, err := attack.Raw(suitekit.NetNS(s.Lab, "ks1"))
	Expect(err).NotTo(HaveOccurred())
	defer unix.Close(fd)
	_, err = attack.SendRaw(ctx, fd, cases, 1000)
	Expect(err).NotTo(HaveOccurred())
}

// clearUDP are the clear UDP frames src -> dst:port captured on link in w.
func clearUDP(pkts []pcap.Packet, link string, src, dst netip.Addr, port uint16, w window) frames {
	var out frames
	for _, p := range pkts {
		if p.Link == link && p.Proto == "UDP" && p.Src == src && p.Dst == dst && p.DstPort == port && w.holds(p.Time) {
			out = append(out, p)
		}
	}
	return out
}

// marked are the clear UDP frames on link to port whose payload starts
// with marker (injected ones).
func marked(pkts []pcap.Packet, link string, port uint16, marker string) frames {
	var out frames
	for _, p := range pkts {
		if p.Link != link || p.Proto != "UDP" || p.DstPort != port {
			continue
		}
		ip := p.IPPacket()
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) >= ihl+8 && bytes.HasPrefix(ip[ihl+8:], []byte(marker)) {
			out = append(out, p)
		}
	}
	return out
}

// espFrames are the ESP frames with outer addresses src -> dst captured on
// link in w: with header preservation, the hosts' protected traffic.
func espFrames(pkts []pcap.Packet, link string, src, dst netip.Addr, w window) frames {
	var out frames
	for _, p := range pkts {
		if p.Link == link && p.ESP != nil && p.Src == src && p.Dst == dst && w.holds(p.Time) {
			out = append(out, p)
		}
	}
	return out
}

// anyESP are the ESP frames on link, whatever their addresses, in w.
func anyESP(pkts []pcap.Packet, link string, w window) frames {
	var out frames
	for _, p := range pkts {
		if p.Link == link && p.ESP != nil && w.holds(p.Time) {
			out = append(out, p)
		}
	}
	return out
}

// pushes are ks1's GROUPKEY-PUSHes to gm at or after t.
func pushes(pkts []pcap.Packet, gm netip.Addr, t time.Time) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPush) && p.Src == ks1 && p.Dst == gm && !p.Time.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

// fromKS are the ISAKMP messages ks1 sent in w.
func fromKS(pkts []pcap.Packet, w window) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && p.Src == ks1 && w.holds(p.Time) {
			out = append(out, p)
		}
	}
	return out
}

// acked reports whether gm acknowledged a PUSH from ks1 at or after t
// (GROUPKEY-PUSH-ACK, in clear): it took the rekey. The acknowledgement,
// not the PUSH, is the evidence: only the GM's answer shows that it
// decrypted and verified it.
func acked(pkts []pcap.Packet, gm netip.Addr, t time.Time) bool {
	for _, p := range pkts {
		if p.ISAKMP != nil && p.ISAKMP.Type == uint8(isakmp.ExchangeGroupkeyPushAck) && p.Src == gm && p.Dst == ks1 && !p.Time.Before(t) {
			return true
		}
	}
	return false
}

// triggerRekey runs the KS implementation's triggered-rekey command on ks1
// and waits until both GMs have acknowledged its PUSH; then, where the GMs
// show their state, until both hold dir, else a moment for them to take
// it.
func triggerRekey(ctx context.Context, s *suitekit.Scenario, dir string) time.Time {
	at := time.Now()
	suitekit.Run(ctx, s.Lab, "ks1", suitekit.Impl(impl.KS).Caps.TriggeredRekey.Command)
	s.WaitOnWire(ctx, 5*time.Second, "gm1's and gm2's acknowledgements of ks1's PUSH after the rekey command", func(pkts []pcap.Packet) bool {
		return acked(pkts, gm1, at) && acked(pkts, gm2, at)
	})
	settle(ctx, s, dir, "ks", "gm1", "gm2")
	return at
}

// setDirection runs the GM implementation's direction command on node.
func setDirection(ctx context.Context, s *suitekit.Scenario, node, dir string) {
	cmd := append(append([]string(nil), suitekit.Impl(impl.GM).Caps.SADirection.Command...), dir)
	suitekit.Run(ctx, s.Lab, node, cmd)
}

// gmState reports whether the GM implementation shows its state (events:
// getvpnd's control socket), where the directions and fail-close are read.
func gmState() bool { return suitekit.Offers(impl.GM, impl.Events) }

// settle waits, where the GMs show their state, until every node's group
// holds direction dir set by by; elsewhere it gives them a moment, the
// wire alone not saying when a GM took a rekey.
func settle(ctx context.Context, s *suitekit.Scenario, dir, by string, nodes ...string) {
	if !gmState() {
		time.Sleep(500 * time.Millisecond)
		return
	}
	for _, n := range nodes {
		Eventually(func(g Gomega) {
			gr := gmGroup(ctx, s, n)
			g.Expect(gr.Direction).To(Equal(dir), "%s's IPsec SA direction", n)
			g.Expect(gr.DirectionBy).To(Equal(by), "what set %s's direction", n)
		}).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	}
}

// gmGroup is node's first group as its control socket shows it.
func gmGroup(ctx context.Context, s *suitekit.Scenario, node string) control.GMGroup {
	st := suitekit.GDOI(ctx, s.Lab, node)
	Expect(st.Groups).NotTo(BeEmpty(), "%s's groups", node)
	Expect(st.Groups[0].GM).NotTo(BeNil(), "%s's group state", node)
	return *st.Groups[0].GM
}

// direction is a GM group's direction and what set it, "dir/by".
func direction(st control.GDOI) string {
	if len(st.Groups) == 0 || st.Groups[0].GM == nil {
		return "no group"
	}
	return st.Groups[0].GM.Direction + "/" + st.Groups[0].GM.DirectionBy
}

// counter is a data-plane counter of st (0 when absent).
func counter(st control.GDOI, name string) uint64 {
	if st.DataPlane == nil {
		return 0
	}
	return st.DataPlane.Counters[name]
}

// frames are captured frames; a failed expectation lists the first few
// briefly instead of dumping every field.
type frames []pcap.Packet

// GomegaString is how Gomega prints frames.
func (fs frames) GomegaString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d frame(s)", len(fs))
	for i, p := range fs {
		if i == 5 {
			b.WriteString("\n  ...")
			break
		}
		fmt.Fprintf(&b, "\n  #%d %s %s %s -> %s %s", p.Index, p.Time.Format("15:04:05.000000"), p.Link, p.Src, p.Dst, p.Proto)
		if p.ESP != nil {
			fmt.Fprintf(&b, " spi %08x", p.ESP.SPI)
		}
		if p.DstPort != 0 {
			fmt.Fprintf(&b, " port %d", p.DstPort)
		}
	}
	return b.String()
}
