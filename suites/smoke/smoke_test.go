// The smoke suite proves the bench itself on plain.clab.yml (basic.clab.yml
// without daemons, so that what it measures is the bench's and the kernel's,
// not getvpnd's: the data plane suite covers traffic through registered
// GMs): the topology comes up as written, the two sites reach each other
// through the GMs' routing, and a fault on a WAN link is seen as loss by a
// probe stream and healed.
package smoke

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/fault"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/snapshot"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var (
	hostA = netip.MustParseAddr("198.51.100.10")
	hostB = netip.MustParseAddr("203.0.113.10")
)

var _ = Describe("basic topology: bring-up", Ordered, Label("smoke"), func() {
	var (
		lab     *netns.Lab
		capture *pcap.Capture
	)

	BeforeAll(func(ctx SpecContext) {
		lab = suitekit.Deploy(ctx, "plain.clab.yml")
	})
	BeforeEach(func() { capture = suitekit.StartCapture(lab) })
	AfterEach(func() { suitekit.CollectArtifacts(lab, capture) })

	It("comes up as the topology file describes it", func() {
		Expect(lab.Nodes).To(HaveLen(6))
		for _, n := range lab.Nodes {
			want := "running"
			if n.Kind == "bridge" {
				want = "up"
			}
			Expect(n.State()).To(Equal(want), "node %s", n.Name)
		}
		core, err := snapshot.Node(suitekit.NetNS(lab, "core"))
		Expect(err).NotTo(HaveOccurred())
		for _, port := range []string{"ks1-eth1", "gm1-eth1", "gm2-eth1"} {
			Expect(core).To(MatchRegexp(`%s veth up mtu 1500 mac \S+ master core`, port))
		}
		gm1, err := snapshot.Node(suitekit.NetNS(lab, "gm1"))
		Expect(err).NotTo(HaveOccurred())
		Expect(gm1).To(ContainSubstring("eth1 192.0.2.11/24"))
		Expect(gm1).To(ContainSubstring("eth2 198.51.100.1/24"))
		Expect(gm1).To(ContainSubstring("203.0.113.0/24 via 192.0.2.12 dev eth1"))

		// Each node has a /sys of its own: it lists the node's interfaces only.
		sysNet, err := os.ReadDir("/proc/" + strconv.Itoa(lab.Node("host-a").Holder) + "/root/sys/class/net")
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, e := range sysNet {
			names = append(names, e.Name())
		}
		Expect(names).To(ConsistOf("lo", "eth1"))
	})

	It("lets host-a and host-b reach each other through the GMs", func(ctx SpecContext) {
		for _, p := range []struct {
			from string
			to   netip.Addr
		}{{"host-a", hostB}, {"host-b", hostA}} {
			n, err := traffic.PingN(ctx, suitekit.NetNS(lab, p.from), p.to, 3, 20*time.Millisecond, 2*time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(3), "echo replies from %s to %s", p.from, p.to)
		}
		s, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From:  traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-a"), Addr: hostA},
			To:    traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-b"), Addr: hostB},
			Port:  9000,
			Rate:  2000,
			Count: 1000,
			Size:  200,
		})
		Expect(err).NotTo(HaveOccurred())
		r, err := s.Wait()
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("probe", r.String())
		Expect(r.Sent).To(BeEquivalentTo(1000))
		Expect(r.Received).To(BeEquivalentTo(1000))
		Expect(r.Lost + r.Duplicated + r.Reordered).To(BeZero())
	})

	It("gathers the nodes' key logs next to the capture", func() {
		// Stands in for a daemon started with --keylog: a line written at
		// the conventional path inside ks1's private /run.
		line := "ESP spi=0000a5f8 transform=aes128gcm16 key=feffe9928665731c6d6a8f9467308308cafebabe group=1234\n"
		Expect(lab.Exec(context.Background(), "ks1", []string{"sh", "-c",
			"mkdir -p /run/getvpnd && printf '" + line + "' > " + suitekit.NodeKeyLog}, nil, GinkgoWriter, GinkgoWriter)).To(Succeed())
		_, err := os.Stat(suitekit.NodeKeyLog)
		Expect(err).To(HaveOccurred(), "the key log lives in the node's /run, not the host's")
	})

	It("leaves each node's state and logs as artifacts", func() {
		// Artifacts of the earlier specs were written by AfterEach.
		entries, err := os.ReadDir(suitekit.ReportsDir())
		Expect(err).NotTo(HaveOccurred())
		var found bool
		for _, e := range entries {
			if strings.Contains(e.Name(), "comes_up_as_the_topology_file") {
				_, err := os.Stat(suitekit.ReportsDir() + "/" + e.Name() + "/gm1/state.txt")
				Expect(err).NotTo(HaveOccurred())
				st, err := os.Stat(suitekit.ReportsDir() + "/" + e.Name() + "/capture.pcapng")
				Expect(err).NotTo(HaveOccurred())
				Expect(st.Size()).To(BeNumerically(">", 0))
			}
			if strings.Contains(e.Name(), "gathers_the_nodes_key_logs") {
				kl, err := pcap.ReadKeyLog(suitekit.ReportsDir() + "/" + e.Name() + "/keys.log")
				Expect(err).NotTo(HaveOccurred())
				_, ok := kl.ESPBySPI(0x0000a5f8)
				Expect(ok).To(BeTrue(), "keys.log holds ks1's key")
				found = true
			}
		}
		Expect(found).To(BeTrue(), "artifact folder of the first spec")
	})
})

