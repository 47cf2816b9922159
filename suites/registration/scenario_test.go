package registration

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A scenario is one lab watched from before its daemons start: the capture
// spans the whole Ordered container, so registration is on it from the
// first packet, and every verdict comes from the decoded capture and the
// daemons' control sockets.
type scenario struct {
	lab     *netns.Lab
	capture *pcap.Capture
	dir     string
	keys    *pcap.KeyLog
	pkts    []pcap.Packet
}

// Addresses of basic.clab.yml and basic-2ks.clab.yml.
var (
	ks1 = netip.MustParseAddr("192.0.2.1")
	ks2 = netip.MustParseAddr("192.0.2.2")
	gm1 = netip.MustParseAddr("192.0.2.11")
	gm2 = netip.MustParseAddr("192.0.2.12")
)

// startScenario deploys a copy of file changed by edits, starts capturing
// every link into reports/out/registration-<name>/, runs before (faults to
// set up while nothing runs yet) and starts the daemons.
func startScenario(ctx context.Context, name, file string, before func(*netns.Lab), edits ...suitekit.Edit) *scenario {
	s := &scenario{dir: filepath.Join(suitekit.ReportsDir(), "registration-"+name)}
	Expect(os.RemoveAll(s.dir)).To(Succeed())
	Expect(os.MkdirAll(s.dir, 0o755)).To(Succeed())
	s.lab = suitekit.DeployDaemons(ctx, file, edits...)
	pts, err := pcap.Points(s.lab.Topology(), s.lab.NetNS)
	Expect(err).NotTo(HaveOccurred())
	s.capture, err = pcap.Start(filepath.Join(s.dir, "capture.pcapng"), pts)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.finish() })
	if before != nil {
		before(s.lab)
	}
	// Key servers first, as an operator brings them up: a GM that starts
	// before its KS listens only retries, which the timing specs would see.
	var kss, others []string
	for _, n := range s.lab.Topology().Nodes {
		if n.Labels["getlab.role"] == "ks" {
			kss = append(kss, n.Name)
		} else if n.Kind != "bridge" {
			others = append(others, n.Name)
		}
	}
	Expect(s.lab.StartProcesses(ctx, kss...)).To(Succeed())
	for _, ks := range kss {
		Eventually(func() error { return suitekit.Control(s.lab, ks).Health(ctx) }).WithContext(ctx).
			WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Succeed(), "%s up", ks)
	}
	Expect(s.lab.StartProcesses(ctx, others...)).To(Succeed())
	return s
}

// finish stops the capture, gathers logs, daemon state and key logs into
// the scenario's folder and decodes the capture with the keys. It runs
// once; the DeferCleanup call is a no-op after an explicit one.
func (s *scenario) finish() {
	if s.capture == nil {
		return
	}
	suitekit.CollectArtifactsTo(s.lab, s.capture, s.dir)
	s.capture = nil
	s.keys = &pcap.KeyLog{}
	if b, err := os.ReadFile(filepath.Join(s.dir, "keys.log")); err == nil {
		Expect(s.keys.Read(bytes.NewReader(b))).To(Succeed())
	}
	var err error
	s.pkts, err = pcap.ReadFile(filepath.Join(s.dir, "capture.pcapng"), s.keys)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("capture", filepath.Join(s.dir, "capture.pcapng"))
}

// onLink returns the ISAKMP frames captured on link ("gm1:eth1") of
// exchange x between a and b (either direction), every copy, in time order.
func (s *scenario) onLink(link string, x isakmp.ExchangeType, a, b netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range s.pkts {
		if p.Link != link || p.ISAKMP == nil || p.ISAKMP.Type != uint8(x) {
			continue
		}
		if (p.Src == a && p.Dst == b) || (p.Src == b && p.Dst == a) {
			out = append(out, p)
		}
	}
	return out
}

// messages returns the first copy of each message of exchange x between a
// and b, in time order (retransmissions and copies on other links left out).
func (s *scenario) messages(x isakmp.ExchangeType, a, b netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range s.pkts {
		if p.ISAKMP == nil || p.ISAKMP.Repeat || p.ISAKMP.Type != uint8(x) {
			continue
		}
		if (p.Src == a && p.Dst == b) || (p.Src == b && p.Dst == a) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// notifications returns the Notification payloads of the Informational
// messages from a to b that the decoder could read (plaintext, or
// decrypted with the key log).
func (s *scenario) notifications(a, b netip.Addr) []*isakmp.Notification {
	var out []*isakmp.Notification
	for _, p := range s.messages(isakmp.ExchangeInformational, a, b) {
		if p.Src != a || p.ISAKMP.Msg == nil {
			continue
		}
		for _, pl := range p.ISAKMP.Msg.Payloads {
			if n, ok := pl.(*isakmp.Notification); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

// agreesWithTshark cross-checks the whole capture with tshark given the
// exported keys: every ISAKMP frame decoded the same way, nothing
// malformed, nothing decrypted into garbage.
func (s *scenario) agreesWithTshark() {
	theirs, err := pcap.Tshark(filepath.Join(s.dir, "capture.pcapng"), s.keys.TsharkArgs()...)
	if err == pcap.ErrNoTshark {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred())
	a := pcap.CrossCheck(s.pkts, theirs)
	AddReportEntry("tshark cross-check", a)
	Expect(a.Mismatches).To(BeEmpty())
	Expect(a.Compared).To(BeNumerically(">=", 10))
	for _, f := range theirs {
		Expect(f.Malformed).To(BeEmpty(), "tshark frame %d", f.Number)
	}
	for _, p := range s.pkts {
		Expect(p.Malformed).To(BeEmpty(), "frame %d", p.Index)
		if p.ISAKMP != nil {
			Expect(p.ISAKMP.DecryptError).To(BeEmpty(), "frame %d", p.Index)
		}
	}
}

// gaps returns the time between consecutive packets.
func gaps(ps []pcap.Packet) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ps); i++ {
		out = append(out, ps[i].Time.Sub(ps[i-1].Time))
	}
	return out
}
