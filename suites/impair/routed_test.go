package impair

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/mroute"
	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Addresses of routed.clab.yml: each GM on a network of its own, gm1
// behind r1, gm2 behind r1 and r2.
var (
	rgm1       = netip.MustParseAddr("192.0.2.17")
	rgm2       = netip.MustParseAddr("192.0.2.49")
	rekeyGroup = scenario.RoutedRekeyGroup
	// probePort is where the core's probe goes: the rekey group, not the
	// GDOI port, so no daemon takes it for a rekey.
	probePort uint16 = 9
	// rekeyTTL is the TTL the probe leaves ks1 with: what RFC 6407's
	// multicast rekeys need to cross a core (getvpnd's interop profiles
	// send 16 or 64; any above the core's two hops will do).
	rekeyTTL = 16
)

// routedModel is the impair model's timers on routed.clab.yml
// (scenario.Routed: multicast rekeys to rekeyGroup, RK-15, no
// acknowledgements, two blind retransmissions).
func routedModel() *scenario.Scenario {
	m := scenario.Routed()
	m.Groups[0].TEKLifetime = int(tekLifetime / time.Second)
	m.TimerScale = runScale
	return m
}

var multicastNeeds = map[impl.Role][]impl.Capability{
	impl.KS: {impl.MulticastRekey},
	impl.GM: {impl.MulticastRekey},
}

// pushesFrom are the GROUPKEY-PUSHes ks1 sent the rekey group seen on
// link, in capture order.
func pushesFrom(pkts []pcap.Packet, link string) []pcap.Packet {
	return onLink(pkts, link, isakmp.ExchangeGroupkeyPush, ks1, rekeyGroup)
}

// pullsFrom are the first copies of PULL message 1 gm sent on its link:
// each the start of a registration.
func pullsFrom(pkts []pcap.Packet, link string, gm netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range onLink(pkts, link, isakmp.ExchangeGroupkeyPull, gm, ks1) {
		if p.ISAKMP.Message == 1 && !p.ISAKMP.Repeat {
			out = append(out, p)
		}
	}
	return out
}

// udpPayload is what a UDP datagram carries (nil if p is not one).
func udpPayload(p pcap.Packet) []byte {
	ip := p.IPPacket()
	if len(ip) < 20 {
		return nil
	}
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+8 {
		return nil
	}
	return ip[ihl+8:]
}

// protocol is wall duration d in protocol seconds at the lab's scale.
func protocol(s *suitekit.Scenario, d time.Duration) float64 {
	return d.Seconds() / s.Model.TimerScale
}

func after(pkts []pcap.Packet, t time.Time) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.Time.After(t) {
			out = append(out, p)
		}
	}
	return out
}

// probesOn are the core probes (UDP from ks1 to the rekey group's probe
// port) seen on link.
func probesOn(pkts []pcap.Packet, link string) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.Link == link && p.Src == ks1 && p.Dst == rekeyGroup && p.Proto == "UDP" && p.DstPort == probePort {
			out = append(out, p)
		}
	}
	return out
}

