package suitekit

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A Scenario is one lab watched from before its daemons start: the capture
// spans the whole Ordered container, so registration is on it from the
// first packet, and every verdict comes from the decoded capture and the
// daemons' control sockets.
type Scenario struct {
	Lab     *netns.Lab
	capture *pcap.Capture
	// Dir holds the capture and the artifacts.
	Dir string
	// Model is the neutral scenario the lab was rendered from (StartModel);
	// nil for a lab of the topology's own configs.
	Model *scenario.Scenario
	// Keys and Pkts are the key log and the decoded capture, set by Finish.
	Keys *pcap.KeyLog
	Pkts []pcap.Packet
	// Dropped are the frames the capture lost, by link, set by Finish.
	Dropped map[string]uint64
}

// StartScenario deploys a copy of file changed by edits, starts capturing
// every link into reports/out/<name>/, runs before (faults to set up while
// nothing runs yet) and starts the daemons, key servers first.
func StartScenario(ctx context.Context, name, file string, before func(*netns.Lab), edits ...Edit) *Scenario {
	return start(ctx, name, file, before, nil, nil, edits...)
}

// StartModel is StartScenario for a lab stated in the neutral model: every
// KS and GM node of file runs the implementation chosen for its role (KS=,
// GM=; see Impl) with its config rendered from model, and a node is ready
// as its implementation says (WaitReady), so the lab may be any pairing.
func StartModel(ctx context.Context, name, file string, model *scenario.Scenario, before func(*netns.Lab)) *Scenario {
	return StartModelKSFirst(ctx, name, file, model, before, nil)
}

// StartModelKSFirst is StartModel with ksUp, when not nil, run once the
// key servers are ready and before any other node's process starts: a
// lab whose group members must come up after something the key servers
// do first (cooperative key servers electing a primary) waits for it
// there, on the capture, which already runs.
func StartModelKSFirst(ctx context.Context, name, file string, model *scenario.Scenario, before func(*netns.Lab), ksUp func(*Scenario)) *Scenario {
	AddReportEntry("implementations", fmt.Sprintf("KS %s, GM %s, timer scale %g",
		Impl(impl.KS).Name, Impl(impl.GM).Name, model.TimerScale))
	RequireLifetimes(model)
	return start(ctx, name, file, before, ksUp, model, RenderScenario(file, model))
}

// ModelOptions change how StartModelWith starts a lab.
type ModelOptions struct {
	// Links, when set, are the only links captured ("ks1:eth1", the
	// captured end as pcap.Points names it): a lab whose other links
	// carry thousands of exchanges the spec does not judge keeps its
	// capture small. nil captures every link.
	Links []string
	// Edits change the topology copy further, after the configs are
	// rendered (a node's cmd: SetCmd).
	Edits []Edit
	// CoreUp, when set, runs once the lab's wire and router nodes
	// forward and before any daemon starts: a spec's check that the core
	// carries what the daemons will need of it.
	CoreUp func(*Scenario)
}

// StartModelWith is StartModel with opt.
func StartModelWith(ctx context.Context, name, file string, model *scenario.Scenario, opt ModelOptions) *Scenario {
	AddReportEntry("implementations", fmt.Sprintf("KS %s, GM %s, timer scale %g",
		Impl(impl.KS).Name, Impl(impl.GM).Name, model.TimerScale))
	RequireLifetimes(model)
	return startOn(ctx, name, file, opt.CoreUp, nil, model, opt.Links, append([]Edit{RenderScenario(file, model)}, opt.Edits...)...)
}

func start(ctx context.Context, name, file string, before func(*netns.Lab), ksUp func(*Scenario), model *scenario.Scenario, edits ...Edit) *Scenario {
	var coreUp func(*Scenario)
	if before != nil {
		coreUp = func(s *Scenario) { before(s.Lab) }
	}
	return startOn(ctx, name, file, coreUp, ksUp, model, nil, edits...)
}

