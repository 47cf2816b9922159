package ikev1

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

type respState int

const (
	respWaitMM1 respState = iota
	respMM2Sent
	respMM4Sent
	respDone
	respFailed
)

var respStateNames = [...]string{"P1_WAIT_MM1", "P1_MM2_SENT", "P1_MM4_SENT", "P1_DONE", "P1_FAILED"}

// Responder is the responder of main mode (a KS answering a GM). The daemon
// makes one per new initiator cookie and feeds it that exchange's
// datagrams. It is not safe for concurrent use.
//
// A failure the initiator should hear about (a message that does not
// parse, no acceptable proposal, a bad HASH_I) ends the exchange: Handle
// returns the *NotifyError and a plaintext Informational to send, and every
// later call returns the same error. Datagrams that are not this
// exchange's (wrong cookies, an unparsable header) are refused without a
// reply and without changing state.
type Responder struct {
	x     exchange
	state respState
	err   error // why the exchange failed (respFailed), or a config error
	// rcky, if set, makes the CKY-R that answers message 1 (a daemon's
	// stateless cookie); nil: a random one.
	rcky func(HalfOpen) [8]byte
}

// NewResponder prepares a responder for an exchange with peer arriving on
// local. A configuration error is reported by the first Handle.
func NewResponder(cfg *Config, local, peer netip.AddrPort) *Responder {
	r := &Responder{x: newExchange(cfg, false, local, peer)}
	if err := cfg.check(false); err != nil {
		r.err = err
	} else if r.x.localID == nil {
		r.err = errors.New("ikev1: no local identity: set Config.LocalID or a valid local address")
	}
	return r
}

// State names the state for status displays ("P1_MM4_SENT").
func (r *Responder) State() string { return respStateNames[r.state] }

// AwaitsMessage3 reports whether the next message moves the exchange to
// the Diffie-Hellman computation: message 2 has been sent.
func (r *Responder) AwaitsMessage3() bool { return r.state == respMM2Sent && r.err == nil }

// Cookies returns CKY-I | CKY-R (zero until message 1).
func (r *Responder) Cookies() [16]byte { return r.x.cookies() }

// ICookie returns the initiator cookie (zero before message 1).
func (r *Responder) ICookie() [8]byte { return r.x.icky }

// SA returns the phase-1 SA once main mode is complete, else nil.
func (r *Responder) SA() *SA { return r.x.sa }

// LastSent returns the last message sent, for retransmission.
func (r *Responder) LastSent() []byte { return bytes.Clone(r.x.lastSent) }

// Handle consumes message 1, 3 or 5 and returns message 2, 4 or 6. A
// duplicate of the last message received (a retransmission: the initiator
// did not get the reply) returns the cached reply, without error and
// without touching state; a late copy of an earlier message returns
// nothing and changes nothing. It keeps pkt and the reply, without copying
// them (a registration's largest copies): the caller hands pkt over and
// only sends the reply.
func (r *Responder) Handle(pkt []byte) ([]byte, error) {
	x := &r.x
	if r.err != nil {
		return nil, r.err
	}
	want := 2*min(int(r.state), int(respMM4Sent)) + 1
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, notifyErr(want, isakmp.NotifyPayloadMalformed, err)
	}
	if x.stale(pkt) {
		return nil, nil // answered already; the last reply sent stands
	}
	if x.lastRecv != nil && bytes.Equal(pkt, x.lastRecv) {
		return bytes.Clone(x.lastSent), nil
	}
	if r.state == respWaitMM1 {
		if h.ICookie == [8]byte{} || h.RCookie != [8]byte{} {
			return nil, notifyErr(1, isakmp.NotifyInvalidCookie, fmt.Errorf("cookies %x|%x: message 1 has a non-zero CKY-I and a zero CKY-R", h.ICookie, h.RCookie))
		}
		if h.Exchange != isakmp.ExchangeMainMode {
			return nil, notifyErr(1, isakmp.NotifyInvalidExchangeType, fmt.Errorf("exchange %s, want MAIN-MODE", h.Exchange))
		}
		// A random CKY-R, which a stateless cookie replaces once
		// message 1 is understood; failures are told under this one.
		rcky, err := randomCookie(x.cfg.rand())
		if err != nil {
			return nil, fmt.Errorf("ikev1: main mode msg 2: %w", err)
		}
		x.icky, x.rcky = h.ICookie, rcky
	} else {
		switch {
		case h.ICookie != x.icky || h.RCookie != x.rcky:
			return nil, notifyErr(want, isakmp.NotifyInvalidCookie, fmt.Errorf("cookies %x|%x are not this exchange's", h.ICookie, h.RCookie))
		case h.Exchange == isakmp.ExchangeInformational && h.Flags&isakmp.FlagEncryption == 0:
			if ne := peerNotify(want, pkt); ne != nil {
				return nil, ne
			}
			return nil, notifyErr(want, isakmp.NotifyPayloadMalformed, errors.New("Informational without a notification"))
		case h.Exchange != isakmp.ExchangeMainMode:
			return nil, notifyErr(want, isakmp.NotifyInvalidExchangeType, fmt.Errorf("exchange %s, want MAIN-MODE", h.Exchange))
		case r.state == respDone:
			return nil, errors.New("ikev1: main mode: already complete")
		}
	}
	if h.MessageID != 0 {
		return r.fail(notifyErr(want, isakmp.NotifyInvalidMessageID, fmt.Errorf("message ID %#08x, want 0", h.MessageID)))
	}
	var reply []byte
	var ne *NotifyError
	switch r.state {
	case respWaitMM1:
		reply, ne = r.handle1(pkt)
	case respMM2Sent:
		reply, ne = r.handle3(pkt)
	case respMM4Sent:
		reply, ne = r.handle5(pkt)
	}
	if ne != nil {
		return r.fail(ne)
	}
	x.received(pkt) // kept, not copied: see Handle
	x.lastSent = reply
	r.state++
	return reply, nil
}

