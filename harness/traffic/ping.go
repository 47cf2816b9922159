package traffic

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/getlab/getlab/harness/nsdo"
)

// Protocol numbers for icmp.ParseMessage.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// pingIDs hands out echo identifiers. Every pinger opens its own raw socket,
// which sees every ICMP packet of its namespace, so concurrent pings tell
// their replies apart by identifier, sequence number and a random token in
// the payload.
var pingIDs atomic.Uint32

func init() {
	var b [2]byte
	rand.Read(b[:])
	pingIDs.Store(uint32(binary.BigEndian.Uint16(b[:])))
}

// ErrUnreachable is wrapped by Ping's error when an ICMP destination
// unreachable or time exceeded message answers the echo.
var ErrUnreachable = errors.New("unreachable")

// Ping sends one ICMP echo request to dst from the network namespace at
// netNS ("" for the harness's own) through a raw socket and returns the
// round-trip time of the reply. It fails if the request cannot be sent (no
// route), if an ICMP error answers it, or if no reply comes within timeout
// or before ctx ends.
func Ping(ctx context.Context, netNS string, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	p, err := openPinger(netNS, dst)
	if err != nil {
		return 0, err
	}
	defer p.close()
	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	sent := time.Now()
	if err := p.send(0); err != nil {
		return 0, fmt.Errorf("traffic: ping %v: %w", dst, err)
	}
	for {
		select {
		case ev := <-p.events:
			if ev.seq != 0 {
				continue
			}
			if ev.err != nil {
				return 0, fmt.Errorf("traffic: ping %v: %w", dst, ev.err)
			}
			return ev.at.Sub(sent), nil
		case <-wait.Done():
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("traffic: ping %v: %w", dst, err)
			}
			return 0, fmt.Errorf("traffic: ping %v: no reply within %v: %w", dst, timeout, wait.Err())
		}
	}
}

// PingN sends count echo requests to dst from netNS, interval apart, and
// waits up to timeout after the last one for the replies still out. It
// returns how many requests got a reply. Failed sends and ICMP errors count
// as no reply; the error reports only a socket that cannot be opened or the
// end of ctx (with the replies so far).
func PingN(ctx context.Context, netNS string, dst netip.Addr, count int, interval, timeout time.Duration) (int, error) {
	if count <= 0 || count > 1<<16 {
		return 0, fmt.Errorf("traffic: ping count %d not in [1, 65536]", count)
	}
	p, err := openPinger(netNS, dst)
	if err != nil {
		return 0, err
	}
	defer p.close()

	replied := make([]bool, count)
	n, sent := 0, 0
	sendNext := func() {
		_ = p.send(uint16(sent)) // a failed send is an echo without reply
		sent++
	}
	var wait <-chan time.Time
	sendNext()
	if sent == count {
		wait = time.After(timeout)
	}
	tick := time.NewTicker(max(interval, time.Millisecond))
	defer tick.Stop()
	for n < count {
		select {
		case <-tick.C:
			if sent < count {
				sendNext()
				if sent == count {
					wait = time.After(timeout)
				}
			}
		case ev := <-p.events:
			if ev.err == nil && int(ev.seq) < sent && !replied[ev.seq] {
				replied[ev.seq] = true
				n++
			}
		case <-wait:
			return n, nil
		case <-ctx.Done():
			return n, fmt.Errorf("traffic: ping %v: %w", dst, ctx.Err())
		}
	}
	return n, nil
}

// pinger is a raw ICMP socket in a namespace with a reader goroutine that
// reports the answers to its own echo requests.
type pinger struct {
	c      *icmp.PacketConn
	dst    net.Addr
	v6     bool
	id     uint16
	token  [8]byte
	events chan pingEvent
	done   chan struct{}
}

type pingEvent struct {
	seq uint16
	at  time.Time
	err error // non-nil for an ICMP error about the request
}

