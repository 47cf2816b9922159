package smoke

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/pcap/handbuilt"
	"github.com/getlab/getlab/pcap/match"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The wire specs put hand-built GDOI messages (every payload type, in
// clear) on UDP 848 between gm1 and ks1, capture the WAN, and check that
// the project's decoder reads them as built and that tshark reads the
// capture the same way, frame by frame.
var _ = Describe("basic topology: GDOI on the wire", Ordered, Label("smoke", "wire"), func() {
	var (
		lab      *netns.Lab
		pkts     []pcap.Packet
		capPath  string
		messages = handbuilt.Messages()
	)

	BeforeAll(func(ctx SpecContext) {
		lab = suitekit.Deploy(ctx, "plain.clab.yml")
		listen := func(node, addr string) *net.UDPConn {
			var c *net.UDPConn
			Expect(nsdo.Do(suitekit.NetNS(lab, node), func() (err error) {
				c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
				return err
			})).To(Succeed())
			DeferCleanup(c.Close)
			return c
		}
		gm := listen("gm1", "192.0.2.11:848")
		ks := listen("ks1", "192.0.2.1:848")

		all, err := pcap.Points(lab.Topology(), lab.NetNS)
		Expect(err).NotTo(HaveOccurred())
		var wan []pcap.Point
		for _, p := range all {
			if p.Name == "gm1:eth1" || p.Name == "ks1:eth1" {
				wan = append(wan, p)
			}
		}
		Expect(wan).To(HaveLen(2))
		dir := filepath.Join(suitekit.ReportsDir(), "gdoi-on-the-wire")
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
		capPath = filepath.Join(dir, "gdoi.pcapng")
		c, err := pcap.Start(capPath, wan)
		Expect(err).NotTo(HaveOccurred())

		buf := make([]byte, 65535)
		for _, m := range messages {
			from, to, dst := ks, gm, "192.0.2.11:848"
			if m.FromGM {
				from, to, dst = gm, ks, "192.0.2.1:848"
			}
			_, err := from.WriteToUDPAddrPort(m.Bytes, netip.MustParseAddrPort(dst))
			Expect(err).NotTo(HaveOccurred())
			Expect(to.SetReadDeadline(time.Now().Add(2 * time.Second))).To(Succeed())
			n, _, err := to.ReadFromUDPAddrPort(buf)
			Expect(err).NotTo(HaveOccurred(), m.Name)
			Expect(buf[:n]).To(Equal(m.Bytes), m.Name)
		}
		stats, err := c.Stop()
		Expect(err).NotTo(HaveOccurred())
		for _, st := range stats {
			Expect(st.Dropped).To(BeZero(), st.Point.Name)
		}
		pkts, err = pcap.ReadFile(capPath, nil)
		Expect(err).NotTo(HaveOccurred())
		var listing strings.Builder
		for i := range pkts {
			listing.WriteString(pkts[i].String() + "\n")
		}
		Expect(os.WriteFile(filepath.Join(dir, "gdoi.txt"), []byte(listing.String()), 0o644)).To(Succeed())
	})

	It("decodes every message on each WAN link it crossed, as it was built", func() {
		perLink := map[string][]*pcap.ISAKMPInfo{}
		for _, p := range pkts {
			Expect(p.Malformed).To(BeEmpty(), p.String())
			if p.ISAKMP != nil {
				perLink[p.Link] = append(perLink[p.Link], p.ISAKMP)
			}
		}
		Expect(perLink).To(HaveLen(2))
		for link, infos := range perLink {
			Expect(infos).To(HaveLen(len(messages)), link)
			for i, info := range infos {
				Expect(info.Layout).To(Equal(messages[i].Layout), "%s: %s", link, messages[i].Name)
			}
		}
		// The second link's copies are recognised as the same messages.
		repeats := 0
		for _, p := range pkts {
			if p.ISAKMP != nil && p.ISAKMP.Repeat {
				repeats++
			}
		}
		Expect(repeats).To(Equal(len(messages)))

		gm1, ks1 := netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.1")
		Expect(pkts).To(ContainElement(And(match.OnLink("gm1:eth1"), match.Exchange(isakmp.ExchangeGroupkeyPull, 1),
			match.From(gm1), match.To(ks1), match.FirstPayload(isakmp.PayloadHash))))
		Expect(pkts).To(ContainElement(And(match.Exchange(isakmp.ExchangeGroupkeyPush, 1), match.From(ks1),
			match.Layout("SEQ,SA(SAK,SAT,SAT),KD,D,CERT,SIG"))))
		Expect(pkts).To(HaveEach(match.Clean()))
	})

	It("agrees with tshark frame by frame", func() {
		theirs, err := pcap.Tshark(capPath)
		if err == pcap.ErrNoTshark {
			Skip(err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		a := pcap.CrossCheck(pkts, theirs)
		AddReportEntry("tshark cross-check", a)
		Expect(a.Mismatches).To(BeEmpty())
		Expect(a.Compared).To(Equal(2 * len(messages)))
		Expect(a.Exceptions).To(Equal(map[string]int{pcap.TsharkGAPStopsSAChain: 2}))
	})
})