// startOn is start capturing only links (every link when nil); coreUp
// runs once the wire and router nodes forward, before any daemon starts.
func startOn(ctx context.Context, name, file string, coreUp func(*Scenario), ksUp func(*Scenario), model *scenario.Scenario, links []string, edits ...Edit) *Scenario {
	s := &Scenario{Dir: filepath.Join(ReportsDir(), name), Model: model}
	Expect(os.RemoveAll(s.Dir)).To(Succeed())
	Expect(os.MkdirAll(s.Dir, 0o755)).To(Succeed())
	s.Lab = DeployDaemons(ctx, file, edits...)
	pts, err := pcap.Points(s.Lab.Topology(), s.Lab.NetNS)
	Expect(err).NotTo(HaveOccurred())
	if links != nil {
		var kept []pcap.Point
		for _, p := range pts {
			if slices.Contains(links, p.Name) {
				kept = append(kept, p)
			}
		}
		Expect(kept).To(HaveLen(len(links)), "capture points %v of %s", links, file)
		pts = kept
	}
	s.capture, err = pcap.Start(filepath.Join(s.Dir, "capture.pcapng"), pts)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Finish() })
	// Impairment nodes and routers first: a link through a wire carries
	// nothing until it forwards, a routed core no multicast until its
	// routers run. Then key servers, as an operator brings them up: a GM
	// that starts before its KS listens only retries, which the timing
	// specs would see.
	var wires, routers, kss, gms, others []string
	for _, n := range s.Lab.Topology().Nodes {
		switch {
		case n.Labels["getlab.role"] == "wire":
			wires = append(wires, n.Name)
		case n.Labels["getlab.role"] == "router":
			routers = append(routers, n.Name)
		case n.Labels["getlab.role"] == "ks":
			kss = append(kss, n.Name)
		case n.Kind == "bridge":
		case n.Labels["getlab.role"] == "gm":
			gms = append(gms, n.Name)
			others = append(others, n.Name)
		default:
			others = append(others, n.Name)
		}
	}
	if len(wires) > 0 {
		Expect(s.Lab.StartProcesses(ctx, wires...)).To(Succeed())
		for _, w := range wires {
			Eventually(func() error { _, err := Wire(s.Lab, w).Stats(ctx); return err }).WithContext(ctx).
				WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Succeed(), "wire %s forwarding", w)
		}
	}
	if len(routers) > 0 {
		Expect(s.Lab.StartProcesses(ctx, routers...)).To(Succeed())
		for _, r := range routers {
			Eventually(func() error { _, err := Router(s.Lab, r).State(ctx); return err }).WithContext(ctx).
				WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Succeed(), "router %s routing", r)
		}
	}
	if coreUp != nil {
		coreUp(s)
	}
	Expect(s.Lab.StartProcesses(ctx, kss...)).To(Succeed())
	for _, ks := range kss {
		if model != nil {
			WaitReady(ctx, s.Lab, ks, impl.KS, 10*time.Second)
			continue
		}
		Eventually(func() error { return Control(s.Lab, ks).Health(ctx) }).WithContext(ctx).
			WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Succeed(), "%s up", ks)
	}
	if ksUp != nil {
		ksUp(s)
	}
	Expect(s.Lab.StartProcesses(ctx, others...)).To(Succeed())
	if model != nil {
		for _, gm := range gms {
			WaitReady(ctx, s.Lab, gm, impl.GM, 10*time.Second)
		}
	}
	return s
}

// Complete fails the spec unless the capture lost no frame on links: a
// spec that counts frames exactly cannot judge a link the capture missed
// frames on (its socket buffer overflowed on a loaded machine), and says
// so instead of blaming the implementation.
func (s *Scenario) Complete(links ...string) {
	for _, l := range links {
		ExpectWithOffset(1, s.Dropped[l]).To(BeZero(),
			"the capture lost %d frames on %s (a machine too loaded to keep up): exact counts on it cannot be judged", s.Dropped[l], l)
	}
}

// Scaled is a protocol duration in wall-clock time at the model's timer
// scale.
func (s *Scenario) Scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.Model.TimerScale)
}

// Peek decodes what the capture holds so far (without keys), while it
// goes on: for waiting until something is on the wire.
func (s *Scenario) Peek() []pcap.Packet {
	Expect(s.capture).NotTo(BeNil(), "Peek after Finish")
	size, err := s.capture.Sync()
	Expect(err).NotTo(HaveOccurred())
	pkts, err := pcap.ReadFilePrefix(filepath.Join(s.Dir, "capture.pcapng"), size, nil)
	Expect(err).NotTo(HaveOccurred())
	return pkts
}

// PeekDecrypted is Peek with the key logs every node has written so far:
// what the capture holds, decrypted where a key log has the keys (ISAKMP
// messages under a phase-1 SA, GROUPKEY-PUSHes, ESP). Key logs are read
// whole each time, so it costs more than Peek.
func (s *Scenario) PeekDecrypted() []pcap.Packet {
	Expect(s.capture).NotTo(BeNil(), "PeekDecrypted after Finish")
	var err error
	// A daemon may be writing its key log while it is read (a line half
	// written): read them again. The capture is read up to where Sync
	// said its blocks are whole, while the writer goes on.
	for range 5 {
		var size int64
		size, err = s.capture.Sync()
		Expect(err).NotTo(HaveOccurred())
		keys := &pcap.KeyLog{}
		for _, n := range s.Lab.Nodes {
			if err = keys.Read(bytes.NewReader(keyLogOf(s.Lab, n))); err != nil {
				break
			}
		}
		if err != nil {
			continue
		}
		var pkts []pcap.Packet
		if pkts, err = pcap.ReadFilePrefix(filepath.Join(s.Dir, "capture.pcapng"), size, keys); err == nil {
			return pkts
		}
	}
	Expect(err).NotTo(HaveOccurred())
	return nil
}

// WaitOnWire waits until cond holds of the capture so far.
func (s *Scenario) WaitOnWire(ctx context.Context, within time.Duration, what string, cond func([]pcap.Packet) bool) {
	Eventually(func() bool { return cond(s.Peek()) }).WithContext(ctx).WithTimeout(within).
		WithPolling(100*time.Millisecond).Should(BeTrue(), "on the wire: %s", what)
}