// fail ends the exchange with ne and returns the plaintext notification
// that tells the initiator.
func (r *Responder) fail(ne *NotifyError) ([]byte, error) {
	x := &r.x
	r.state, r.err = respFailed, ne
	reply, err := plainNotify(x.cfg.rand(), x.icky, x.rcky, x.doi, ne.Type)
	if err != nil {
		return nil, ne // cannot tell the peer; the failure is what matters
	}
	x.lastSent = reply
	return bytes.Clone(reply), ne
}

// SetResponderCookieFunc makes the responder answer message 1 with the
// CKY-R f returns instead of a random one: a daemon's stateless cookie,
// which may depend on what message 1 determined, h (its RCookie still
// zero). f is called once, by the Handle of message 1, once the proposal
// is accepted; it must not return zero. Call it before the first Handle.
func (r *Responder) SetResponderCookieFunc(f func(h HalfOpen) [8]byte) { r.rcky = f }

// CheckPeer reports, without computing anything expensive, that the
// authenticator cannot authenticate the peer (no pre-shared key for its
// address); nil if it may.
func (r *Responder) CheckPeer() error {
	pc, ok := r.x.cfg.Auth.(PeerChecker)
	if !ok || r.err != nil {
		return r.err
	}
	return pc.CheckPeer(r.x.authContext())
}

// HalfOpen is what a responder needs to resume main mode after sending
// message 2: message 3 does not repeat the initiator's SA payload, whose
// body HASH_I and HASH_R cover, nor the transform chosen from it. A
// daemon under a flood recovers it from its stateless cookie instead of
// keeping the Responder (see ks/cookie.go).
type HalfOpen struct {
	ICookie, RCookie [8]byte
	DOI              uint32
	Suite            Suite
	// SAiB is the body of the initiator's message-1 SA payload.
	SAiB    []byte
	PeerDPD bool
}

// HalfOpen returns the exchange's state after message 2 (ok is false in
// any other state).
func (r *Responder) HalfOpen() (h HalfOpen, ok bool) {
	x := &r.x
	if r.state != respMM2Sent {
		return HalfOpen{}, false
	}
	return HalfOpen{ICookie: x.icky, RCookie: x.rcky, DOI: x.doi, Suite: x.suite, SAiB: x.saiB, PeerDPD: x.peerDPD}, true
}

