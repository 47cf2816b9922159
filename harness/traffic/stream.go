package traffic

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/getlab/getlab/harness/nsdo"
)

// Defaults for the zero values of StreamConfig.
const (
	DefaultRate  = 100 // probes per second
	DefaultSize  = 64  // UDP payload bytes
	DefaultDrain = 200 * time.Millisecond
)

// rcvBuf is the receive buffer asked for, so that a receiver goroutine
// starved for a few milliseconds on a busy machine does not show up as loss.
const rcvBuf = 4 << 20

// Endpoint is one end of a stream.
type Endpoint struct {
	// NetNS is the path of the node's network namespace: /run/netns/NAME,
	// /proc/PID/ns/net or a bind mount of one. Empty means the harness's own.
	NetNS string
	// Addr is the node's address. The receiver binds to To.Addr, which must
	// be local to its namespace; the sender binds to From.Addr if it is
	// valid, and otherwise lets the kernel choose the source address.
	Addr netip.Addr
}

// StreamConfig describes a probe stream. The stream ends after Count probes
// or after Duration, whichever comes first; with neither it runs until
// Stream.Stop or the end of its context.
type StreamConfig struct {
	From, To Endpoint
	// Port is the receiver's UDP port; 0 picks a free one (see Stream.Dst).
	Port uint16
	// Rate is in probes per second (default DefaultRate). Probes are sent
	// on a fixed schedule; a sender that falls behind (timer granularity, a
	// busy machine) catches up in a burst, so the average rate is exact.
	Rate int
	// Size is the UDP payload length, HeaderLen to MaxSize (default
	// DefaultSize).
	Size int
	// Count is the number of probes to send (0: no limit).
	Count int
	// Duration bounds the time spent sending (0: no limit).
	Duration time.Duration
	// DSCP (0 to 63) is set on the sender socket: IPv4 TOS or IPv6 traffic
	// class DSCP<<2.
	DSCP uint8
	// Drain is how long the receiver keeps listening after the sender ends,
	// for probes still in flight (default DefaultDrain; negative: none). It
	// ends early once every probe sent has arrived.
	Drain time.Duration
}

// Report is a stream's accounting, live (Stream.Snapshot) or final.
type Report struct {
	StreamID uint32
	// Sent counts probes handed to the socket, including failed sends.
	Sent uint64
	// Received counts distinct probes received (duplicates excluded).
	Received uint64
	// Lost is Sent-Received. In a live snapshot it includes probes still in
	// flight (a few at most, at the stream's rate and latency).
	Lost uint64
	// Duplicated counts extra copies of probes already received.
	Duplicated uint64
	// Reordered counts probes whose first copy arrived after a probe with a
	// higher sequence number.
	Reordered uint64
	// Foreign counts datagrams on the receiver's port that are not probes
	// of this stream: too short, bad magic, another stream id, or a
	// sequence number this stream had not sent.
	Foreign uint64
	// SendErrors counts sends that failed (ENETUNREACH while a link is
	// down, ...). They are part of Sent and, since they never left, of Lost.
	SendErrors uint64
	// LastSendError is the text of the last send error, if any.
	LastSendError string
	// Latency is the one-way latency of the probes received.
	Latency Percentiles
	// Elapsed runs from the stream's start until the sender ended (or now,
	// while it runs).
	Elapsed time.Duration
}

// LossRatio is Lost/Sent, 0 if nothing was sent.
func (r Report) LossRatio() float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Lost) / float64(r.Sent)
}

// String formats the report on one line, for logs and artifacts.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stream %08x: sent=%d recv=%d lost=%d (%.3f%%) dup=%d reord=%d foreign=%d senderr=%d",
		r.StreamID, r.Sent, r.Received, r.Lost, 100*r.LossRatio(), r.Duplicated, r.Reordered, r.Foreign, r.SendErrors)
	l := r.Latency
	fmt.Fprintf(&b, " latency min/p50/p90/p99/max=%v/%v/%v/%v/%v elapsed=%v",
		l.Min, l.P50, l.P90, l.P99, l.Max, r.Elapsed.Round(time.Millisecond))
	if r.LastSendError != "" {
		fmt.Fprintf(&b, " lasterr=%q", r.LastSendError)
	}
	return b.String()
}

// Stream is a running probe stream.
type Stream struct {
	id      uint32
	dst     netip.AddrPort
	snd     *net.UDPConn
	rcv     *net.UDPConn
	rate    uint64
	size    int
	count   uint64
	dur     time.Duration
	drain   time.Duration
	started time.Time

	sent     atomic.Uint64 // incremented before the probe is written
	sendErrs atomic.Uint64

	mu          sync.Mutex
	acc         *tracker
	lastSendErr string
	senderEnd   time.Time     // zero while the sender runs
	allIn       chan struct{} // closed once the sender ended and all its probes arrived
	allInClosed bool

	stop     chan struct{}
	stopOnce sync.Once
	recvDone chan struct{}
	recvErr  error // set before recvDone closes
	done     chan struct{}
	final    Report // set before done closes
	err      error  // set before done closes
}

