package gdoi

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/getlab/getlab/gateway/ikev1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// GROUPKEY-PULL (RFC 6407 §3.2), four messages on an established phase-1 SA,
// all encrypted with its keys and an IV chain of their own:
//
//	GM (initiator)                          KS (responder)
//	1  HDR*, HASH(1), Ni, ID          -->
//	2                                 <--   HDR*, HASH(2), Nr, SA
//	3  HDR*, HASH(3) [, GAP]          -->
//	4                                 <--   HDR*, HASH(4), SEQ, KD
//
//	HASH(1) = prf(SKEYID_a, M-ID | Ni | ID)
//	HASH(2) = prf(SKEYID_a, M-ID | Ni_b | Nr | SA)
//	HASH(3) = prf(SKEYID_a, M-ID | Ni_b | Nr_b [| GAP])
//	HASH(4) = prf(SKEYID_a, M-ID | Ni_b | Nr_b | SEQ | KD)
//
// Ni_b and Nr_b are nonce bodies; every other element is the payload with
// its generic header, i.e. the message's octets after the HASH payload
// (protocols.md §1.3, gdoid's group_fill_in_hash).

// NonceLen is the length of the nonces we send (gdoid sends 16).
const NonceLen = 16

// ErrHash is a HASH(n) that does not verify (GM_HASH_FAIL on a GM,
// KS_HASH_FAIL on a KS).
var ErrHash = errors.New("HASH does not verify")

// Reject is a KS's refusal of a registration: the notification the GM is
// sent and the event the KS logs.
type Reject struct {
	Notify isakmp.NotifyType
	Event  string // UNAUTHORIZED_IPADDR, KS_BAD_ID, ...
	Reason string
}

func (r *Reject) Error() string { return r.Reason }

// Responder is the KS side of one GROUPKEY-PULL exchange.
type Responder struct {
	x *ikev1.Exchange
	// Policy is called once message 1 verifies: it returns the group's
	// policy for this GM (keys included), or a *Reject.
	Policy func(group uint32, sa *ikev1.SA) (*Policy, error)
	// Interop is the group's interop profile: the layout of the SA and KD
	// payloads sent. The zero value is InteropRFC. The group (and so its
	// profile) is known only once message 1 is read: Policy may set it.
	Interop Interop

	state     int // messages handled: 0, 1 (sent 2), 2 (sent 4)
	ni, nr    []byte
	group     uint32
	policy    *Policy
	gap       *gdoiwire.GAP
	lastReq   []byte
	lastReply []byte
}

// NewResponder returns the responder for the exchange with message ID id
// on sa.
func NewResponder(sa *ikev1.SA, id uint32, policy func(uint32, *ikev1.SA) (*Policy, error)) *Responder {
	return &Responder{x: sa.Exchange(isakmp.ExchangeGroupkeyPull, id), Policy: policy}
}

// Group is the group ID the GM asked for (after message 1).
func (r *Responder) Group() uint32 { return r.group }

// Done reports whether message 4 was sent; Result returns the policy sent
// and the GAP the GM sent in message 3 (nil if none).
func (r *Responder) Done() bool { return r.state == 2 }

// Result returns the policy sent in message 4 and the GM's GAP.
func (r *Responder) Result() (*Policy, *gdoiwire.GAP) { return r.policy, r.gap }

// Handle takes message 1 or 3 and returns message 2 or 4. A retransmitted
// request gets the cached reply again: Handle keeps pkt and the reply
// without copying them, so the caller hands pkt over and only sends the
// reply. A *Reject error means the KS refuses
// the GM; any other error is a bad message (wrapping ErrHash for a HASH
// that does not verify), dropped without a reply.
func (r *Responder) Handle(pkt []byte) ([]byte, error) {
	if r.lastReq != nil && bytes.Equal(pkt, r.lastReq) {
		return r.lastReply, nil
	}
	var reply []byte
	var err error
	switch r.state {
	case 0:
		reply, err = r.handle1(pkt)
	case 1:
		reply, err = r.handle3(pkt)
	default:
		return nil, errors.New("gdoi: pull: exchange already complete")
	}
	if err != nil {
		return nil, err
	}
	r.state++
	r.lastReq, r.lastReply = pkt, reply // kept, not copied: see Handle
	return reply, nil
}

