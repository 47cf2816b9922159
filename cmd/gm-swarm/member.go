package main

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// A member is one simulated group member: its own address, its own main
// mode and GROUPKEY-PULL, then its KEK and the sequence number of the
// last rekey it took. It follows gateway/gm's flow (member.go, rekey.go)
// without its timers for re-registration, data plane or events: the swarm
// measures a key server, it does not stand in for a GM's life.
type member struct {
	s    *swarm
	addr netip.AddrPort

	mu    sync.Mutex
	state memberState
	// ksIdx is the KS of the current attempt, tries the tries with it.
	ksIdx, tries int
	// started is when the first try's main mode message 1 was sent.
	started time.Time
	mm      *ikev1.Initiator
	sa      *ikev1.SA
	pull    *gdoi.Initiator
	// lastSent is the message in flight, sent again after a silent retry
	// interval; broken says the exchange in flight failed, so the next
	// try starts afresh.
	lastSent []byte
	broken   bool
	// waiting names the message the exchange in flight waits for
	// ("main mode msg 2"), for the timeout's reason.
	waiting string
	lastErr string
	gen     int // the retry timer's generation: a stale timer does nothing
	timer   *time.Timer

	kek *gdoi.KEK
	seq uint32
}

type memberState int

const (
	idle memberState = iota
	registering
	registered
	gaveUp
)

// register starts the member's registration with the first KS.
func (m *member) register() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = registering
	m.started = m.s.now()
	m.s.st.attempted()
	m.try()
}

// ks is the KS of the current attempt.
func (m *member) ks() netip.AddrPort { return m.s.cfg.ks[m.ksIdx] }

// try sends the next try: the message in flight again, or a fresh main
// mode when none is in flight or the last one failed; after the tries
// with one KS, the next KS; after the last, the member gives up.
func (m *member) try() {
	if m.tries == m.s.cfg.tries {
		m.tries = 0
		m.ksIdx++
		m.lastSent, m.broken = nil, false
		if m.ksIdx == len(m.s.cfg.ks) {
			m.giveUp()
			return
		}
	}
	m.tries++
	if m.lastSent != nil && !m.broken {
		m.s.st.retransmitted()
		m.send(m.ks(), m.lastSent)
	} else {
		m.mm, m.sa, m.pull, m.broken = nil, nil, nil, false
		mm, err := ikev1.NewInitiator(m.s.ike, m.addr, m.ks())
		var pkt []byte
		if err == nil {
			pkt, err = mm.Start()
		}
		if err != nil {
			// A configuration main mode cannot start with: every try
			// would fail the same way.
			m.fail("main mode: " + err.Error())
			m.giveUp()
			return
		}
		m.s.st.tried()
		m.mm, m.lastSent, m.waiting = mm, pkt, "main mode msg 2"
		m.send(m.ks(), pkt)
	}
	m.arm()
}

// arm (re)starts the retry timer.
func (m *member) arm() {
	m.gen++
	gen := m.gen
	m.timer = time.AfterFunc(m.s.cfg.retryInterval, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.gen != gen || m.state != registering {
			return
		}
		if !m.broken {
			m.s.st.errored("timeout: no " + m.waiting)
			m.lastErr = "timeout: no " + m.waiting
		}
		m.try()
	})
}

func (m *member) stopTimer() {
	m.gen++
	if m.timer != nil {
		m.timer.Stop()
	}
}

// fail ends the exchange in flight with reason; the next try starts
// afresh.
func (m *member) fail(reason string) {
	m.broken = true
	m.lastErr = reason
	m.s.st.errored(reason)
}

func (m *member) giveUp() {
	m.stopTimer()
	m.state = gaveUp
	reason := m.lastErr
	if reason == "" {
		reason = "no answer"
	}
	m.s.st.gaveUp(reason)
	m.s.release()
}

func (m *member) send(to netip.AddrPort, pkt []byte) { m.s.send(m.addr, to, pkt) }

// handle takes one datagram sent to this member.
func (m *member) handle(from netip.AddrPort, pkt []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		m.s.st.unexpected()
		return
	}
	switch {
	case h.Exchange == isakmp.ExchangeGroupkeyPush:
		m.rekey(from, h, pkt)
	case h.Exchange == isakmp.ExchangeInformational && m.sa != nil && h.Cookies() == m.sa.Cookies():
		m.informational(pkt)
	case m.state != registering:
		m.s.st.unexpected()
	case h.Exchange == isakmp.ExchangeMainMode || h.Exchange == isakmp.ExchangeInformational:
		m.mainMode(h, pkt)
	case h.Exchange == isakmp.ExchangeGroupkeyPull:
		m.pullMessage(h, pkt)
	default:
		m.s.st.unexpected()
	}
}

// mainMode takes main mode message 2, 4 or 6, or a plaintext notification
// refusing main mode.
func (m *member) mainMode(h isakmp.Header, pkt []byte) {
	if m.mm == nil || m.broken || m.sa != nil || h.ICookie != m.mm.ICookie() {
		m.s.st.unexpected()
		return
	}
	reply, err := m.mm.Handle(pkt)
	if err != nil {
		m.fail(mainModeReason(err))
		return
	}
	if reply != nil {
		m.lastSent = reply
		m.waiting = "main mode msg " + map[string]string{"P1_MM3_SENT": "4", "P1_MM5_SENT": "6"}[m.mm.State()]
		m.send(m.ks(), reply)
	}
	if sa := m.mm.SA(); sa != nil {
		m.sa = sa
		m.pull = gdoi.NewInitiator(sa, m.s.cfg.group)
		m.pull.Wire = m.s.cfg.interop.Wire
		m.lastSent, m.waiting = m.pull.Start(), "GROUPKEY-PULL msg 2"
		m.send(m.ks(), m.lastSent)
		m.arm() // a new exchange: a full retry interval for it
	}
}