// ResumeResponder recreates, from what HalfOpen returned, a responder
// that has sent message 2 and waits for message 3. It does not answer a
// retransmitted message 1 (it no longer has message 2).
func ResumeResponder(cfg *Config, local, peer netip.AddrPort, h HalfOpen) *Responder {
	r := NewResponder(cfg, local, peer)
	if r.err != nil {
		return r
	}
	newHash, err := h.Suite.NewHash()
	if err != nil {
		r.err = fmt.Errorf("ikev1: resume main mode: %w", err)
		return r
	}
	x := &r.x
	x.icky, x.rcky, x.doi, x.suite, x.newHash = h.ICookie, h.RCookie, h.DOI, h.Suite, newHash
	x.saiB, x.peerDPD = bytes.Clone(h.SAiB), h.PeerDPD
	r.state = respMM2Sent
	return r
}

// handle1 chooses a transform from the initiator's proposal and returns
// message 2. A peer the authenticator cannot authenticate (no pre-shared
// key for its address) is refused here, with NO-PROPOSAL-CHOSEN as IOS
// answers it ("No pre-shared key with <peer>!", then "atts are not
// acceptable"): no proposal with that authentication method is acceptable
// for it, and refusing now keeps no state and computes nothing.
func (r *Responder) handle1(pkt []byte) ([]byte, *NotifyError) {
	x := &r.x
	if err := r.CheckPeer(); err != nil {
		reason := err.Error()
		var ne *NotifyError
		if errors.As(err, &ne) {
			reason = ne.Reason
		}
		return nil, &NotifyError{Type: isakmp.NotifyNoProposalChosen, Reason: "main mode msg 1: " + reason, Err: err}
	}
	m, err := isakmp.ParseMessage(pkt, nil)
	if err != nil {
		return nil, notifyErr(1, isakmp.NotifyPayloadMalformed, err)
	}
	if m.Encrypted != nil {
		return nil, notifyErr(1, isakmp.NotifyPayloadMalformed, errors.New("encrypted"))
	}
	idx := -1
	for j, p := range m.Payloads {
		if p.Type() == isakmp.PayloadSA {
			idx = j
			break
		}
	}
	if idx < 0 {
		return nil, notifyErr(1, isakmp.NotifyPayloadMalformed, errors.New("no SA payload"))
	}
	sa := m.Payloads[idx].(*isakmp.SA)
	if sa.DOI != isakmp.DOIGDOI && sa.DOI != isakmp.DOIIPsec {
		return nil, notifyErr(1, isakmp.NotifyDOINotSupported, fmt.Errorf("DOI %d, want %d (GDOI) or %d (IPsec)", sa.DOI, isakmp.DOIGDOI, isakmp.DOIIPsec))
	}
	// From here on the notifications carry the initiator's DOI.
	x.doi = sa.DOI
	saiB := rawPayload(m.Header.NextPayload, pkt[isakmp.HeaderLen:], idx)
	if saiB == nil {
		return nil, notifyErr(1, isakmp.NotifyPayloadMalformed, errors.New("SA payload not found in the raw message"))
	}
	var (
		chosen isakmp.Transform
		suite  Suite
		prop   *isakmp.Proposal
		why    error = errors.New("no ISAKMP proposal")
	)
	for j := range sa.Proposals {
		p := &sa.Proposals[j]
		if p.ProtocolID != isakmp.ProtoISAKMP {
			continue
		}
		if chosen, suite, err = choose(x.cfg, p); err == nil {
			prop = p
			break
		}
		why = fmt.Errorf("proposal %d: %w", p.Number, err)
	}
	if prop == nil {
		return nil, notifyErr(1, isakmp.NotifyNoProposalChosen, why)
	}
	newHash, err := suite.NewHash()
	if err != nil {
		return nil, notifyErr(1, isakmp.NotifyNoProposalChosen, err)
	}
	x.saiB, x.suite, x.newHash = saiB, suite, newHash
	x.peerDPD = hasDPD(m.Payloads)
	if r.rcky != nil {
		x.rcky = r.rcky(HalfOpen{ICookie: x.icky, DOI: x.doi, Suite: x.suite, SAiB: x.saiB, PeerDPD: x.peerDPD})
	}
	ps := []isakmp.Payload{&isakmp.SA{
		DOI: sa.DOI, Situation: sa.Situation,
		Proposals: []isakmp.Proposal{{
			Number: prop.Number, ProtocolID: isakmp.ProtoISAKMP, SPI: prop.SPI,
			Transforms: []isakmp.Transform{chosen},
		}},
	}}
	if x.cfg.DPD {
		ps = append(ps, &isakmp.VendorID{Data: DPDVendorID[:]})
	}
	return x.plain(ps...), nil
}