func openPinger(netNS string, dst netip.Addr) (*pinger, error) {
	dst = dst.Unmap()
	if !dst.IsValid() {
		return nil, errors.New("traffic: ping needs a destination address")
	}
	p := &pinger{
		dst:    &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()},
		v6:     dst.Is6(),
		id:     uint16(pingIDs.Add(1)),
		events: make(chan pingEvent, 64),
		done:   make(chan struct{}),
	}
	rand.Read(p.token[:])
	network, laddr := "ip4:icmp", "0.0.0.0"
	if p.v6 {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	open := func() (err error) {
		p.c, err = icmp.ListenPacket(network, laddr)
		return err
	}
	var err error
	if netNS == "" {
		err = open()
	} else {
		err = nsdo.Do(netNS, open)
	}
	if err != nil {
		return nil, fmt.Errorf("traffic: ping socket: %w", err)
	}
	go p.readLoop()
	return p, nil
}

func (p *pinger) close() {
	p.c.Close()
	close(p.done)
}

func (p *pinger) send(seq uint16) error {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if p.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	m := icmp.Message{
		Type: typ,
		Body: &icmp.Echo{ID: int(p.id), Seq: int(seq), Data: p.token[:]},
	}
	// For ICMPv6 the kernel fills in the checksum.
	b, err := m.Marshal(nil)
	if err != nil {
		return err
	}
	_, err = p.c.WriteTo(b, p.dst)
	return err
}

func (p *pinger) readLoop() {
	proto := protoICMP
	if p.v6 {
		proto = protoICMPv6
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := p.c.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		at := time.Now()
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		ev, ok := p.match(m, peer)
		if !ok {
			continue
		}
		ev.at = at
		select {
		case p.events <- ev:
		case <-p.done:
			return
		}
	}
}

// match tells whether m answers one of p's requests: an echo reply with
// p's identifier and token, or an ICMP error quoting such a request.
func (p *pinger) match(m *icmp.Message, peer net.Addr) (pingEvent, bool) {
	switch body := m.Body.(type) {
	case *icmp.Echo:
		if m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply {
			return pingEvent{}, false
		}
		if body.ID != int(p.id) || len(body.Data) < len(p.token) || string(body.Data[:len(p.token)]) != string(p.token[:]) {
			return pingEvent{}, false
		}
		return pingEvent{seq: uint16(body.Seq)}, true
	case *icmp.DstUnreach:
		return p.matchQuoted(body.Data, fmt.Errorf("%w: ICMP %v (code %d) from %v", ErrUnreachable, m.Type, m.Code, peer))
	case *icmp.TimeExceeded:
		return p.matchQuoted(body.Data, fmt.Errorf("%w: ICMP %v (code %d) from %v", ErrUnreachable, m.Type, m.Code, peer))
	}
	return pingEvent{}, false
}

// matchQuoted looks for p's echo request in the IP header and first bytes
// quoted by an ICMP error.
func (p *pinger) matchQuoted(q []byte, err error) (pingEvent, bool) {
	var hlen int
	if p.v6 {
		// The quoted request carries no extension headers.
		if len(q) < 40 || q[0]>>4 != 6 || q[6] != protoICMPv6 {
			return pingEvent{}, false
		}
		hlen = 40
	} else {
		if len(q) < 20 || q[0]>>4 != 4 || q[9] != protoICMP {
			return pingEvent{}, false
		}
		hlen = int(q[0]&0x0f) * 4
	}
	e := q[min(hlen, len(q)):]
	want := byte(ipv4.ICMPTypeEcho)
	if p.v6 {
		want = byte(ipv6.ICMPTypeEchoRequest)
	}
	if len(e) < 8 || e[0] != want || binary.BigEndian.Uint16(e[4:]) != p.id {
		return pingEvent{}, false
	}
	return pingEvent{seq: binary.BigEndian.Uint16(e[6:]), err: err}, true
}
