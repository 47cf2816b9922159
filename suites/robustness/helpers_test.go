package robustness

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// Addresses of hostile.clab.yml.
var (
	ks1     = netip.MustParseAddr("192.0.2.1")
	gm1     = netip.MustParseAddr("192.0.2.11")
	gm2     = netip.MustParseAddr("192.0.2.12")
	mallory = netip.MustParseAddr("192.0.2.66")
	hostA   = netip.MustParseAddr("198.51.100.10")
	hostB   = netip.MustParseAddr("203.0.113.10")
	gdoi    = netip.AddrPortFrom(ks1, 848)
)

// alive fails the spec unless node's process is still the one the lab
// started and is running: the first verdict on every attack.
func alive(lab *netns.Lab, node string) {
	n := lab.Node(node)
	ExpectWithOffset(1, n).NotTo(BeNil())
	ExpectWithOffset(1, n.State()).To(Equal("running"), "%s's process (pid %d) after the attack; its log: %s", node, n.PID, logTail(lab, node))
}

// logTail is the end of node's process log, for failure messages.
func logTail(lab *netns.Lab, node string) string {
	n := lab.Node(node)
	b, _ := os.ReadFile(fmt.Sprintf("%s/%s.log", n.Dir, node))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// logSize is the size of node's process log.
func logSize(lab *netns.Lab, node string) int64 {
	n := lab.Node(node)
	fi, err := os.Stat(fmt.Sprintf("%s/%s.log", n.Dir, node))
	Expect(err).NotTo(HaveOccurred())
	return fi.Size()
}

// procUsage is a process's CPU time and resident memory, from /proc.
type procUsage struct {
	CPU time.Duration // user + system
	RSS int64         // octets
}

func usage(pid int) procUsage {
	var u procUsage
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name (which may hold spaces).
		if i := bytes.LastIndexByte(b, ')'); i > 0 {
			f := strings.Fields(string(b[i+2:]))
			if len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				u.CPU = time.Duration(ut+st) * time.Second / 100 // USER_HZ
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			u.RSS = kb << 10
		}
	}
	return u
}

// hostile is hostile.clab.yml in the neutral model: basic.clab.yml's
// group, key server and GMs (mallory is no node of the model), in
// protocol time.
func hostile() *scenario.Scenario { return scenario.Default() }

// startHostile starts a lab of hostile.clab.yml from model, with the
// implementations chosen for KS and GM, and waits until ks1 has
// registered gms, read from the wire.
func startHostile(ctx context.Context, name string, model *scenario.Scenario, gms ...netip.Addr) *suitekit.Scenario {
	s := suitekit.StartModel(ctx, name, "hostile.clab.yml", model, nil)
	s.WaitOnWire(ctx, 20*time.Second, "ks1 registers the GMs", suitekit.RegisteredAll(ks1, gms...))
	return s
}

// keysOf is what must not change when an attack fails, as node's status
// command says: the group's KEK and TEKs (SPIs, which name the keys)
// and, on a GM, its registration and rekey sequence number. Nil where the
// implementation offers no status: the wire verdicts (ESP SPIs, PULLs,
// acknowledgements) then stand alone.
func keysOf(ctx context.Context, s *suitekit.Scenario, node string, role impl.Role) *impl.StatusDoc {
	if !suitekit.Offers(role, impl.Status) {
		return nil
	}
	st := suitekit.Status(ctx, s.Lab, node, role)
	return &st
}

// keysKept fails the spec when node's status changed from before (both
// nil where the implementation offers no status).
func keysKept(ctx context.Context, s *suitekit.Scenario, node string, role impl.Role, before *impl.StatusDoc) {
	if before == nil {
		return
	}
	ExpectWithOffset(1, keysOf(ctx, s, node, role)).To(Equal(before), "%s's keys, as its status says", node)
}

// espSPI is the SPI of the ESP that gm1 sends gm2 for host-a's traffic
// to host-b, read on the wire as an attacker there reads it: a watch in
// gm2's namespace while host-a sends a few probes. It is the group's TEK
// as the KS gave it to gm1 at its latest registration.
func espSPI(ctx context.Context, s *suitekit.Scenario) uint32 {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := make(chan uint32, 1)
	go func() {
		_ = attack.Watch(wctx, suitekit.NetNS(s.Lab, "gm2"), "eth1", func(pkt []byte, _ time.Time) bool {
			// Tunnel mode with address preservation: the outer source
			// is host-a's.
			src, proto, esp, ok := attack.IPv4Payload(pkt)
			if !ok || proto != unix.IPPROTO_ESP || len(esp) < 8 || netip.AddrFrom4(src) != hostA {
				return false
			}
			got <- binary.BigEndian.Uint32(esp)
			return true
		})
		close(got)
	}()
	st, err := traffic.StartStream(wctx, traffic.StreamConfig{
		From: traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-a"), Addr: hostA},
		To:   traffic.Endpoint{NetNS: suitekit.NetNS(s.Lab, "host-b"), Addr: hostB},
		Rate: 100, Duration: 2 * time.Second,
	})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer func() { _, _ = st.Stop() }()
	spi, ok := <-got
	ExpectWithOffset(1, ok).To(BeTrue(), "ESP from gm1 on gm2's link while host-a sends to host-b")
	return spi
}