// mainModeReason is a main mode error as a failure reason: the
// notification and the message it concerns, without the values that make
// every GM's error different.
func mainModeReason(err error) string {
	var ne *ikev1.NotifyError
	if errors.As(err, &ne) {
		if ne.FromPeer {
			return fmt.Sprintf("main mode: KS sent %s", ne.Type)
		}
		return fmt.Sprintf("main mode: %s (%s)", ne.Reason, ne.Type)
	}
	return "main mode: " + err.Error()
}

// pullMessage takes GROUPKEY-PULL message 2 or 4.
func (m *member) pullMessage(h isakmp.Header, pkt []byte) {
	if m.pull == nil || m.broken || h.MessageID != m.pull.MessageID() || h.Cookies() != m.sa.Cookies() {
		m.s.st.unexpected()
		return
	}
	reply, err := m.pull.Handle(pkt)
	switch {
	case errors.Is(err, gdoi.ErrHash):
		m.fail("GROUPKEY-PULL: HASH does not verify")
		return
	case errors.Is(err, gdoi.ErrPolicy):
		m.fail("GROUPKEY-PULL: unacceptable policy")
		return
	case err != nil:
		m.fail("GROUPKEY-PULL: " + err.Error())
		return
	}
	if reply != nil {
		m.lastSent, m.waiting = reply, "GROUPKEY-PULL msg 4"
		m.send(m.ks(), reply)
		return
	}
	p := m.pull.Policy()
	if p == nil {
		return
	}
	m.stopTimer()
	m.state, m.kek, m.seq = registered, p.KEK, p.Seq
	m.pull, m.mm, m.lastSent = nil, nil, nil
	if p.KEK == nil {
		// Registered, but no rekey can reach this GM.
		m.s.st.errored("GROUPKEY-PULL: registered without a KEK")
	}
	m.s.st.registered(m.s.now().Sub(m.started))
	m.s.release()
}

// informational takes a protected Informational on the member's phase-1
// SA: a refusal of its PULL, or a dead peer detection probe to answer.
func (m *member) informational(pkt []byte) {
	n, err := m.sa.OpenInformational(pkt)
	if err != nil {
		m.s.st.unexpected()
		return
	}
	if ack := ikev1.AnswerDPD(m.sa, n); ack != nil {
		m.send(m.ks(), ack)
		return
	}
	if m.state == registering && m.pull != nil && !m.broken {
		m.fail(fmt.Sprintf("GROUPKEY-PULL: KS refused: %s", n.MessageType))
		return
	}
	m.s.st.unexpected()
}

// rekey takes a GROUPKEY-PUSH as gateway/gm does: under the member's KEK
// (the header's cookies), decrypted, its signature verified with the KS's
// key from the registration, its sequence number larger than the last one
// taken; then acknowledged under that KEK when it asks for it (RFC 8263),
// to the PUSH's source, and a new KEK it carries taken.
func (m *member) rekey(from netip.AddrPort, h isakmp.Header, pkt []byte) {
	kek := m.kek
	if kek == nil || h.Cookies() != kek.SPI {
		m.s.st.errored("rekey: PUSH under a KEK this GM does not hold")
		return
	}
	push, err := gdoi.OpenPush(pkt, kek)
	switch {
	case errors.Is(err, gdoi.ErrPushSignature):
		m.s.st.errored("rekey: signature does not verify")
		return
	case err != nil:
		m.s.st.errored("rekey: " + err.Error())
		return
	}
	if push.Seq <= m.seq {
		// A retransmission of a PUSH taken, or a replay (RFC 6407 §4.8).
		m.s.st.pushCopy(push.Seq, false)
		return
	}
	m.seq = push.Seq
	var next *gdoi.KEK
	if push.SA != nil {
		p, err := gdoi.ParsePolicyWith(m.s.cfg.group, push.SA, push.KD, &gdoiwire.SEQ{Seq: push.Seq},
			gdoi.ParseOptions{Wire: m.s.cfg.interop.Wire, CurrentKEK: &kek.SPI})
		if err != nil {
			m.s.st.pushCopy(push.Seq, false)
			m.s.st.errored("rekey: " + err.Error())
			return
		}
		next = p.KEK
	}
	if deletesKEK(push.Deletes, kek) {
		// Removed from the group (GM removal): no more rekeys for it.
		m.kek = nil
	}
	m.s.st.pushCopy(push.Seq, true)
	m.s.st.took(push.Seq, next != nil && next.SPI != kek.SPI)
	if kek.Ack != 0 && gdoi.AckSupported(kek.Ack) {
		ack, err := gdoi.SealAck(kek, push.Seq, m.addr.Addr())
		if err != nil {
			m.s.st.errored("rekey: acknowledgement: " + err.Error())
		} else {
			m.send(from, ack)
			m.s.st.acked(push.Seq)
		}
	}
	if next != nil {
		if !next.Dst.Addr().IsMulticast() {
			next.Dst = m.addr
		}
		m.kek = next
	}
}

// deletesKEK reports whether a PUSH's Delete payloads name kek.
func deletesKEK(dels []*isakmp.Delete, kek *gdoi.KEK) bool {
	for _, d := range dels {
		for _, spi := range d.SPIs {
			if len(spi) == 16 && [16]byte(spi) == kek.SPI {
				return true
			}
		}
	}
	return false
}