// StartStream opens the receiver socket in cfg.To.NetNS and the sender
// socket in cfg.From.NetNS and starts sending. Cancelling ctx stops the
// stream at once, without drain; Wait then returns ctx's error.
func StartStream(ctx context.Context, cfg StreamConfig) (*Stream, error) {
	s, err := newStream(cfg)
	if err != nil {
		return nil, err
	}
	dst := cfg.To.Addr.Unmap()
	network := "udp4"
	if dst.Is6() {
		network = "udp6"
	}
	s.rcv, err = listenUDP(cfg.To.NetNS, network, netip.AddrPortFrom(dst, cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("traffic: receiver on %v: %w", netip.AddrPortFrom(dst, cfg.Port), err)
	}
	growRcvBuf(s.rcv)
	s.dst = netip.AddrPortFrom(dst, s.rcv.LocalAddr().(*net.UDPAddr).AddrPort().Port())

	src := cfg.From.Addr.Unmap()
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
		if dst.Is6() {
			src = netip.IPv6Unspecified()
		}
	}
	s.snd, err = listenUDP(cfg.From.NetNS, network, netip.AddrPortFrom(src, 0))
	if err != nil {
		s.rcv.Close()
		return nil, fmt.Errorf("traffic: sender on %v: %w", src, err)
	}
	if err := setDSCP(s.snd, dst.Is6(), cfg.DSCP); err != nil {
		s.rcv.Close()
		s.snd.Close()
		return nil, fmt.Errorf("traffic: sender DSCP %d: %w", cfg.DSCP, err)
	}

	s.started = time.Now()
	go s.recvLoop()
	go s.run(ctx)
	return s, nil
}

// newStream validates cfg, applies defaults and sets up everything but the
// sockets.
func newStream(cfg StreamConfig) (*Stream, error) {
	switch {
	case !cfg.To.Addr.IsValid():
		return nil, errors.New("traffic: stream needs a destination address")
	case cfg.From.Addr.IsValid() && cfg.From.Addr.Unmap().Is4() != cfg.To.Addr.Unmap().Is4():
		return nil, fmt.Errorf("traffic: source %v and destination %v differ in family", cfg.From.Addr, cfg.To.Addr)
	case cfg.Rate < 0 || cfg.Rate > int(time.Second):
		return nil, fmt.Errorf("traffic: rate %d out of range", cfg.Rate)
	case cfg.Size != 0 && (cfg.Size < HeaderLen || cfg.Size > MaxSize):
		return nil, fmt.Errorf("traffic: size %d not in [%d, %d]", cfg.Size, HeaderLen, MaxSize)
	case cfg.Count < 0 || cfg.Duration < 0:
		return nil, errors.New("traffic: negative count or duration")
	case cfg.DSCP > 63:
		return nil, fmt.Errorf("traffic: DSCP %d > 63", cfg.DSCP)
	}
	s := &Stream{
		id:       rand.Uint32(),
		rate:     uint64(cmpOr(cfg.Rate, DefaultRate)),
		size:     cmpOr(cfg.Size, DefaultSize),
		count:    uint64(cfg.Count),
		dur:      cfg.Duration,
		drain:    max(0, cmpOr(cfg.Drain, DefaultDrain)),
		allIn:    make(chan struct{}),
		stop:     make(chan struct{}),
		recvDone: make(chan struct{}),
		done:     make(chan struct{}),
	}
	expect := s.count
	if s.dur > 0 {
		n := uint64(s.dur.Seconds()*float64(s.rate)) + 1
		if expect == 0 || n < expect {
			expect = n
		}
	}
	s.acc = newTracker(min(expect, 1<<24)) // a hint: the bitmap grows past it
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Dst is the receiver's address and port, the destination of the probes.
func (s *Stream) Dst() netip.AddrPort { return s.dst }

// ID is the stream id carried by the stream's probes.
func (s *Stream) ID() uint32 { return s.id }

// Wait waits until the stream has ended (count or duration reached, then
// drain) and returns its final report. It returns an error only if the
// receiver failed or the context ended; send errors are in the report.
func (s *Stream) Wait() (Report, error) {
	<-s.done
	return s.final, s.err
}

// Stop stops the sender now, waits for the drain and returns the final
// report, like Wait. It may be called more than once and after the end.
func (s *Stream) Stop() (Report, error) {
	s.stopOnce.Do(func() { close(s.stop) })
	return s.Wait()
}

// Done is closed when the final report is ready.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Snapshot returns the stream's counters now. While probes are in flight
// they count as lost.
func (s *Stream) Snapshot() Report {
	s.mu.Lock()
	r := Report{
		StreamID:      s.id,
		Received:      s.acc.unique,
		Duplicated:    s.acc.dup,
		Reordered:     s.acc.reordered,
		Foreign:       s.acc.foreign,
		LastSendError: s.lastSendErr,
		Latency:       s.acc.lat.percentiles(),
	}
	end := s.senderEnd
	s.mu.Unlock()
	// Read after the tracker: every probe counted received was counted sent.
	r.Sent = s.sent.Load()
	r.SendErrors = s.sendErrs.Load()
	r.Lost = r.Sent - min(r.Received, r.Sent)
	if end.IsZero() {
		end = time.Now()
	}
	r.Elapsed = end.Sub(s.started)
	return r
}

func (s *Stream) run(ctx context.Context) {
	err := s.sendLoop(ctx)

	s.mu.Lock()
	s.senderEnd = time.Now()
	s.checkAllIn()
	s.mu.Unlock()

	if err == nil && s.drain > 0 {
		t := time.NewTimer(s.drain)
		select {
		case <-t.C:
		case <-s.allIn:
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.Stop()
	}
	// Wake the receiver; it reads what is already queued, then returns.
	s.rcv.SetReadDeadline(time.Now())
	<-s.recvDone
	s.snd.Close()
	s.rcv.Close()

	s.final = s.Snapshot()
	if err = errors.Join(err, s.recvErr); err != nil {
		s.err = fmt.Errorf("traffic: stream %08x to %v: %w", s.id, s.dst, err)
	}
	close(s.done)
}

// sendLoop sends the probes on schedule until the count or duration is
// reached (nil), Stop is called (nil) or ctx ends (its error). Send errors
// are counted and do not stop it.
func (s *Stream) sendLoop(ctx context.Context) error {
	buf := make([]byte, s.size)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	start := time.Now()
	for seq := uint64(0); s.count == 0 || seq < s.count; seq++ {
		hi, lo := bits.Mul64(seq, uint64(time.Second))
		q, _ := bits.Div64(hi, lo, s.rate) // hi < rate for 584 years
		due := time.Duration(q)
		if s.dur > 0 && due >= s.dur {
			return nil
		}
		if wait := time.Until(start.Add(due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.stop:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			select {
			case <-s.stop:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
		}
		Header{StreamID: s.id, Seq: seq, SentAt: monoNow()}.Append(buf[:0])
		s.sent.Add(1)
		if _, err := s.snd.WriteToUDPAddrPort(buf, s.dst); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.sendErrs.Add(1)
			s.mu.Lock()
			s.lastSendErr = err.Error()
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *Stream) recvLoop() {
	defer close(s.recvDone)
	buf := make([]byte, 1<<16)
	for {
		n, _, err := s.rcv.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.recvErr = s.readQueued(buf)
				return
			}
			s.recvErr = fmt.Errorf("receive: %w", err)
			return
		}
		s.account(buf[:n], monoNow())
	}
}

// readQueued accounts for the datagrams already in the socket's queue
// without waiting for more: a deadline in the past would skip them.
func (s *Stream) readQueued(buf []byte) error {
	if err := s.rcv.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	rc, err := s.rcv.SyscallConn()
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return true
			case err != nil:
				rerr = err
				return true
			}
			s.account(buf[:n], monoNow())
		}
	})
	if err = errors.Join(err, rerr); err != nil {
		return fmt.Errorf("receive queued: %w", err)
	}
	return nil
}

