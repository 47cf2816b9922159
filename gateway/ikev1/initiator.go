package ikev1

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

type initState int

const (
	initIdle initState = iota
	initMM1Sent
	initMM3Sent
	initMM5Sent
	initDone
)

var initStateNames = [...]string{"P1_IDLE", "P1_MM1_SENT", "P1_MM3_SENT", "P1_MM5_SENT", "P1_DONE"}

// Initiator is the initiator of main mode (a GM registering with a KS).
// It is not safe for concurrent use.
//
// Errors from Handle leave it in the state it was in: a datagram that is
// not the expected message (garbage, a spoofed notification, a message 6
// that does not verify) does not end the exchange by itself; the daemon
// decides whether to give up, which it normally does when the error is a
// *NotifyError with FromPeer set.
type Initiator struct {
	x     exchange
	state initState
}

// NewInitiator prepares main mode from local to peer. It fails on a
// configuration that cannot be proposed (no suites, an unsupported or
// disallowed suite, no authenticator, no identity).
func NewInitiator(cfg *Config, local, peer netip.AddrPort) (*Initiator, error) {
	if err := cfg.check(true); err != nil {
		return nil, err
	}
	i := &Initiator{x: newExchange(cfg, true, local, peer)}
	if i.x.localID == nil {
		return nil, errors.New("ikev1: no local identity: set Config.LocalID or a valid local address")
	}
	return i, nil
}

// State names the state for status displays ("P1_MM3_SENT").
func (i *Initiator) State() string { return initStateNames[i.state] }

// Cookies returns CKY-I | CKY-R (CKY-R is zero until message 2).
func (i *Initiator) Cookies() [16]byte { return i.x.cookies() }

// ICookie returns the initiator cookie (zero before Start).
func (i *Initiator) ICookie() [8]byte { return i.x.icky }

// SA returns the phase-1 SA once main mode is complete, else nil.
func (i *Initiator) SA() *SA { return i.x.sa }

// LastSent returns the last message sent, for retransmission.
func (i *Initiator) LastSent() []byte { return bytes.Clone(i.x.lastSent) }

// Start returns message 1: a fresh random initiator cookie and one
// proposal (protocol ISAKMP) with a KEY_IKE transform per suite, in order.
func (i *Initiator) Start() ([]byte, error) {
	if i.state != initIdle {
		return nil, fmt.Errorf("ikev1: main mode msg 1: already started (%s)", i.State())
	}
	x := &i.x
	icky, err := randomCookie(x.cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("ikev1: main mode msg 1: %w", err)
	}
	prop := isakmp.Proposal{Number: 1, ProtocolID: isakmp.ProtoISAKMP}
	for n, s := range x.cfg.Suites {
		prop.Transforms = append(prop.Transforms, s.transform(uint8(n+1)))
	}
	sa := &isakmp.SA{DOI: x.doi, Situation: situation(x.doi), Proposals: []isakmp.Proposal{prop}}
	ps := []isakmp.Payload{sa}
	if x.cfg.DPD {
		ps = append(ps, &isakmp.VendorID{Data: DPDVendorID[:]})
	}
	x.icky = icky
	x.saiB = sa.Append(nil)
	x.lastSent = x.plain(ps...)
	i.state = initMM1Sent
	return bytes.Clone(x.lastSent), nil
}

