package ks

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/phase1"
)

// Unicast rekey fan-out over real UDP sockets on the loopback: one KS and
// n group members, each GM an endpoint of its own (address 127.1.x.y, all
// on one port) in this process. A GM endpoint does what getvpnd's GM does
// with a PUSH — decrypt, verify the RSA signature, check the sequence
// number — and acknowledges it (RFC 8263); with verify false it
// acknowledges without looking, which leaves the KS's own cost.

type fanout struct {
	srv    *Server
	conn   *net.UDPConn
	gms    []*net.UDPConn
	acked  chan time.Duration
	pushes atomic.Int64
	// seq is the sequence number of the PUSH on the wire (for the
	// endpoints that do not decrypt it).
	seq atomic.Uint32
	wg  sync.WaitGroup
}

func newFanout(tb testing.TB, n int, verify bool) *fanout {
	tb.Helper()
	cfg := ksConfig(tb, 19, "")
	cfg.Identity = netip.MustParseAddr("127.0.0.1")
	f := &fanout{acked: make(chan time.Duration, 1)}
	var err error
	f.conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	// An acknowledgement burst from every GM at once: the daemon's socket
	// buffer (gdoiSocketBuffer in getvpnd) is as large.
	f.conn.SetReadBuffer(8 << 20)
	tb.Cleanup(func() { f.conn.Close() })
	// The GMs' port: whatever the first endpoint gets.
	first, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 1, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	port := first.LocalAddr().(*net.UDPAddr).Port
	cfg.Groups[0].Rekey.Port = uint16(port)
	f.srv, err = New(cfg, Options{Env: phase1.Env{
		Events: events.New(io.Discard, "text", "error"), Counters: &events.Counters{},
		Local: netip.AddrPortFrom(cfg.Identity, uint16(f.conn.LocalAddr().(*net.UDPAddr).Port)),
		Send: func(to netip.AddrPort, pkt []byte) {
			// Send runs under the Server's lock.
			f.seq.Store(f.srv.groups[1234].seq)
			if _, err := f.conn.WriteToUDPAddrPort(pkt, to); err != nil {
				tb.Error(err)
			}
		}},
		OnAllAcked: func(_ string, _ int, took time.Duration) { f.acked <- took },
	})
	if err != nil {
		tb.Fatal(err)
	}
	g := f.srv.groups[1234]
	kek := *g.kek
	for i := range n {
		a := netip.AddrFrom4([4]byte{127, 1, byte((i + 1) >> 8), byte(i + 1)})
		c := first
		if i > 0 {
			if c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(port)))); err != nil {
				tb.Fatal(err)
			}
		}
		f.gms = append(f.gms, c)
		g.members[a] = &member{address: a, identity: a.String()}
		f.wg.Add(1)
		go f.gm(tb, c, a, &kek, verify)
	}
	tb.Cleanup(func() {
		for _, c := range f.gms {
			c.Close()
		}
		f.wg.Wait()
	})
	go f.serve()
	return f
}

// serve feeds the KS what its socket receives: the acknowledgements.
func (f *fanout) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		f.srv.HandlePacket(from, append([]byte(nil), buf[:n]...))
	}
}

// gm is one GM endpoint.
func (f *fanout) gm(tb testing.TB, c *net.UDPConn, me netip.Addr, kek *gdoi.KEK, verify bool) {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	var last uint32
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				tb.Error(err)
			}
			return
		}
		f.pushes.Add(1)
		seq := uint32(0)
		if verify {
			p, err := gdoi.OpenPush(buf[:n], kek)
			if err != nil {
				tb.Error(err)
				return
			}
			if p.Seq <= last {
				tb.Errorf("%s: seq %d after %d", me, p.Seq, last)
				return
			}
			seq, last = p.Seq, p.Seq
		} else {
			seq = f.seq.Load()
		}
		ack, err := gdoi.SealAck(kek, seq, me)
		if err != nil {
			tb.Error(err)
			return
		}
		if _, err := c.WriteToUDPAddrPort(ack, from); err != nil {
			tb.Error(err)
			return
		}
	}
}

// rekey runs one TEK rekey round and returns the time until every GM had
// acknowledged it.
func (f *fanout) rekey(tb testing.TB) time.Duration {
	s := f.srv
	s.mu.Lock()
	s.startRound(s.groups[1234], s.clk.Now(), false, true)
	s.mu.Unlock()
	select {
	case took := <-f.acked:
		return took
	case <-time.After(30 * time.Second):
		s.mu.Lock()
		pending := len(s.groups[1234].rekey.round.pending)
		s.mu.Unlock()
		tb.Fatalf("%d of %d GMs did not acknowledge", pending, len(f.gms))
		return 0
	}
}

// TestUnicastFanOutOverUDP: every GM gets one PUSH per rekey and the KS
// hears every acknowledgement, over real sockets.
func TestUnicastFanOutOverUDP(t *testing.T) {
	const n = 200
	f := newFanout(t, n, true)
	for round := 1; round <= 2; round++ {
		f.rekey(t)
		if got := f.pushes.Load(); got != int64(round*n) {
			t.Fatalf("round %d: %d PUSHes delivered, want %d", round, got, round*n)
		}
	}
	st := f.srv.GDOI().Groups[0].KS
	if st.AcksReceived != 2*n || st.Retransmits != 0 || st.LastRekey.Acked != n {
		t.Fatalf("KS status %+v, last %+v", st, st.LastRekey)
	}
}

// BenchmarkUnicastRekeyFanOut reports the time from the start of a rekey
// (new TEKs made, the PUSH signed) until every GM has acknowledged it, for
// 100, 1,000 and 8,000 GMs. gm=verify: the GM endpoints decrypt and verify
// every PUSH on the same cores as the KS; gm=ack: they acknowledge at
// once, leaving the KS's own work.
func BenchmarkUnicastRekeyFanOut(b *testing.B) {
	for _, verify := range []bool{true, false} {
		for _, n := range []int{100, 1000, 8000} {
			mode := "ack"
			if verify {
				mode = "verify"
			}
			b.Run(fmt.Sprintf("gm=%s/gms=%d", mode, n), func(b *testing.B) {
				f := newFanout(b, n, verify)
				f.rekey(b) // warm up: sockets, buffers
				var total time.Duration
				b.ResetTimer()
				for range b.N {
					total += f.rekey(b)
				}
				b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms/all-acked")
				b.ReportMetric(float64(n)/(total.Seconds()/float64(b.N)), "acks/s")
			})
		}
	}
}