var _ = Describe("multicast rekeys across a routed core, one router's multicast state removed", Ordered, Label("impair", "routed"), suitekit.Checks("RK-15", "RK-16", "FS-21", "FS-22"), suitekit.SlowAt(scale), func() {
	var (
		s                   *suitekit.Scenario
		coreRoutes          []mroute.RouteStats
		firstDaemonFrame    time.Time
		removed, restored   time.Time
		firstRekeyAt        time.Time
		gm2Reregistered     bool
		r2AfterRemoval      *mroute.State
		rekeysBeforeRestore int
	)
	BeforeAll(func(ctx SpecContext) {
		suitekit.SkipUnlessRuns(routedModel(), multicastNeeds)
		s = suitekit.StartModelWith(ctx, "impair-routed", "routed.clab.yml", routedModel(), suitekit.ModelOptions{
			// Before any daemon: a datagram from the key server's address
			// to the rekey group must reach both GMs' links.
			CoreUp: func(s *suitekit.Scenario) {
				Expect(suitekit.SendMulticast(s.Lab, "ks1", ks1, netip.AddrPortFrom(rekeyGroup, probePort), rekeyTTL, []byte("getlab core probe"))).To(Succeed())
				s.WaitOnWire(ctx, 5*time.Second, "the core probe on gm1's and gm2's links", func(pkts []pcap.Packet) bool {
					return len(probesOn(pkts, "gm1:eth1")) > 0 && len(probesOn(pkts, "gm2:eth1")) > 0
				})
				for _, r := range []string{"r1", "r2"} {
					coreRoutes = append(coreRoutes, suitekit.RouterState(ctx, s.Lab, r).Routes...)
				}
			},
		})
		s.WaitOnWire(ctx, s.Scaled(retryBudget), "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, rgm1, rgm2))
		// The first rekey and its two retransmissions reach gm2 through r1
		// and r2.
		s.WaitOnWire(ctx, s.Scaled(tekLifetime+2*retransmitInt)+10*time.Second, "the first rekey's three copies on gm2's link", func(pkts []pcap.Packet) bool {
			p := pushesFrom(pkts, "gm2:eth1")
			if len(p) > 0 {
				firstRekeyAt = p[0].Time
			}
			return len(p) >= 3
		})
		// r2 forgets the rekey group: the (S,G) route goes, as when a
		// router's PIM state times out or it restarts without it.
		Expect(suitekit.Router(s.Lab, "r2").Remove(ctx, mroute.Key{In: "eth1", Source: netip.PrefixFrom(ks1, 32), Group: netip.PrefixFrom(rekeyGroup, 32)})).To(Succeed())
		removed = time.Now()
		// The next rekey reaches gm1 and stops at r2; gm2's TEK runs out
		// unless it registers again (T−R−J…T−R, FS-21, FS-22).
		s.WaitOnWire(ctx, s.Scaled(tekLifetime)+10*time.Second, "the second rekey's three copies on gm1's link and gm2 registered again", func(pkts []pcap.Packet) bool {
			n := len(after(pushesFrom(pkts, "gm1:eth1"), removed))
			rekeysBeforeRestore = n
			gm2Reregistered = false
			for _, r := range suitekit.Registrations(pkts, ks1, rgm2) {
				if r[0].Time.After(removed) {
					gm2Reregistered = true
				}
			}
			return n >= 3 && gm2Reregistered
		})
		r2AfterRemoval = suitekit.RouterState(ctx, s.Lab, "r2")
		// The route back: the rekey after that reaches gm2 again.
		Expect(suitekit.Router(s.Lab, "r2").Add(ctx, mroute.Route{In: "eth1", Source: netip.PrefixFrom(ks1, 32), Group: netip.PrefixFrom(rekeyGroup, 32), Out: []string{"eth2"}})).To(Succeed())
		restored = time.Now()
		s.WaitOnWire(ctx, s.Scaled(tekLifetime)+10*time.Second, "a rekey on gm2's link after the route is back", func(pkts []pcap.Packet) bool {
			return len(after(pushesFrom(pkts, "gm2:eth1"), restored)) >= 3
		})
		s.Finish()
		for _, p := range s.Pkts {
			if p.ISAKMP != nil {
				firstDaemonFrame = p.Time
				break
			}
		}
	})

	It("carries the rekey group from the key server to both GMs before any daemon runs, each router decrementing the TTL", func() {
		for link, ttl := range map[string]int{"ks1:eth1": rekeyTTL, "gm1:eth1": rekeyTTL - 1, "gm2:eth1": rekeyTTL - 2} {
			p := probesOn(s.Pkts, link)
			Expect(p).To(HaveLen(1), "the probe on %s", link)
			Expect(p[0].TTL).To(BeEquivalentTo(ttl), "TTL on %s: one less per router crossed", link)
			Expect(p[0].Time.Before(firstDaemonFrame)).To(BeTrue(), "the probe crossed before the first GDOI frame")
		}
		var forwarded uint64
		for _, r := range coreRoutes {
			if r.Group == netip.PrefixFrom(rekeyGroup, 32) {
				forwarded += r.Packets
			}
		}
		Expect(forwarded).To(BeEquivalentTo(2), "the probe took the (S,G) route of r1 and of r2 once each")
	})

	It("delivers the first rekey and its retransmissions to both GMs through the routers, and no GM registers again", func() {
		onKS := pushesFrom(s.Pkts, "ks1:eth1")
		Expect(len(onKS)).To(BeNumerically(">=", 3))
		first := onKS[:3]
		for _, link := range []string{"gm1:eth1", "gm2:eth1"} {
			got := pushesFrom(s.Pkts, link)
			Expect(len(got)).To(BeNumerically(">=", 3), "on %s", link)
			for i, p := range got[:3] {
				// The UDP checksum on ks1's own link may still be the
				// offload's partial one: the message itself is compared.
				Expect(bytes.Equal(udpPayload(p), udpPayload(first[i]))).To(BeTrue(), "copy %d on %s is the KS's message, octet for octet", i, link)
				hops := map[string]uint8{"gm1:eth1": 1, "gm2:eth1": 2}[link]
				Expect(p.TTL).To(Equal(first[i].TTL-hops), "copy %d on %s crossed %d routers", i, link, hops)
			}
		}
		for link, gm := range map[string]netip.Addr{"gm1:eth1": rgm1, "gm2:eth1": rgm2} {
			var before []pcap.Packet
			for _, p := range pullsFrom(s.Pkts, link, gm) {
				if p.Time.Before(removed) {
					before = append(before, p)
				}
			}
			Expect(len(before)).To(Equal(1), "%s registered once before r2 lost its route: the rekeys kept its keys", gm)
		}
		Expect(firstRekeyAt.Before(removed)).To(BeTrue())
	})

	It("with r2's route removed, delivers the next rekey to gm1 only and gm2 registers again before its TEK expires", func() {
		Expect(rekeysBeforeRestore).To(BeNumerically(">=", 3), "the second rekey's copies on gm1's link")
		between := func(pkts []pcap.Packet) []pcap.Packet {
			var out []pcap.Packet
			for _, p := range after(pkts, removed) {
				if p.Time.Before(restored) {
					out = append(out, p)
				}
			}
			return out
		}
		Expect(len(between(pushesFrom(s.Pkts, "r2:eth1")))).To(BeNumerically(">=", 3), "the rekey reached r2")
		Expect(len(between(pushesFrom(s.Pkts, "gm2:eth1")))).To(BeZero(), "r2 forwarded none to gm2")
		var unrouted uint64
		for _, r := range r2AfterRemoval.Routes {
			Expect(r.Group).NotTo(Equal(netip.PrefixFrom(rekeyGroup, 32)), "r2's rekey route is gone")
		}
		unrouted = r2AfterRemoval.Unrouted["no route"]
		Expect(unrouted).To(BeNumerically(">=", 3), "r2 counted the rekey's copies it had no route for")
		Expect(gm2Reregistered).To(BeTrue())
		// gm2's TEK came in the first rekey: a TEK of tekLifetime then.
		tekEnd := firstRekeyAt.Add(s.Scaled(tekLifetime))
		var again []pcap.Packet
		for _, r := range suitekit.Registrations(s.Pkts, ks1, rgm2) {
			if r[0].Time.After(removed) {
				again = append(again, r[len(r)-1])
			}
		}
		Expect(again).NotTo(BeEmpty())
		Expect(again[0].Time.Before(tekEnd)).To(BeTrue(), "gm2 registered again %v after its TEK's end", again[0].Time.Sub(tekEnd))
		AddReportEntry("gm2 registered again", fmt.Sprintf("%.1f s (protocol) after r2 lost its route, %.1f s before the end of the TEK it last received; r2 had no route for %d datagrams",
			protocol(s, again[0].Time.Sub(removed)), protocol(s, tekEnd.Sub(again[0].Time)), unrouted))
		Expect(len(between(pullsFrom(s.Pkts, "gm1:eth1", rgm1)))).To(BeZero(), "gm1, which took the rekey, did not register again")
	})

	It("delivers rekeys to gm2 again once r2 has its route back, and gm2 no longer registers", func() {
		Expect(len(after(pushesFrom(s.Pkts, "gm2:eth1"), restored))).To(BeNumerically(">=", 3))
		lastPull := pullsFrom(s.Pkts, "gm2:eth1", rgm2)
		Expect(lastPull[len(lastPull)-1].Time.Before(restored)).To(BeTrue(), "no registration of gm2 after the route came back")
	})
})

// dataGroup is the group site A's multicast goes to (routed.clab.yml's
// routers carry 239.193.0.0/16 from site A to site B).
var dataGroup = netip.MustParseAddr("239.193.1.1")

var _ = Describe("multicast data across the routed core (DP-60)", Ordered, Label("impair", "routed"), suitekit.Checks("DP-60"), suitekit.SlowAt(scale), func() {
	const (
		count = 50
		port  = 5000
		ttl   = 8
	)
	var (
		s        *suitekit.Scenario
		received map[int]bool
	)
	BeforeAll(func(ctx SpecContext) {
		m := routedModel()
		g := &m.Groups[0]
		g.ACL = append(g.ACL, scenario.ACE{Action: "permit", Protocol: "ip", Source: "198.51.100.0/24", Destination: "239.193.0.0/16"})
		for i := range m.GroupMembers {
			m.GroupMembers[i].MulticastLAN = []string{"eth2"}
		}
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.KS: {impl.MulticastRekey}, impl.GM: {impl.MulticastRekey, impl.DataPlane, impl.MulticastData}})
		s = suitekit.StartModelWith(ctx, "impair-routed-data", "routed.clab.yml", m, suitekit.ModelOptions{})
		s.WaitOnWire(ctx, s.Scaled(retryBudget), "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, rgm1, rgm2))
		time.Sleep(time.Second) // gm2 installs what PULL 4 brought
		// host-b joins the group on its LAN; host-a sends to it.
		var rx *net.UDPConn
		Expect(nsdo.Do(suitekit.NetNS(s.Lab, "host-b"), func() error {
			ifi, err := net.InterfaceByName("eth1")
			if err != nil {
				return err
			}
			rx, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: dataGroup.AsSlice(), Port: port})
			return err
		})).To(Succeed())
		DeferCleanup(rx.Close)
		received = map[int]bool{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 2048)
			for {
				rx.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := rx.Read(buf)
				if err != nil {
					return
				}
				var i int
				if _, err := fmt.Sscanf(string(buf[:n]), "getlab multicast %d", &i); err == nil {
					received[i] = true
				}
			}
		}()
		Expect(suitekit.SendMulticastN(s.Lab, "host-a", hostA, netip.AddrPortFrom(dataGroup, port), ttl, count, 20*time.Millisecond,
			func(i int) []byte { return []byte(fmt.Sprintf("getlab multicast %d", i)) })).To(Succeed())
		<-done
		s.Finish()
	})

	It("delivers host-a's multicast to host-b, encrypted across the core with the group as the outer destination", func() {
		Expect(received).To(HaveLen(count), "datagrams host-b received of %d", count)
		spis := map[uint32]bool{}
		for link, hops := range map[string]uint8{"gm1:eth1": 1, "r2:eth1": 2, "gm2:eth1": 3} {
			esp := 0
			for _, p := range s.Pkts {
				if p.Link != link || p.Dst != dataGroup {
					continue
				}
				Expect(p.Proto).To(Equal("ESP"), "frame %d on %s: multicast to the group crosses the core encrypted only", p.Index, link)
				Expect(p.Src).To(Equal(hostA), "the sender's address kept")
				Expect(p.TTL).To(BeEquivalentTo(ttl-hops), "frame %d on %s: one less per router, gm1 counting as one", p.Index, link)
				spis[p.ESP.SPI] = true
				esp++
			}
			Expect(esp).To(Equal(count), "ESP packets on %s", link)
		}
		Expect(spis).To(HaveLen(1), "one group SA")
		clear := 0
		for _, p := range s.Pkts {
			if p.Link == "gm2:eth2" && p.Dst == dataGroup && p.Proto == "UDP" && p.Src == hostA {
				clear++
			}
		}
		Expect(clear).To(Equal(count), "gm2 delivers each to site B in clear")
		AddReportEntry("multicast data", fmt.Sprintf("%d of %d datagrams host-a → %v delivered; ESP on gm1's, the transit's and gm2's links with TTL %d, %d, %d", len(received), count, dataGroup, ttl-1, ttl-2, ttl-3))
	})

	It("carries the datagram itself inside the ESP (key log)", func() {
		suitekit.RequireKeyLog()
		for _, p := range s.Pkts {
			if p.Link != "gm1:eth1" || p.Dst != dataGroup || p.ESP == nil {
				continue
			}
			Expect(p.ESP.Decrypted).To(BeTrue(), "frame %d: %s", p.Index, p.ESP.DecryptError)
			Expect(p.ESP.InnerSrc).To(Equal(hostA))
			Expect(p.ESP.InnerDst).To(Equal(dataGroup))
			Expect(p.ESP.InnerProto).To(BeEquivalentTo(17))
		}
	})
})