// account processes one datagram received at now (monotonic ns).
func (s *Stream) account(b []byte, now int64) {
	h, _, err := ParseHeader(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || h.StreamID != s.id {
		s.acc.notProbe()
		return
	}
	s.acc.observe(h.Seq, s.sent.Load(), now-h.SentAt)
	s.checkAllIn()
}

// checkAllIn closes allIn once the sender has ended and all it sent has
// arrived. s.mu must be held.
func (s *Stream) checkAllIn() {
	if !s.allInClosed && !s.senderEnd.IsZero() && s.acc.unique >= s.sent.Load() {
		s.allInClosed = true
		close(s.allIn)
	}
}

// listenUDP opens a UDP socket bound to laddr in the namespace at nsPath.
func listenUDP(nsPath, network string, laddr netip.AddrPort) (*net.UDPConn, error) {
	var c *net.UDPConn
	open := func() (err error) {
		c, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(laddr))
		return err
	}
	var err error
	if nsPath == "" {
		err = open()
	} else {
		err = nsdo.Do(nsPath, open)
	}
	return c, err
}

// growRcvBuf enlarges the receive buffer, past net.core.rmem_max when the
// harness may (CAP_NET_ADMIN). Failing is not fatal.
func growRcvBuf(c *net.UDPConn) {
	if rc, err := c.SyscallConn(); err == nil {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf)
		}); err == nil && serr == nil {
			return
		}
	}
	_ = c.SetReadBuffer(rcvBuf)
}

func setDSCP(c *net.UDPConn, v6 bool, dscp uint8) error {
	if dscp == 0 {
		return nil
	}
	if v6 {
		return ipv6.NewConn(c).SetTrafficClass(int(dscp) << 2)
	}
	return ipv4.NewConn(c).SetTOS(int(dscp) << 2)
}