// Handle consumes the responder's message 2, 4 or 6 and returns message 3
// or 5 (nil after 6, when SA is set). It keeps pkt and the message it
// returns, without copying them, to recognise and answer a
// retransmission: the caller hands pkt over and only sends the result. A
// retransmission of the last message received returns the last message
// sent again (the responder did not get it); a late copy of an earlier one
// returns nothing and changes nothing. A plaintext Informational from the responder is returned as a
// *NotifyError with FromPeer set and the peer's notify type.
func (i *Initiator) Handle(pkt []byte) ([]byte, error) {
	x := &i.x
	want := 2 * min(int(i.state), int(initMM5Sent)) // the message number expected
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, notifyErr(want, isakmp.NotifyPayloadMalformed, err)
	}
	switch {
	case i.state == initIdle:
		return nil, errors.New("ikev1: main mode: not started")
	case h.ICookie != x.icky:
		return nil, notifyErr(want, isakmp.NotifyInvalidCookie, fmt.Errorf("initiator cookie %x is not this exchange's", h.ICookie))
	case x.lastRecv != nil && bytes.Equal(pkt, x.lastRecv):
		if i.state == initDone {
			return nil, nil
		}
		return bytes.Clone(x.lastSent), nil
	case x.stale(pkt):
		return nil, nil // answered already; the last message sent stands
	case h.Exchange == isakmp.ExchangeInformational && h.Flags&isakmp.FlagEncryption == 0:
		if ne := peerNotify(want, pkt); ne != nil {
			return nil, ne
		}
		return nil, notifyErr(want, isakmp.NotifyPayloadMalformed, errors.New("Informational without a notification"))
	case h.Exchange != isakmp.ExchangeMainMode:
		return nil, notifyErr(want, isakmp.NotifyInvalidExchangeType, fmt.Errorf("exchange %s, want MAIN-MODE", h.Exchange))
	case h.MessageID != 0:
		return nil, notifyErr(want, isakmp.NotifyInvalidMessageID, fmt.Errorf("message ID %#08x, want 0", h.MessageID))
	case i.state == initDone:
		return nil, errors.New("ikev1: main mode: already complete")
	case i.state != initMM1Sent && h.RCookie != x.rcky:
		return nil, notifyErr(want, isakmp.NotifyInvalidCookie, fmt.Errorf("responder cookie %x, want %x", h.RCookie, x.rcky))
	}
	var reply []byte
	switch i.state {
	case initMM1Sent:
		reply, err = i.handle2(h, pkt)
	case initMM3Sent:
		reply, err = i.handle4(pkt)
	case initMM5Sent:
		err = i.handle6(pkt)
	}
	if err != nil {
		return nil, err
	}
	x.received(pkt) // kept, not copied: see Handle
	if reply != nil {
		x.lastSent = reply
	}
	i.state++
	return reply, nil
}

// handle2 checks the responder's choice against what was proposed and
// returns message 3.
func (i *Initiator) handle2(h isakmp.Header, pkt []byte) ([]byte, error) {
	x := &i.x
	if h.RCookie == [8]byte{} {
		return nil, notifyErr(2, isakmp.NotifyInvalidCookie, errors.New("zero responder cookie"))
	}
	if h.Flags&isakmp.FlagEncryption != 0 {
		return nil, notifyErr(2, isakmp.NotifyPayloadMalformed, errors.New("encrypted"))
	}
	m, err := isakmp.ParseMessage(pkt, nil)
	if err != nil {
		return nil, notifyErr(2, isakmp.NotifyPayloadMalformed, err)
	}
	p, ok := m.Get(isakmp.PayloadSA)
	if !ok {
		return nil, notifyErr(2, isakmp.NotifyPayloadMalformed, errors.New("no SA payload"))
	}
	sa := p.(*isakmp.SA)
	if sa.DOI != x.doi {
		return nil, notifyErr(2, isakmp.NotifyDOINotSupported, fmt.Errorf("responder answered with DOI %d, proposed %d", sa.DOI, x.doi))
	}
	if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 1 {
		return nil, notifyErr(2, isakmp.NotifyBadProposalSyntax, errors.New("responder must choose exactly one proposal with one transform"))
	}
	if pr := sa.Proposals[0].ProtocolID; pr != isakmp.ProtoISAKMP {
		return nil, notifyErr(2, isakmp.NotifyInvalidProtocolID, fmt.Errorf("proposal protocol %d, want ISAKMP", pr))
	}
	t := &sa.Proposals[0].Transforms[0]
	got, hasLife, err := transformSuite(t)
	if err != nil {
		return nil, notifyErr(2, isakmp.NotifyNoProposalChosen, fmt.Errorf("responder's transform: %w", err))
	}
	var proposed *Suite
	for j := range x.cfg.Suites {
		if x.cfg.Suites[j].sameAlgorithms(got) {
			proposed = &x.cfg.Suites[j]
			break
		}
	}
	if proposed == nil {
		return nil, notifyErr(2, isakmp.NotifyNoProposalChosen, fmt.Errorf("responder chose %s (auth %d), which was not proposed", got, got.Auth))
	}
	// The responder may shorten the lifetime, never lengthen it.
	offered := time.Duration(proposed.lifetimeSeconds()) * time.Second
	if !hasLife {
		got.Lifetime = offered
	}
	if got.Lifetime > offered {
		return nil, notifyErr(2, isakmp.NotifyNoProposalChosen, fmt.Errorf("responder's lifetime %v exceeds the %v proposed", got.Lifetime, offered))
	}
	newHash, err := got.NewHash()
	if err != nil {
		return nil, notifyErr(2, isakmp.NotifyNoProposalChosen, err)
	}
	g, err := LookupGroup(got.Group)
	if err != nil {
		return nil, notifyErr(2, isakmp.NotifyNoProposalChosen, err)
	}
	dh, err := g.GenerateKey(x.cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("ikev1: main mode msg 3: %w", err)
	}
	ni, err := x.newNonce()
	if err != nil {
		return nil, fmt.Errorf("ikev1: main mode msg 3: %w", err)
	}
	x.rcky, x.suite, x.newHash, x.dh, x.gxi, x.ni = h.RCookie, got, newHash, dh, dh.Public, ni
	x.peerDPD = hasDPD(m.Payloads)
	return x.plain(x.withVendorIDs(&isakmp.KE{Data: dh.Public}, &isakmp.Nonce{Data: ni})...), nil
}

