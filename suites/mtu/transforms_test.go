package mtu

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// espShape is what RFC 4303 and the transforms' RFCs fix of an ESP packet
// in tunnel mode, written here from the RFCs, not read from the
// implementation: the IV, the alignment of payload, padding and the two
// trailer octets, and the ICV.
type espShape struct {
	iv, align, icv int
}

// transforms are the ESP transforms measured (strongSwan's names, which
// the scenario model uses), each protecting traffic to its own address
// of host-b.
var transforms = []struct {
	name  string
	shape espShape
}{
	{"aes256gcm16", espShape{iv: 8, align: 4, icv: 16}},     // RFC 4106
	{"aes128gcm16", espShape{iv: 8, align: 4, icv: 16}},     // RFC 4106
	{"aes128-sha1", espShape{iv: 16, align: 16, icv: 12}},   // RFC 3602, RFC 2404 (HMAC-SHA1-96)
	{"aes256-sha256", espShape{iv: 16, align: 16, icv: 16}}, // RFC 3602, RFC 4868 (HMAC-SHA-256-128)
	{"aes256-sha512", espShape{iv: 16, align: 16, icv: 32}}, // RFC 3602, RFC 4868 (HMAC-SHA-512-256)
	{"3des-sha1", espShape{iv: 8, align: 8, icv: 12}},       // RFC 2451, RFC 2404
}

// outer is the length of the IPv4 packet carrying an inner packet of n
// octets in tunnel mode: outer header, SPI and sequence number, IV, the
// inner packet with the least padding that aligns it and the trailer's
// two octets, ICV.
func (e espShape) outer(n int) int {
	body := n + 2
	body += (e.align - body%e.align) % e.align
	return 20 + 8 + e.iv + body + e.icv
}

// largestInner is the largest inner packet whose ESP fits mtu: what a GM
// names in ICMP "fragmentation needed" for a DF packet too big (DP-42).
func (e espShape) largestInner(mtu int) int {
	n := mtu
	for e.outer(n) > mtu {
		n--
	}
	return n
}

// transformDst is the address of host-b whose traffic transform i
// protects.
func transformDst(i int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(21 + i)}) }

// innerSizes are the UDP payloads measured: small, odd (padding at work)
// and near full size.
var innerSizes = []int{100, 1001, 1300}

var _ = Describe("ESP overhead per transform (DP-40) and the MTU each GM advertises (DP-42)", Ordered, Label("mtu"), suitekit.Checks("DP-40", "DP-42", "KS-25", "RFC4303-2"), suitekit.SlowAt(0.1), func() {
	var (
		s       *suitekit.Scenario
		reports = map[string][]traffic.Report{}
		full    = map[string]traffic.Report{}
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(0.1)
		g := &m.Groups[0]
		// One permit per transform, each to its own address of host-b,
		// before the group's own permits: the KS makes a TEK of that
		// transform for it.
		var permits []scenario.ACE
		for i, t := range transforms {
			g.Transforms = appendNew(g.Transforms, t.name)
			permits = append(permits, scenario.ACE{Action: "permit", Protocol: "ip", Source: "198.51.100.0/24",
				Destination: transformDst(i).String() + "/32", Transform: t.name})
		}
		at := firstPermit(g.ACL)
		g.ACL = append(g.ACL[:at], append(permits, g.ACL[at:]...)...)
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.GM: {impl.DataPlane}})
		s = suitekit.StartModel(ctx, "mtu-transforms", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		time.Sleep(time.Second)
		for i := range transforms {
			var out strings.Builder
			Expect(s.Lab.Exec(ctx, "host-b", []string{"ip", "addr", "add", transformDst(i).String() + "/24", "dev", "eth1"}, nil, &out, &out)).To(Succeed(), "%s", out.String())
		}
		for i, t := range transforms {
			for _, size := range innerSizes {
				reports[t.name] = append(reports[t.name], udpTo(ctx, s, transformDst(i), 7300, size, 5, 50))
			}
			// A full-size DF datagram: refused with ICMP naming what fits,
			// then fragmented by host-a to that.
			full[t.name] = udpTo(ctx, s, transformDst(i), 7301, 1472, 10, 10)
		}
		s.Finish()
	})

	It("adds exactly the RFCs' octets to every packet: header, IV, padding to the block, trailer, ICV", func() {
		var rows []string
		for i, t := range transforms {
			for j, size := range innerSizes {
				r := reports[t.name][j]
				Expect(r.Received).To(Equal(r.Sent), "%s, %d octets: %+v", t.name, size, r)
				inner := size + 28
				esp := espTo(s.Pkts, "gm1:eth1", transformDst(i))
				var seen []int
				for _, p := range esp {
					seen = append(seen, len(p.IPPacket()))
				}
				Expect(seen).To(ContainElement(t.shape.outer(inner)), "%s: a %d-octet packet's ESP", t.name, inner)
				rows = append(rows, fmt.Sprintf("%s %d→%d (+%d)", t.name, inner, t.shape.outer(inner), t.shape.outer(inner)-inner))
			}
		}
		AddReportEntry("ESP overhead (inner → outer octets)", strings.Join(rows, "; "))
	})

	It("refuses a 1500-octet DF datagram with ICMP naming the largest packet its transform fits in 1500, and the host's fragments then cross", func() {
		var rows []string
		for i, t := range transforms {
			want := t.shape.largestInner(1500)
			var got []int
			for _, f := range fragNeeded(s.Pkts, "gm1:eth2", gm1, hostA) {
				if f.quotedDst == transformDst(i) {
					got = append(got, f.mtu)
				}
			}
			for _, f := range fragNeeded(s.Pkts, "gm1:eth2", netip.MustParseAddr("198.51.100.1"), hostA) {
				if f.quotedDst == transformDst(i) {
					got = append(got, f.mtu)
				}
			}
			Expect(got).NotTo(BeEmpty(), "%s: ICMP fragmentation needed for %s", t.name, transformDst(i))
			Expect(got[0]).To(Equal(want), "%s: 1500 − %d octets of ESP", t.name, 1500-want)
			r := full[t.name]
			Expect(r.Received).To(BeNumerically(">=", r.Sent-2), "%s: host-a fragments to fit after the ICMP: %+v", t.name, r)
			for _, p := range espTo(s.Pkts, "gm1:eth1", transformDst(i)) {
				Expect(len(p.IPPacket())).To(BeNumerically("<=", 1500), "%s: frame %d", t.name, p.Index)
			}
			rows = append(rows, fmt.Sprintf("%s %d (%d octets of overhead)", t.name, got[0], 1500-got[0]))
		}
		AddReportEntry("MTU advertised at WAN MTU 1500 (seeds: 1500 − 50…60)", strings.Join(rows, "; "))
	})
})

