package robustness

import (
	"bytes"
	"context"
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

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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

// keyState is what must not change when an attack fails: the group's KEK
// and TEKs (SPIs, which name the keys) and, on a GM, its registration and
// rekey sequence number.
type keyState struct {
	KEK   string
	TEKs  []string
	State string
	Seq   uint32
	Regs  uint64
}

func keysOf(st control.GDOI) keyState {
	var k keyState
	for _, g := range st.Groups {
		if g.KEK != nil {
			k.KEK = g.KEK.SPI
		}
		for _, t := range g.TEKs {
			k.TEKs = append(k.TEKs, t.SPI)
		}
		if g.GM != nil {
			k.State, k.Seq, k.Regs = g.GM.State, g.GM.Seq, g.GM.Registrations
		}
	}
	slices.Sort(k.TEKs)
	return k
}

// counters reads node's counters.
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

// registrationTimes restarts gm's daemon n times and returns, for each,
// the wall time from the new process's start until the GM reports every
// group registered: a legitimate registration's latency, end to end.
func registrationTimes(ctx context.Context, lab *netns.Lab, gm string, n int, within time.Duration) []time.Duration {
	var out []time.Duration
	for range n {
		Expect(lab.Restart(gm, 2*time.Second)).To(Succeed())
		start := time.Now()
		deadline := start.Add(within)
		for {
			st, err := suitekit.Control(lab, gm).GDOI(ctx)
			if err == nil && registered(st) {
				out = append(out, time.Since(start))
				break
			}
			if time.Now().After(deadline) {
				out = append(out, within)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return out
}

func registered(st control.GDOI) bool {
	if len(st.Groups) == 0 {
		return false
	}
	for _, g := range st.Groups {
		if g.GM == nil || g.GM.State != "registered" {
			return false
		}
	}
	return true
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

// tekLifetime sets the lifetime of every group's TEKs on ks1, in seconds.
func tekLifetime(seconds int) suitekit.Edit {
	return suitekit.EditConfig("ks1.yaml", func(cfg map[string]any) {
		for _, g := range cfg["groups"].([]any) {
			g.(map[string]any)["tek_lifetime"] = seconds
		}
	})
}