// handle4 completes the Diffie-Hellman exchange, derives the keys and
// returns message 5.
func (i *Initiator) handle4(pkt []byte) ([]byte, error) {
	x := &i.x
	gxr, nr, vids, nerr := keNonce(4, pkt)
	if nerr != nil {
		return nil, nerr
	}
	x.peerVIDs = vids
	gxy, err := x.dh.SharedSecret(gxr)
	if err != nil {
		return nil, notifyErr(4, isakmp.NotifyInvalidKeyInformation, err)
	}
	k, err := x.deriveKeys(x.gxi, gxr, gxy, x.ni, nr)
	if err != nil {
		return nil, authError(4, err)
	}
	idB := x.localID.Append(nil)
	hi := hashI(x.newHash, k.skeyid, x.gxi, gxr, x.icky, x.rcky, x.saiB, idB)
	proof, err := x.cfg.Auth.Prove(x.authContext(), hi)
	if err != nil {
		return nil, fmt.Errorf("ikev1: main mode msg 5: %w", err)
	}
	x.gxr, x.nr = gxr, nr
	x.commitKeys(k)
	return x.seal(append([]isakmp.Payload{x.localID}, proof...)...), nil
}

// handle6 decrypts and verifies message 6 and establishes the SA.
func (i *Initiator) handle6(pkt []byte) error {
	x := &i.x
	m, pt, commit, err := x.open(pkt)
	if err != nil {
		if errors.Is(err, ErrNotEncrypted) {
			return notifyErr(6, isakmp.NotifyPayloadMalformed, err)
		}
		// With a wrong pre-shared key message 6 decrypts to garbage: that
		// is an authentication failure, which is what an operator needs
		// to read.
		return notifyErr(6, isakmp.NotifyAuthenticationFailed, fmt.Errorf("does not decrypt to a valid message (pre-shared keys differ?): %w", err))
	}
	id, idB, rest, err := idAndRest(m, pt)
	if err != nil {
		return notifyErr(6, isakmp.NotifyInvalidIDInformation, err)
	}
	if err := checkID(id); err != nil {
		return notifyErr(6, isakmp.NotifyInvalidIDInformation, err)
	}
	ctx := x.authContext()
	ctx.PeerID = id
	hr := hashR(x.newHash, x.skeyid, x.gxi, x.gxr, x.icky, x.rcky, x.saiB, idB)
	if err := x.cfg.Auth.Verify(ctx, rest, hr); err != nil {
		return authError(6, err)
	}
	if f := x.cfg.AcceptPeerID; f != nil {
		if err := f(x.peer, id); err != nil {
			return notifyErr(6, isakmp.NotifyInvalidIDInformation, fmt.Errorf("identity %s refused: %w", id, err))
		}
	}
	commit()
	x.peerID = id
	if err := x.establish(); err != nil {
		return fmt.Errorf("ikev1: main mode msg 6: %w", err)
	}
	return nil
}