// handle3 answers the initiator's KE and nonce with its own, derives the
// keys (choosing the pre-shared key by the peer's address) and returns
// message 4. Everything that can refuse the message without the
// Diffie-Hellman computation (its syntax, the public value, a key for the
// peer) is checked before it.
func (r *Responder) handle3(pkt []byte) ([]byte, *NotifyError) {
	x := &r.x
	gxi, ni, vids, nerr := keNonce(3, pkt)
	if nerr != nil {
		return nil, nerr
	}
	if err := r.CheckPeer(); err != nil {
		return nil, authError(3, err)
	}
	g, err := LookupGroup(x.suite.Group)
	if err != nil {
		return nil, notifyErr(3, isakmp.NotifyNoProposalChosen, err)
	}
	if err := g.CheckPublic(gxi); err != nil {
		return nil, notifyErr(3, isakmp.NotifyInvalidKeyInformation, err)
	}
	if x.cfg.OnDH != nil {
		x.cfg.OnDH()
	}
	dh, err := g.GenerateKey(x.cfg.rand())
	if err != nil {
		return nil, notifyErr(3, isakmp.NotifyPayloadMalformed, err)
	}
	gxy, err := dh.SharedSecret(gxi)
	if err != nil {
		return nil, notifyErr(3, isakmp.NotifyInvalidKeyInformation, err)
	}
	nr, err := x.newNonce()
	if err != nil {
		return nil, notifyErr(3, isakmp.NotifyPayloadMalformed, err)
	}
	k, err := x.deriveKeys(gxi, dh.Public, gxy, ni, nr)
	if err != nil {
		return nil, authError(3, err)
	}
	x.dh, x.gxi, x.gxr, x.ni, x.nr, x.peerVIDs = dh, gxi, dh.Public, ni, nr, vids
	x.commitKeys(k)
	return x.plain(x.withVendorIDs(&isakmp.KE{Data: dh.Public}, &isakmp.Nonce{Data: nr})...), nil
}

// handle5 decrypts and verifies the initiator's identity and HASH_I, and
// returns message 6, establishing the SA.
func (r *Responder) handle5(pkt []byte) ([]byte, *NotifyError) {
	x := &r.x
	m, pt, commit, err := x.open(pkt)
	if err != nil {
		// With a wrong pre-shared key message 5 decrypts to garbage,
		// which most of the time does not parse.
		return nil, notifyErr(5, isakmp.NotifyPayloadMalformed, fmt.Errorf("does not decrypt to a valid message (pre-shared keys differ?): %w", err))
	}
	id, idB, rest, err := idAndRest(m, pt)
	if err != nil {
		return nil, notifyErr(5, isakmp.NotifyInvalidIDInformation, err)
	}
	if err := checkID(id); err != nil {
		return nil, notifyErr(5, isakmp.NotifyInvalidIDInformation, err)
	}
	ctx := x.authContext()
	ctx.PeerID = id
	hi := hashI(x.newHash, x.skeyid, x.gxi, x.gxr, x.icky, x.rcky, x.saiB, idB)
	if err := x.cfg.Auth.Verify(ctx, rest, hi); err != nil {
		return nil, authError(5, err)
	}
	if f := x.cfg.AcceptPeerID; f != nil {
		if err := f(x.peer, id); err != nil {
			return nil, notifyErr(5, isakmp.NotifyInvalidIDInformation, fmt.Errorf("identity %s refused: %w", id, err))
		}
	}
	commit()
	x.peerID = id
	hr := hashR(x.newHash, x.skeyid, x.gxi, x.gxr, x.icky, x.rcky, x.saiB, x.localID.Append(nil))
	proof, err := x.cfg.Auth.Prove(x.authContext(), hr)
	if err != nil {
		return nil, authError(6, err)
	}
	msg6 := x.seal(append([]isakmp.Payload{x.localID}, proof...)...)
	if err := x.establish(); err != nil {
		return nil, notifyErr(6, isakmp.NotifyPayloadMalformed, err)
	}
	return msg6, nil
}
