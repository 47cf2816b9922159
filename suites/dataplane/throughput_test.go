package dataplane

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/harness/anchor"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/topo"
	"github.com/getlab/getlab/suites/suitekit"
)

// BenchmarkEndToEnd measures what crosses from host-a to host-b, side by
// side in one run on this machine, through three data planes:
//
//	ceiling/aes256gcm16-1400/cores=N  Go's raw AES-GCM Seal of 1400-octet
//	                                  payloads on N goroutines: the crypto
//	                                  ceiling of one GM
//	plain/...                         plain.clab.yml: the same namespaces
//	                                  and veths, kernel forwarding only
//	wireguard-go/...                  plain.clab.yml with wireguard-go on
//	                                  gm1 and gm2 (harness/anchor): the
//	                                  anchor getvpnd is measured against
//	getvpnd/...                       basic.clab.yml: both GMs encrypt and
//	                                  decrypt in getvpnd (aes256gcm16)
//
// with iperf3 from Debian, for five loads: tcp, one TCP flow as a user's
// iperf3 makes it (no MSS clamp: path MTU discovery finds the tunnel's);
// tcp-1360, one flow with MSS 1360 (1400-octet packets, which fit every
// tunnel); tcp-4, four parallel flows; udp-1400 and udp-64, the throughput
// of 1400- and 64-octet IP packets in the RFC 2544 sense: the highest
// offered rate that arrives with at most 0.5 % loss, found by a binary
// search of 1-second runs, offered by one iperf3 per core. It ends with a table of every figure and its
// ratio to wireguard-go's. Needs root, iperf3 and the wireguard-go binary
// that `make bench` builds from its Go module (anchor.Bin); runs once
// (-benchtime 1x).
func BenchmarkEndToEnd(b *testing.B) {
	for _, cores := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("ceiling/aes256gcm16-1400/cores=%d", cores), func(b *testing.B) {
			for b.Loop() {
				b.ReportMetric(gcmCeiling(cores, 1400, time.Second), "Gbit/s")
			}
		})
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("iperf3 is not installed (Debian package iperf3)")
	}
	wg := anchor.Bin(filepath.Join("..", ".."))
	if _, err := os.Stat(wg); err != nil {
		b.Fatalf("no wireguard-go at %s: make bench builds it (go build -o bin/wireguard-go golang.zx2c4.com/wireguard): %v", wg, err)
	}
	table := &throughputTable{}
	planes := []struct{ name, file string }{
		{"plain", "plain.clab.yml"}, {"wireguard-go", "plain.clab.yml"}, {"getvpnd", "basic.clab.yml"},
	}
	// Every plane's lab is up for the whole run and the planes take turns,
	// round after round: a shared machine's load drifts over minutes, and
	// measuring one plane after the other would put the drift into the
	// ratios. The table gives each figure's median.
	labs := map[string]*netns.Lab{}
	for _, plane := range planes {
		lab := benchLab(b, plane.file)
		labs[plane.name] = lab
		if plane.name == "wireguard-go" {
			w, err := anchor.StartWireGuard(lab, wg,
				anchor.Peer{Node: "gm1", WAN: netip.MustParseAddr("192.0.2.11"), Site: netip.MustParsePrefix("198.51.100.0/24")},
				anchor.Peer{Node: "gm2", WAN: netip.MustParseAddr("192.0.2.12"), Site: netip.MustParsePrefix("203.0.113.0/24")})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(w.Stop)
		}
	}
	for round := range benchRounds() {
		for _, plane := range planes {
			lab := labs[plane.name]
			for _, load := range tcpLoads {
				b.Run(fmt.Sprintf("%s/%s/round=%d", plane.name, load.name, round+1), func(b *testing.B) {
					for b.Loop() {
						r, err := iperf(lab, load.args)
						if err != nil {
							b.Fatal(err)
						}
						g := r.bytes * 8 / r.seconds / 1e9
						if load.name == "tcp-1360" {
							g *= 1400.0 / 1360 // IP packets, not payload
						}
						b.ReportMetric(g, "Gbit/s")
						table.add(plane.name, load.name, g, "Gbit/s")
					}
				})
			}
			for _, size := range []int{1400, 64} {
				b.Run(fmt.Sprintf("%s/udp-%d/round=%d", plane.name, size, round+1), func(b *testing.B) {
					for b.Loop() {
						pps, lost, err := udpThroughput(lab, size)
						if err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(pps*float64(size)*8/1e9, "Gbit/s")
						b.ReportMetric(pps, "pkt/s")
						b.ReportMetric(lost, "%lost")
						table.add(plane.name, fmt.Sprintf("udp-%d", size), pps, "pkt/s")
					}
				})
			}
		}
	}
	for _, lab := range labs {
		lab.Destroy()
	}
	table.print(os.Stdout, "wireguard-go")
}