// counters reads node's counters, from getvpnd's control socket: specs
// call it only where the implementation offers events.
func counters(ctx context.Context, lab *netns.Lab, node string) map[string]uint64 {
	c, err := suitekit.Control(lab, node).Counters(ctx)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "counters of %s", node)
	return c
}

// badInput matches the counters a daemon keeps for input it refused:
// malformed, unknown, unsupported, failed, rejected, limited, dropped,
// replayed, forged. The verdict "every bad input is counted" adds them up.
var badInput = regexp.MustCompile(`malformed|unexpected|unknown|unsupported|fail|reject|invalid|limit|drop|replay|bad|short|truncat|internal_error|unsol|cookie|no_psk|challenge|unauthori`)

// notInput matches counters that grow with a refused input without
// counting it: log lines left out (log_suppressed_*) and answers sent,
// withheld or throttled (invalid_cookie_*). Adding them would count one
// input twice, so that a daemon that counted only half its bad input
// could still pass.
var notInput = regexp.MustCompile(`^log_suppressed_|^invalid_cookie_`)

// badDelta is how much the bad-input counters grew between two readings,
// with the names that grew.
func badDelta(before, after map[string]uint64) (uint64, map[string]uint64) {
	var sum uint64
	grew := map[string]uint64{}
	for name, v := range after {
		if !badInput.MatchString(name) || notInput.MatchString(name) || v <= before[name] {
			continue
		}
		sum += v - before[name]
		grew[name] = v - before[name]
	}
	return sum, grew
}

// registrationTimes restarts gm's process n times and returns, for each,
// the wall time from the new process's start until ks1 completes its
// registration, read from the wire (suitekit.WatchRegistrations): a
// legitimate registration's latency, end to end. A registration that does
// not complete within counts as within.
func registrationTimes(ctx context.Context, lab *netns.Lab, gm string, n int, within time.Duration) []time.Duration {
	w := suitekit.WatchRegistrations(ctx, lab, gm, ks1)
	var out []time.Duration
	for range n {
		Expect(lab.Restart(gm, 2*time.Second)).To(Succeed())
		// From the new process's start: a GM may register before Restart
		// returns on a loaded machine (one CI run missed such a
		// registration and counted 15 s).
		start := lab.Node(gm).Started
		at, ok := w.Next(start, within)
		Expect(w.Err()).NotTo(HaveOccurred(), "watching %s's registrations", gm)
		if !ok {
			out = append(out, within)
			continue
		}
		out = append(out, at.Sub(start))
	}
	return out
}

// p95 of ds (the largest but the top 5 %).
func p95(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[(len(s)*95-1)/100]
}

// drained waits until node's process has read everything waiting on its
// GDOI socket, at most within, and reports how long that took. A flood
// that opens with a burst larger than the socket's buffer has the kernel
// drop what arrives while it is full, a GM's message 1 included, before
// any daemon sees it: registrations are timed under the steady flood
// that follows, once the burst is read, so that they measure the daemon.
func drained(ctx context.Context, s *suitekit.Scenario, node string, within time.Duration) {
	pid, start := s.Lab.Node(node).PID, time.Now()
	Eventually(func() (int, error) { return suitekit.UDPBacklog(pid, 848) }).WithContext(ctx).
		WithTimeout(within).WithPolling(10*time.Millisecond).Should(BeZero(), "%s's GDOI socket backlog after the burst", node)
	report(node+" read the burst", "in %v", time.Since(start).Round(time.Millisecond))
}

// signal sends sig to node's process.
func signal(lab *netns.Lab, node string, sig syscall.Signal) {
	Expect(lab.Signal(node, sig)).To(Succeed())
}

// clearPayloads returns the frames on link whose bytes contain marker: a
// protected flow's payload seen in clear.
func clearPayloads(pkts []pcap.Packet, link string, marker []byte) []pcap.Packet {
	var out []pcap.Packet
	for _, p := range pkts {
		if p.Link == link && bytes.Contains(p.IPPacket(), marker) {
			out = append(out, p)
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

// run runs argv in node, failing the spec with its output if it fails.
func run(ctx context.Context, s *suitekit.Scenario, node string, argv ...string) {
	var out bytes.Buffer
	err := s.Lab.Exec(ctx, node, argv, nil, &out, &out)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s: %v: %s", node, argv, out.String())
}

// floodResult is what a flood run in the background ended with.
type floodResult struct {
	Stats attack.FloodStats
	Sent  int
	Err   error
}

// background runs a flood while the spec goes on. The result always
// arrives, even if the flood panics, so the spec never waits forever.
func background(flood func() floodResult) <-chan floodResult {
	ch := make(chan floodResult, 1)
	go func() {
		r := floodResult{Err: errors.New("the flood panicked")}
		defer func() { ch <- r }()
		defer GinkgoRecover()
		r = flood()
	}()
	return ch
}

// finished waits for a background flood and fails the spec if it failed.
func finished(ch <-chan floodResult) floodResult {
	r := <-ch
	ExpectWithOffset(1, r.Err).NotTo(HaveOccurred())
	return r
}