// RegisteredAll reports, for WaitOnWire, whether key server ks has
// registered every one of gms on the wire (Registrations).
func RegisteredAll(ks netip.Addr, gms ...netip.Addr) func([]pcap.Packet) bool {
	return func(pkts []pcap.Packet) bool {
		for _, gm := range gms {
			if len(Registrations(pkts, ks, gm)) == 0 {
				return false
			}
		}
		return true
	}
}

// Registrations are the GROUPKEY-PULL exchanges in which key server ks
// registered gm, read from the wire alone: exchanges (by message ID) in
// which ks sent gm two distinct messages, PULL 2 and PULL 4. Each is the
// exchange's first copies in order (retransmissions left out).
func Registrations(pkts []pcap.Packet, ks, gm netip.Addr) [][]pcap.Packet {
	byID := map[uint32][]pcap.Packet{}
	var ids []uint32
	for _, p := range pkts {
		if p.ISAKMP == nil || p.ISAKMP.Repeat || p.ISAKMP.Type != uint8(isakmp.ExchangeGroupkeyPull) {
			continue
		}
		if !(p.Src == ks && p.Dst == gm) && !(p.Src == gm && p.Dst == ks) {
			continue
		}
		id := p.ISAKMP.MessageID
		if _, ok := byID[id]; !ok {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], p)
	}
	var out [][]pcap.Packet
	for _, id := range ids {
		x := byID[id]
		fromKS := 0
		for _, p := range x {
			if p.Src == ks {
				fromKS++
			}
		}
		if fromKS >= 2 {
			sort.SliceStable(x, func(i, j int) bool { return x[i].Time.Before(x[j].Time) })
			out = append(out, x)
		}
	}
	return out
}

// Refusals are the Informational messages ks sent gm: how a KS refuses a
// GM, readable on the wire (in clear) or not (protected).
func Refusals(pkts []pcap.Packet, ks, gm netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.ISAKMP != nil && !p.ISAKMP.Repeat && p.ISAKMP.Type == uint8(isakmp.ExchangeInformational) &&
			p.Src == ks && p.Dst == gm {
			out = append(out, p)
		}
	}
	return out
}

// Finish stops the capture, gathers logs, daemon state and key logs into
// the scenario's folder and decodes the capture with the keys. It runs
// once; the DeferCleanup call is a no-op after an explicit one.
func (s *Scenario) Finish() {
	if s.capture == nil {
		return
	}
	s.Dropped = CollectArtifactsTo(s.Lab, s.capture, s.Dir)
	s.capture = nil
	s.Keys = &pcap.KeyLog{}
	if b, err := os.ReadFile(filepath.Join(s.Dir, "keys.log")); err == nil {
		Expect(s.Keys.Read(bytes.NewReader(b))).To(Succeed())
	}
	var err error
	s.Pkts, err = pcap.ReadFile(filepath.Join(s.Dir, "capture.pcapng"), s.Keys)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("capture", filepath.Join(s.Dir, "capture.pcapng"))
}

// OnLink returns the ISAKMP frames captured on link ("gm1:eth1") of
// exchange x between a and b (either direction), every copy, in time order.
func (s *Scenario) OnLink(link string, x isakmp.ExchangeType, a, b netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range s.Pkts {
		if p.Link != link || p.ISAKMP == nil || p.ISAKMP.Type != uint8(x) {
			continue
		}
		if (p.Src == a && p.Dst == b) || (p.Src == b && p.Dst == a) {
			out = append(out, p)
		}
	}
	return out
}

// Messages returns the first copy of each message of exchange x between a
// and b, in time order (retransmissions and copies on other links left out).
func (s *Scenario) Messages(x isakmp.ExchangeType, a, b netip.Addr) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range s.Pkts {
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

// Notifications returns the Notification payloads of the Informational
// messages from a to b that the decoder could read (plaintext, or
// decrypted with the key log).
func (s *Scenario) Notifications(a, b netip.Addr) []*isakmp.Notification {
	var out []*isakmp.Notification
	for _, p := range s.Messages(isakmp.ExchangeInformational, a, b) {
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

// AgreesWithTshark cross-checks the whole capture with tshark given the
// exported keys: every ISAKMP frame decoded the same way, nothing
// malformed, nothing decrypted into garbage.
func (s *Scenario) AgreesWithTshark() pcap.Agreement {
	theirs, err := pcap.Tshark(filepath.Join(s.Dir, "capture.pcapng"), s.Keys.TsharkArgs()...)
	if err == pcap.ErrNoTshark {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred())
	a := pcap.CrossCheck(s.Pkts, theirs)
	AddReportEntry("tshark cross-check", a)
	Expect(a.Mismatches).To(BeEmpty())
	Expect(a.Compared).To(BeNumerically(">=", 10))
	for _, f := range theirs {
		Expect(f.Malformed).To(BeEmpty(), "tshark frame %d", f.Number)
	}
	for _, p := range s.Pkts {
		Expect(p.Malformed).To(BeEmpty(), "frame %d", p.Index)
		if p.ISAKMP != nil {
			Expect(p.ISAKMP.DecryptError).To(BeEmpty(), "frame %d", p.Index)
		}
	}
	return a
}