var _ = Describe("LAN 1500 and WAN 4470 (DP-41: an MPLS core with room for the overhead)", Ordered, Label("mtu"), suitekit.Checks("DP-41"), suitekit.SlowAt(0.1), func() {
	var (
		s    *suitekit.Scenario
		full traffic.Report
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(0.1)
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.GM: {impl.DataPlane}})
		s = suitekit.StartModel(ctx, "mtu-wan-4470", "basic.clab.yml", m, nil)
		// The whole core at 4470: the bridge's ports, then the WAN sides.
		setMTU(s, "core", "", 4470)
		for _, n := range []string{"ks1", "gm1", "gm2"} {
			setMTU(s, n, "eth1", 4470)
		}
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		time.Sleep(2 * time.Second) // the GMs read their WAN's MTU every second
		full = udpTo(ctx, s, hostB, 7400, 1472, 20, 20)
		s.Finish()
	})

	It("carries full-size DF datagrams encrypted without ICMP or fragments: every one delivered, each ESP packet over 1500 octets", func() {
		Expect(full.Received).To(Equal(full.Sent), "%+v", full)
		Expect(fragNeeded(s.Pkts, "gm1:eth2", gm1, hostA)).To(BeEmpty())
		Expect(fragNeeded(s.Pkts, "gm1:eth2", netip.MustParseAddr("198.51.100.1"), hostA)).To(BeEmpty())
		esp := espTo(s.Pkts, "gm1:eth1", hostB)
		Expect(esp).To(HaveLen(int(full.Sent)), "one ESP packet per datagram")
		for _, p := range esp {
			Expect(len(p.IPPacket())).To(BeNumerically(">", 1500), "frame %d", p.Index)
		}
		AddReportEntry("WAN 4470", fmt.Sprintf("%d of %d 1500-octet DF datagrams delivered as %d-octet ESP packets", full.Received, full.Sent, len(esp[0].IPPacket())))
	})
})

// setMTU sets the MTU of node's interface ifname, or of every interface
// but loopback when ifname is "" (a bridge node: its ports, then the
// bridge, which takes the smallest of them).
func setMTU(s *suitekit.Scenario, node, ifname string, mtu int) {
	ns, err := s.Lab.NetNS(node)
	Expect(err).NotTo(HaveOccurred())
	Expect(nsdo.Do(ns, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		var bridges []netlink.Link
		for _, l := range links {
			a := l.Attrs()
			if a.Name == "lo" || (ifname != "" && a.Name != ifname) {
				continue
			}
			if l.Type() == "bridge" {
				bridges = append(bridges, l)
				continue
			}
			if err := netlink.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("%s: %w", a.Name, err)
			}
		}
		for _, b := range bridges {
			if err := netlink.LinkSetMTU(b, mtu); err != nil {
				return fmt.Errorf("%s: %w", b.Attrs().Name, err)
			}
		}
		return nil
	})).To(Succeed(), "MTU %d on %s %s", mtu, node, ifname)
}

// espTo are the ESP packets on link whose outer destination is dst.
func espTo(pkts []pcap.Packet, link string, dst netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.Link == link && p.Proto == "ESP" && p.Dst == dst {
			out = append(out, p)
		}
	}
	return out
}

// udpTo sends count datagrams of size octets of payload from host-a to
// dst, an address of host-b, at rate a second (DF set by the host's path
// MTU discovery), and returns what arrived.
func udpTo(ctx context.Context, s *suitekit.Scenario, dst netip.Addr, port uint16, size, count, rate int) traffic.Report {
	st, err := traffic.StartStream(ctx, traffic.StreamConfig{
		From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-a"), Addr: hostA},
		To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-b"), Addr: dst},
		Port: port, Rate: rate, Size: size, Count: count, Drain: time.Second,
	})
	Expect(err).NotTo(HaveOccurred())
	r, err := st.Wait()
	Expect(err).NotTo(HaveOccurred())
	return r
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// firstPermit is the index of acl's first permit entry (len(acl) if none).
func firstPermit(acl []scenario.ACE) int {
	for i, e := range acl {
		if e.Action == "permit" {
			return i
		}
	}
	return len(acl)
}