// The fault specs get a lab of their own, so with `ginkgo -p` the two
// containers run side by side on two labs of the same file.
var _ = Describe("basic topology: faults", Ordered, Label("smoke"), func() {
	var (
		lab     *netns.Lab
		capture *pcap.Capture
	)

	BeforeAll(func(ctx SpecContext) {
		lab = suitekit.Deploy(ctx, "plain.clab.yml")
	})
	BeforeEach(func() { capture = suitekit.StartCapture(lab) })
	AfterEach(func() { suitekit.CollectArtifacts(lab, capture) })

	probe := func(ctx SpecContext, port uint16, count int) traffic.Report {
		s, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From: traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-a"), Addr: hostA},
			To:   traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-b"), Addr: hostB},
			Port: port, Rate: 2000, Count: count,
		})
		Expect(err).NotTo(HaveOccurred())
		r, err := s.Wait()
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry(fmt.Sprintf("probe %d", port), r.String())
		return r
	}

	It("loses probe packets while a WAN link is down and recovers when it is up", func(ctx SpecContext) {
		// The cut is made at the core bridge's port, as a WAN failure is:
		// gm1 loses carrier but keeps its routes, so traffic resumes by itself.
		core := suitekit.NetNS(lab, "core")
		s, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From:     traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-a"), Addr: hostA},
			To:       traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-b"), Addr: hostB},
			Port:     9001,
			Rate:     1000,
			Duration: 3 * time.Second,
		})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() uint64 { return s.Snapshot().Received }).
			WithTimeout(2 * time.Second).Should(BeNumerically(">=", 200))

		Expect(fault.LinkDown(core, "gm1-eth1")).To(Succeed())
		before := s.Snapshot()
		time.Sleep(500 * time.Millisecond)
		during := s.Snapshot()
		Expect(fault.LinkUp(core, "gm1-eth1")).To(Succeed())

		// Half a second at 1000/s with the link down: nothing may arrive.
		Expect(during.Sent - before.Sent).To(BeNumerically(">=", 300))
		Expect(during.Received - before.Received).To(BeNumerically("<=", 5))

		r, err := s.Wait()
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("probe", r.String())
		Expect(r.Lost).To(BeNumerically(">=", 300))
		Expect(r.Received-during.Received).To(BeNumerically(">=", 1000),
			"the stream recovers after the link comes back")
		Expect(r.Duplicated).To(BeZero())

		// And a fresh stream is clean again.
		s2, err := traffic.StartStream(ctx, traffic.StreamConfig{
			From: traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-a"), Addr: hostA},
			To:   traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-b"), Addr: hostB},
			Port: 9002, Rate: 1000, Count: 300,
		})
		Expect(err).NotTo(HaveOccurred())
		r2, err := s2.Wait()
		Expect(err).NotTo(HaveOccurred())
		Expect(r2.Lost).To(BeZero(), r2.String())
	})

	It("loses about the configured share of packets on a lossy WAN link", func(ctx SpecContext) {
		imp, err := fault.AddLoss(suitekit.NetNS(lab, "gm2"), "eth1", 30, fault.Ingress)
		Expect(err).NotTo(HaveOccurred())
		r := probe(ctx, 9010, 2000)
		dropped, err := imp.Dropped()
		Expect(err).NotTo(HaveOccurred())
		Expect(imp.Remove()).To(Succeed())
		// 30% of 2000: the binomial spread is ±20 packets; allow ±5 points.
		Expect(r.Lost).To(BeNumerically("~", 600, 100), r.String())
		Expect(dropped).To(Equal(r.Lost), "every lost probe was dropped by the impairment")
		Expect(probe(ctx, 9011, 500).Lost).To(BeZero(), "loss gone after Remove")
	})

	It("cuts a partition between node sets and heals it", func(ctx SpecContext) {
		node := func(name string) fault.Node { return fault.Node{Name: name, NetNS: suitekit.NetNS(lab, name)} }
		ks1 := netip.MustParseAddr("192.0.2.1")
		cut, err := fault.Partition([]fault.Node{node("ks1")}, []fault.Node{node("gm1")})
		Expect(err).NotTo(HaveOccurred())
		_, err = traffic.Ping(ctx, suitekit.NetNS(lab, "gm1"), ks1, 300*time.Millisecond)
		Expect(err).To(HaveOccurred(), "gm1 reaches ks1 across the partition")
		_, err = traffic.Ping(ctx, suitekit.NetNS(lab, "gm2"), ks1, time.Second)
		Expect(err).NotTo(HaveOccurred(), "gm2 is outside the partition")
		Expect(cut.Remove()).To(Succeed())
		_, err = traffic.Ping(ctx, suitekit.NetNS(lab, "gm1"), ks1, time.Second)
		Expect(err).NotTo(HaveOccurred(), "healed")
		state, err := snapshot.Node(suitekit.NetNS(lab, "gm1"))
		Expect(err).NotTo(HaveOccurred())
		Expect(state).NotTo(ContainSubstring(fault.TableName), "no fault table left after Remove")
	})

	It("drops packets larger than a lowered MTU and carries them again when restored", func(ctx SpecContext) {
		hostBNS := suitekit.NetNS(lab, "host-b")
		sized := func(port uint16, size int) traffic.Report {
			s, err := traffic.StartStream(ctx, traffic.StreamConfig{
				From: traffic.Endpoint{NetNS: suitekit.NetNS(lab, "host-a"), Addr: hostA},
				To:   traffic.Endpoint{NetNS: hostBNS, Addr: hostB},
				Port: port, Rate: 1000, Count: 200, Size: size,
			})
			Expect(err).NotTo(HaveOccurred())
			r, err := s.Wait()
			Expect(err).NotTo(HaveOccurred())
			AddReportEntry(fmt.Sprintf("probe %d (%d bytes)", port, size), r.String())
			return r
		}
		// A veth drops frames above its MTU on receive, silently: no ICMP
		// goes back, so host-a caches no path MTU and the restore is clean.
		Expect(fault.SetMTU(hostBNS, "eth1", 1280)).To(Succeed())
		Expect(sized(9020, 1300).Received).To(BeZero(), "1328-byte datagrams through a 1280 MTU")
		Expect(sized(9021, 1000).Lost).To(BeZero(), "1028-byte datagrams fit")
		Expect(fault.SetMTU(hostBNS, "eth1", 1500)).To(Succeed())
		Expect(sized(9022, 1300).Lost).To(BeZero(), "after the MTU is restored")
	})
})