func (r *Responder) handle1(pkt []byte) ([]byte, error) {
	m, err := openHashed(r.x, pkt, 1)
	if err != nil {
		return nil, err
	}
	ni, ok := isakmp.First[*isakmp.Nonce](m)
	if !ok {
		return nil, &Reject{isakmp.NotifyPayloadMalformed, "KS_BAD_ID", "message 1 has no nonce"}
	}
	id, ok := isakmp.First[*isakmp.ID](m)
	if !ok {
		return nil, &Reject{isakmp.NotifyInvalidIDInformation, "KS_BAD_ID", "message 1 has no group ID"}
	}
	group, err := id.Group()
	if err != nil {
		return nil, &Reject{isakmp.NotifyInvalidIDInformation, "KS_BAD_ID", err.Error()}
	}
	r.ni, r.group = bytes.Clone(ni.Data), group
	policy, err := r.Policy(group, r.x.SA)
	if err != nil {
		return nil, err
	}
	r.policy = policy
	r.nr = make([]byte, NonceLen)
	rand.Read(r.nr)
	return r.seal(r.ni, &isakmp.Nonce{Data: r.nr}, policy.SAPayloadFor(r.interop())), nil
}

func (r *Responder) handle3(pkt []byte) ([]byte, error) {
	m, err := openHashed(r.x, pkt, 3, r.ni, r.nr)
	if err != nil {
		return nil, err
	}
	if gap, ok := isakmp.First[*gdoiwire.GAP](m); ok {
		r.gap = gap
	}
	var ps []isakmp.Payload
	if r.policy.KEK != nil {
		ps = append(ps, &gdoiwire.SEQ{Seq: r.policy.Seq})
	}
	ps = append(ps, r.policy.KDPayloadFor(r.interop(), nil))
	return r.seal(append(bytes.Clone(r.ni), r.nr...), ps...), nil
}

func (r *Responder) interop() Interop {
	if r.Interop.Name == "" {
		return InteropRFC
	}
	return r.Interop
}

// seal builds HDR*, HASH, ps... with HASH = prf(SKEYID_a, M-ID | prefix |
// ps).
func (r *Responder) seal(prefix []byte, ps ...isakmp.Payload) []byte {
	return sealHashed(r.x, prefix, ps...)
}

func sealHashed(x *ikev1.Exchange, prefix []byte, ps ...isakmp.Payload) []byte {
	// One buffer for the whole message: the payloads after room for the
	// ISAKMP header and the largest HASH payload, then the HASH payload
	// just before them once it is known, the header before that, and the
	// encryption in place.
	const room = isakmp.HeaderLen + 4 + sha512.Size
	buf := isakmp.AppendPayloads(make([]byte, room, sealBuffer), ps...)
	after := buf[room:]
	h := &isakmp.Hash{Data: x.SA.HashA(x.MessageIDBytes(), prefix, after)}
	next := isakmp.PayloadNone
	if len(ps) > 0 {
		next = ps[0].Type()
	}
	start := room - 4 - len(h.Data)
	if start < isakmp.HeaderLen { // a hash larger than SHA-512's: not a phase-1 hash
		return x.Seal(isakmp.PayloadHash, append(isakmp.AppendPayload(nil, next, h), after...))
	}
	isakmp.AppendPayload(buf[start:start], next, h)
	return x.SealInPlace(isakmp.PayloadHash, buf, start)
}

// sealBuffer is what sealHashed allocates first: PULL message 2 fits, and
// message 4 with a KEK and one TEK, padding included (larger ones grow it
// once).
const sealBuffer = 768

// Initiator is the GM side of one GROUPKEY-PULL exchange.
type Initiator struct {
	x     *ikev1.Exchange
	group uint32
	// Wire is the group's wire profile: how the KEY_ID carries the group
	// number and how SAT selectors read (gdoiwire.Profile.KeyIDHostOrder,
	// SATAddrHostOrder). Set it before Start.
	Wire gdoiwire.Profile
	// GAP, when set, is sent in message 3 (SENDER_ID_REQUEST).
	GAP *gdoiwire.GAP

	state    int // 0 before Start, 1 sent 1, 2 sent 3, 3 done
	ni, nr   []byte
	sa       *gdoiwire.SA
	lastSent []byte
	policy   *Policy
}

// NewInitiator starts a GROUPKEY-PULL for group on sa with a fresh message
// ID.
func NewInitiator(sa *ikev1.SA, group uint32) *Initiator {
	return &Initiator{x: sa.NewExchange(isakmp.ExchangeGroupkeyPull), group: group}
}

// MessageID is the exchange's message ID.
func (i *Initiator) MessageID() uint32 { return i.x.MessageID }

// LastSent is the last message sent (for retransmission).
func (i *Initiator) LastSent() []byte { return i.lastSent }

// Policy is the policy received, once message 4 verified.
func (i *Initiator) Policy() *Policy { return i.policy }

// Start returns message 1.
func (i *Initiator) Start() []byte {
	i.ni = make([]byte, NonceLen)
	rand.Read(i.ni)
	i.lastSent = sealHashed(i.x, nil, &isakmp.Nonce{Data: i.ni}, isakmp.NewGroupID(i.Wire.KeyIDWire(i.group)))
	i.state = 1
	return i.lastSent
}