// benchRounds is how many times BenchmarkEndToEnd measures every plane
// and load, taking turns: GETLAB_BENCH_ROUNDS, 3 by default.
func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("GETLAB_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// tcpLoads are the TCP runs of BenchmarkEndToEnd: iperf3 client arguments.
var tcpLoads = []struct {
	name string
	args []string
}{
	{"tcp", []string{"-t", "5"}},
	{"tcp-1360", []string{"-M", "1360", "-t", "5"}},
	{"tcp-4", []string{"-P", "4", "-t", "5"}},
}

// throughputTable collects BenchmarkEndToEnd's figures, one per data
// plane and load, to print them side by side with their ratio to the
// anchor's.
type throughputTable struct {
	planes, loads []string
	values        map[[2]string][]float64 // every round's
	unit          map[string]string
}

func (t *throughputTable) add(plane, load string, v float64, unit string) {
	if t.values == nil {
		t.values, t.unit = map[[2]string][]float64{}, map[string]string{}
	}
	if !slices.Contains(t.planes, plane) {
		t.planes = append(t.planes, plane)
	}
	if !slices.Contains(t.loads, load) {
		t.loads = append(t.loads, load)
	}
	k := [2]string{plane, load}
	t.values[k] = append(t.values[k], v)
	t.unit[load] = unit
}

// median is the median of plane's figures for load (the mean of the two
// middle ones for an even count); false when there are none.
func (t *throughputTable) median(plane, load string) (float64, bool) {
	vs := slices.Sorted(slices.Values(t.values[[2]string{plane, load}]))
	if len(vs) == 0 {
		return 0, false
	}
	return (vs[(len(vs)-1)/2] + vs[len(vs)/2]) / 2, true
}

// print writes the table: a row per load, a column per data plane with
// its median figure and that median's ratio to anchor's.
func (t *throughputTable) print(w io.Writer, anchor string) {
	rounds := 0
	for _, vs := range t.values {
		rounds = max(rounds, len(vs))
	}
	fmt.Fprintf(w, "\nmedians of %d rounds\n%-10s", rounds, "load")
	for _, p := range t.planes {
		fmt.Fprintf(w, " %26s", p)
	}
	fmt.Fprintln(w)
	for _, l := range t.loads {
		fmt.Fprintf(w, "%-10s", l)
		base, _ := t.median(anchor, l)
		for _, p := range t.planes {
			v, ok := t.median(p, l)
			cell := "-"
			if ok {
				cell = fmt.Sprintf("%.3g %s", v, t.unit[l])
				if base > 0 {
					cell += fmt.Sprintf(" (%.2f×)", v/base)
				}
			}
			fmt.Fprintf(w, " %26s", cell)
		}
		fmt.Fprintln(w)
	}
}

// udpSenders is how many iperf3 processes offer the UDP loads side by
// side: Debian's iperf3 sends from one thread, which alone tops out near
// 100,000 packets/s here, below what the data planes forward.
var udpSenders = runtime.NumCPU()

// udpThroughput finds the highest rate of size-octet UDP packets host-a
// can send to host-b with at most 0.5% loss, and returns the packets/s
// received and the loss at that rate.
func udpThroughput(lab *netns.Lab, size int) (pps, lost float64, err error) {
	payload := size - 28
	args := func(rate float64) []string {
		return []string{"-u", "-w", "4M", "-l", strconv.Itoa(payload), "-t", "1",
			"-b", strconv.FormatFloat(rate*float64(payload)*8, 'f', 0, 64)}
	}
	// Flooding (-b 0) bounds the search: no rate above what the senders
	// managed can be offered.
	flood, err := iperfParallel(lab, args(0), udpSenders)
	if err != nil {
		return 0, 0, err
	}
	lo, hi := 0.0, flood.sent/flood.seconds
	best := iperfResult{}
	for range 7 {
		mid := (lo + hi) / 2
		r, err := iperfParallel(lab, args(mid/float64(udpSenders)), udpSenders)
		if err != nil {
			return 0, 0, err
		}
		if r.lost <= 0.5 {
			lo, best = mid, r
		} else {
			hi = mid
		}
	}
	if best.seconds == 0 {
		return 0, 100, nil
	}
	return best.received / best.seconds, best.lost, nil
}

// iperfParallel runs n iperf3 client and server pairs with args at once,
// each on its own port, and sums what they received (UDP: the loss over
// all of them).
func iperfParallel(lab *netns.Lab, args []string, n int) (iperfResult, error) {
	results := make([]iperfResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = iperfOn(lab, 5201+i, args)
		}()
	}
	wg.Wait()
	var sum iperfResult
	for i, r := range results {
		if errs[i] != nil {
			return sum, errs[i]
		}
		sum.seconds = max(sum.seconds, r.seconds)
		sum.sent += r.sent
		sum.received += r.received
		sum.bytes += r.bytes
	}
	if sum.sent > 0 {
		sum.lost = (sum.sent - sum.received) / sum.sent * 100
	}
	return sum, nil
}