// Handle takes message 2 (returning message 3) or message 4 (returning nil
// and making Policy available). Errors wrap ErrHash or ErrPolicy where they
// apply.
func (i *Initiator) Handle(pkt []byte) ([]byte, error) {
	switch i.state {
	case 1:
		return i.message2(pkt)
	case 2:
		return nil, i.message4(pkt)
	}
	return nil, fmt.Errorf("gdoi: pull: unexpected message in state %d", i.state)
}

// message2 takes the KS's nonce and the group's SA and answers with
// message 3 (and the GAP, if any).
func (i *Initiator) message2(pkt []byte) ([]byte, error) {
	m, err := openHashed(i.x, pkt, 2, i.ni)
	if err != nil {
		return nil, err
	}
	nr, nrErr := required[*isakmp.Nonce](m, 2, "nonce")
	sa, saErr := required[*gdoiwire.SA](m, 2, "SA payload")
	if err := errors.Join(nrErr, saErr); err != nil {
		return nil, err
	}
	i.nr, i.sa = bytes.Clone(nr.Data), sa
	var ps []isakmp.Payload
	if i.GAP != nil {
		ps = append(ps, i.GAP)
	}
	i.lastSent = sealHashed(i.x, append(bytes.Clone(i.ni), i.nr...), ps...)
	i.state = 2
	return i.lastSent, nil
}

// message4 takes the keys (KD) and sequence number and makes the policy.
func (i *Initiator) message4(pkt []byte) error {
	m, err := openHashed(i.x, pkt, 4, i.ni, i.nr)
	if err != nil {
		return err
	}
	kd, err := required[*gdoiwire.KD](m, 4, "KD payload")
	if err != nil {
		return err
	}
	seq, _ := isakmp.First[*gdoiwire.SEQ](m)
	p, err := ParsePolicyWith(i.group, i.sa, kd, seq, ParseOptions{Wire: i.Wire})
	if err != nil {
		return fmt.Errorf("gdoi: pull msg 4: %w", err)
	}
	i.policy, i.state = p, 3
	return nil
}

// required is m's first payload of type T; a message n without one is an
// error naming what it lacks.
func required[T isakmp.Payload](m *isakmp.Message, n int, what string) (T, error) {
	v, ok := isakmp.First[T](m)
	if !ok {
		return v, fmt.Errorf("gdoi: pull msg %d: no %s", n, what)
	}
	return v, nil
}

// dec decodes GDOI payloads in the RFC form, accepting the other
// implementations' forms (the wire decoder tries them).
var dec = gdoiwire.Decoder{}

// openHashed decrypts GROUPKEY-PULL message n on exchange x and checks
// its HASH(n) = prf(SKEYID_a, M-ID | nonces | the payloads after HASH),
// the nonces being none (message 1), Ni (2) or Ni and Nr (3, 4) (RFC 6407
// §3.2). A HASH that does not verify wraps ErrHash.
func openHashed(x *ikev1.Exchange, pkt []byte, n int, nonces ...[]byte) (*isakmp.Message, error) {
	m, chain, err := x.OpenChain(pkt, dec)
	if err != nil {
		return nil, fmt.Errorf("gdoi: pull msg %d: %w", n, err)
	}
	hash, after, err := splitHash(m, chain)
	if err != nil {
		return nil, fmt.Errorf("gdoi: pull msg %d: %w", n, err)
	}
	parts := append(append([][]byte{x.MessageIDBytes()}, nonces...), after)
	if !hmac.Equal(hash, x.SA.HashA(parts...)) {
		return nil, fmt.Errorf("gdoi: pull msg %d: HASH(%d): %w", n, n, ErrHash)
	}
	return m, nil
}

// splitHash returns the HASH payload, which must come first, and the
// octets of the payloads after it in chain, the message's payload chain as
// received: what the hash covers, whatever another encoder would make of
// the decoded payloads.
func splitHash(m *isakmp.Message, chain []byte) ([]byte, []byte, error) {
	if len(m.Payloads) == 0 {
		return nil, nil, errors.New("empty message")
	}
	h, ok := m.Payloads[0].(*isakmp.Hash)
	if !ok {
		return nil, nil, fmt.Errorf("first payload is %s, not HASH: %w", m.Payloads[0].Type(), ErrHash)
	}
	start := 4 + len(h.Data) // the HASH payload: generic header and data
	if start > len(chain) {
		return nil, nil, fmt.Errorf("payload chain shorter than its HASH: %w", ErrHash)
	}
	return h.Data, chain[start:], nil
}