// benchLab deploys topologies/file and, for a topology with daemons, waits
// until both GMs have registered.
func benchLab(b *testing.B, file string) *netns.Lab {
	b.Helper()
	t, err := topo.Load(filepath.Join("..", "..", "topologies", file)) // go test runs in the package folder
	if err != nil {
		b.Fatal(err)
	}
	lab, err := netns.Deploy(context.Background(), t, netns.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lab.Destroy() })
	if lab.Node("gm1").Argv == nil {
		return lab
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, gm := range []string{"gm1", "gm2"} {
		for {
			c := control.Dial(fmt.Sprintf("/proc/%d/root%s", lab.Node(gm).Holder, suitekit.NodeControlSocket))
			st, err := c.GDOI(context.Background())
			if err == nil && len(st.Groups) > 0 && st.Groups[0].GM != nil && st.Groups[0].GM.State == "registered" &&
				st.DataPlane != nil && st.DataPlane.LANDevice != "" {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s did not register with its data plane up: %v %+v", gm, err, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return lab
}

type iperfResult struct {
	seconds        float64
	sent, received float64 // UDP packets
	lost           float64 // UDP, percent
	bytes          float64 // TCP payload bytes received
}

// iperf runs an iperf3 server in host-b and a client with args in host-a,
// and returns the receiver's view.
func iperf(lab *netns.Lab, args []string) (iperfResult, error) { return iperfOn(lab, 5201, args) }

// iperfOn is iperf on port.
func iperfOn(lab *netns.Lab, port int, args []string) (iperfResult, error) {
	nsA, _ := lab.NetNS("host-a")
	nsB, _ := lab.NetNS("host-b")
	var last error
	for range 30 {
		srv := exec.Command("nsenter", "--net="+nsB, "iperf3", "-s", "-1", "-B", "203.0.113.10", "-p", strconv.Itoa(port))
		if err := srv.Start(); err != nil {
			return iperfResult{}, err
		}
		time.Sleep(100 * time.Millisecond) // until the server listens
		out, _ := exec.Command("nsenter", append([]string{"--net=" + nsA, "iperf3", "-c", "203.0.113.10", "-p", strconv.Itoa(port), "-J"}, args...)...).Output()
		srv.Process.Kill()
		srv.Wait()
		var rep struct {
			Error string `json:"error"`
			End   struct {
				Sum struct {
					Seconds     float64 `json:"seconds"`
					Packets     float64 `json:"packets"`
					LostPackets float64 `json:"lost_packets"`
					LostPercent float64 `json:"lost_percent"`
				} `json:"sum"`
				SumReceived struct {
					Seconds float64 `json:"seconds"`
					Bytes   float64 `json:"bytes"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &rep); err != nil || rep.Error != "" {
			last = fmt.Errorf("iperf3 %v: %v %s", args, err, rep.Error)
			continue
		}
		if s := rep.End.Sum; s.Packets > 0 {
			return iperfResult{seconds: s.Seconds, sent: s.Packets, received: s.Packets - s.LostPackets, lost: s.LostPercent}, nil
		}
		if r := rep.End.SumReceived; r.Seconds > 0 {
			return iperfResult{seconds: r.Seconds, bytes: r.Bytes}, nil
		}
		last = fmt.Errorf("iperf3 %v: no result", args)
	}
	return iperfResult{}, last
}

// gcmCeiling seals n-octet payloads with AES-256-GCM on cores goroutines
// for d and returns the payload Gbit/s.
func gcmCeiling(cores, n int, d time.Duration) float64 {
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blk, _ := aes.NewCipher(make([]byte, 32))
			g, _ := cipher.NewGCM(blk)
			buf, nonce := make([]byte, n, n+16), make([]byte, 12)
			count := 0
			for time.Since(start) < d {
				for range 1000 {
					g.Seal(buf[:0], nonce, buf[:n], nonce[:8])
				}
				count += 1000
			}
			mu.Lock()
			total += count
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(total) * float64(n) * 8 / time.Since(start).Seconds() / 1e9
}

// The table's figure is each plane's median over the rounds, its ratio the
// medians'.
func TestThroughputTableMedians(t *testing.T) {
	tb := &throughputTable{}
	for _, v := range []float64{1.0, 9.0, 2.0} {
		tb.add("anchor", "tcp", v, "Gbit/s")
	}
	for _, v := range []float64{3.0, 1.0, 8.0, 4.0} {
		tb.add("x", "tcp", v, "Gbit/s")
	}
	if m, _ := tb.median("anchor", "tcp"); m != 2 {
		t.Errorf("median of 1, 9, 2: %g", m)
	}
	if m, _ := tb.median("x", "tcp"); m != 3.5 {
		t.Errorf("median of 3, 1, 8, 4: %g", m)
	}
	var out strings.Builder
	tb.print(&out, "anchor")
	if !strings.Contains(out.String(), "3.5 Gbit/s (1.75×)") || !strings.Contains(out.String(), "medians of 4 rounds") {
		t.Errorf("table:\n%s", out.String())
	}
}
