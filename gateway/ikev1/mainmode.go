package ikev1

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	daemonconfig "github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Main mode (identity protection, RFC 2409 §5) as GDOI's phase 1:
//
//	1 I→R  HDR, SA [, VID]
//	2 R→I  HDR, SA [, VID]
//	3 I→R  HDR, KE, Ni
//	4 R→I  HDR, KE, Nr
//	5 I→R  HDR*, IDii, HASH_I
//	6 R→I  HDR*, IDir, HASH_R
//
// This file holds what both ends share; initiator.go and responder.go the
// two state machines.

// Config configures either end of main mode. It is read, never written, so
// one Config may serve many exchanges at once.
type Config struct {
	// Suites are, for an initiator, the transforms proposed, in order; for
	// a responder, the acceptable ones.
	Suites []Suite
	// AllowWeakDH lets groups 2 and 5 (MODP 1024/1536) be proposed and
	// accepted.
	AllowWeakDH bool
	// Auth authenticates: its Method must be the suites' Auth.
	Auth Authenticator
	// UpdateKeys replaces the pre-shared keys Auth uses (FromConfig sets
	// it; nil where the keys cannot change).
	UpdateKeys func([]daemonconfig.PSK)
	// LocalID is the identity sent in message 5 or 6; nil sends the local
	// address (ID_IPV4_ADDR or ID_IPV6_ADDR).
	LocalID *isakmp.ID
	// DOI is the SA payload's DOI an initiator sends: isakmp.DOIGDOI
	// (RFC 6407 §2.1), the default when zero, or isakmp.DOIIPsec. A
	// responder accepts either and answers with the initiator's.
	DOI uint32
	// Rand is the source of cookies, nonces, DH private values and message
	// IDs; nil is crypto/rand. A Config shared by concurrent exchanges
	// needs a Rand that is safe for concurrent use.
	Rand io.Reader
	// Now is the clock of SA.Established, the caller's (a role's
	// clock.Clock); nil is the system's wall clock.
	Now func() time.Time
	// NonceLen is the nonce length in octets, 8 to 256 (RFC 2409 §5);
	// zero is 16.
	NonceLen int
	// DPD announces RFC 3706 dead peer detection: the DPD vendor ID in
	// message 1 (initiator) or 2 (responder).
	DPD bool
	// VendorIDs are further vendor IDs sent in message 3 (initiator) or 4
	// (responder): the GDOI version (gateway/wire/gdoi VersionVID).
	VendorIDs [][]byte
	// AcceptPeerID, if set, authorises the peer's identity from message 5
	// or 6 once HASH_I/HASH_R has verified it; an error fails main mode
	// with INVALID-ID-INFORMATION. Nil accepts every well-formed identity.
	AcceptPeerID func(peer netip.AddrPort, id *isakmp.ID) error
	// OnDH, if set, is called by a responder each time it computes a
	// Diffie-Hellman key pair and shared secret (message 3): daemons count
	// the expensive step with it. It may be called concurrently.
	OnDH func()
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return clock.Clock{}.Now()
}

func (c *Config) doi() uint32 {
	if c.DOI == 0 {
		return isakmp.DOIGDOI
	}
	return c.DOI
}

func (c *Config) nonceLen() int {
	if c.NonceLen == 0 {
		return 16
	}
	return c.NonceLen
}

// check reports a configuration main mode cannot run with. initiator
// additionally requires every suite to be usable (a responder just never
// chooses the others).
func (c *Config) check(initiator bool) error {
	if c == nil {
		return errors.New("ikev1: nil config")
	}
	if c.Auth == nil {
		return errors.New("ikev1: config has no authenticator")
	}
	if n := c.nonceLen(); n < 8 || n > 256 {
		return fmt.Errorf("ikev1: nonce length %d outside 8..256", n)
	}
	if d := c.doi(); d != isakmp.DOIGDOI && d != isakmp.DOIIPsec {
		return fmt.Errorf("ikev1: DOI %d, want %d (GDOI) or %d (IPsec)", d, isakmp.DOIGDOI, isakmp.DOIIPsec)
	}
	if len(c.Suites) == 0 {
		return errors.New("ikev1: config has no suites")
	}
	if !initiator {
		return nil
	}
	if len(c.Suites) > 255 {
		return fmt.Errorf("ikev1: %d suites do not fit one proposal", len(c.Suites))
	}
	for i, s := range c.Suites {
		if err := s.check(c.AllowWeakDH); err != nil {
			return fmt.Errorf("ikev1: suite %d (%s): %w", i+1, s, err)
		}
		if s.Auth != c.Auth.Method() {
			return fmt.Errorf("ikev1: suite %d (%s): auth method %d, authenticator does %d", i+1, s, s.Auth, c.Auth.Method())
		}
	}
	return nil
}

// situation is the SA payload's situation for a DOI: SIT_IDENTITY_ONLY in
// the IPsec DOI (RFC 2407 §4.2), 0 in GDOI's phase 1.
func situation(doi uint32) uint32 {
	if doi == isakmp.DOIIPsec {
		return isakmp.SitIdentityOnly
	}
	return 0
}

// exchange is the state both ends of main mode keep.
type exchange struct {
	cfg         *Config
	initiator   bool
	local, peer netip.AddrPort
	icky, rcky  [8]byte
	doi         uint32
	// saiB is the body of the initiator's message-1 SA payload, which
	// HASH_I and HASH_R cover.
	saiB    []byte
	suite   Suite
	newHash func() hash.Hash
	dh      *DHKey
	gxi     []byte
	gxr     []byte
	ni, nr  []byte

	skeyid, skeyidD, skeyidA, skeyidE, encKey []byte
	block                                     cipher.Block
	// iv is the CBC IV of the next encrypted message.
	iv []byte

	localID, peerID *isakmp.ID
	peerDPD         bool
	// peerVIDs are the vendor IDs of the peer's message 3 or 4.
	peerVIDs [][]byte

	// lastRecv and lastSent are the last message that moved the exchange
	// on and the reply to it: a retransmission of the first gets the
	// second again.
	lastRecv, lastSent []byte
	// earlier are the messages that moved the exchange on before
	// lastRecv: a late copy of one (the peer retransmitted it, or the
	// network duplicated or delayed it, past the answer to it) is ignored
	// rather than read as the next message, which would fail the
	// exchange.
	earlier [][]byte
	auth    AuthContext // authContext's
	sa      *SA
}

func newExchange(cfg *Config, initiator bool, local, peer netip.AddrPort) exchange {
	x := exchange{cfg: cfg, initiator: initiator, local: local, peer: peer}
	if cfg != nil {
		x.localID = cfg.LocalID
		x.doi = cfg.doi()
	}
	if x.localID == nil && local.Addr().IsValid() {
		x.localID = isakmp.NewAddrID(local.Addr().Unmap())
	}
	return x
}

func (x *exchange) cookies() [16]byte { return isakmp.JoinCookies(x.icky, x.rcky) }

// plain builds a plaintext main mode message.
func (x *exchange) plain(ps ...isakmp.Payload) []byte {
	m := &isakmp.Message{
		Header:   isakmp.Header{ICookie: x.icky, RCookie: x.rcky, Exchange: isakmp.ExchangeMainMode},
		Payloads: ps,
	}
	return m.Append(nil)
}

// seal builds an encrypted main mode message (5 or 6) and moves the IV on.
func (x *exchange) seal(ps ...isakmp.Payload) []byte {
	h := isakmp.Header{
		ICookie: x.icky, RCookie: x.rcky, NextPayload: ps[0].Type(),
		Exchange: isakmp.ExchangeMainMode, Flags: isakmp.FlagEncryption,
	}
	return sealCBC(x.block, h, &x.iv, isakmp.AppendPayloads(nil, ps...))
}

// open decrypts message 5 or 6. The IV moves on only if commit is called,
// so that a forged or garbled message leaves the exchange as it was.
func (x *exchange) open(pkt []byte) (m *isakmp.Message, pt []byte, commit func(), err error) {
	iv := bytes.Clone(x.iv)
	m, pt, err = openCBC(x.block, pkt, &iv, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, pt, func() { x.iv = iv }, nil
}

// received records pkt as the message that moved the exchange on.
func (x *exchange) received(pkt []byte) {
	if x.lastRecv != nil {
		x.earlier = append(x.earlier, x.lastRecv)
	}
	x.lastRecv = pkt
}

// stale reports whether pkt is a copy of a message that moved the exchange
// on before the last one.
func (x *exchange) stale(pkt []byte) bool {
	for _, e := range x.earlier {
		if bytes.Equal(pkt, e) {
			return true
		}
	}
	return false
}

// authContext is what the authenticator is told of the exchange: the
// exchange's own, brought up to date (an authenticator keeps nothing of
// it past the call; one allocated per call made five per registration).
func (x *exchange) authContext() *AuthContext {
	x.auth = AuthContext{
		Initiator: x.initiator, Local: x.local, Peer: x.peer,
		Suite: x.suite, NewHash: x.newHash, LocalID: x.localID, PeerID: x.peerID,
	}
	return &x.auth
}

// keys is the result of the key derivation after messages 3 and 4.
type keys struct {
	skeyid, d, a, e, enc, iv []byte
	block                    cipher.Block
}

// deriveKeys computes SKEYID (through the authenticator), its derivations,
// the encryption key and the message-5 IV. Nothing is stored: the caller
// commits the result once the whole message has been processed.
func (x *exchange) deriveKeys(gxi, gxr, gxy, ni, nr []byte) (*keys, error) {
	skeyid, err := x.cfg.Auth.SKEYID(x.authContext(), ni, nr, gxy)
	if err != nil {
		return nil, err
	}
	k := &keys{skeyid: skeyid}
	k.d, k.a, k.e = deriveSKEYIDs(x.newHash, skeyid, gxy, x.icky, x.rcky)
	k.enc = encryptionKey(x.newHash, k.e, x.suite.KeyLen())
	if k.block, err = x.suite.NewBlock(k.enc); err != nil {
		return nil, err
	}
	k.iv = phase1IV(x.newHash, gxi, gxr, k.block.BlockSize())
	return k, nil
}

func (x *exchange) commitKeys(k *keys) {
	x.skeyid, x.skeyidD, x.skeyidA, x.skeyidE, x.encKey = k.skeyid, k.d, k.a, k.e, k.enc
	x.block, x.iv = k.block, k.iv
}

// establish builds the SA once message 6 is sent or verified; x.iv is then
// the last CBC block of message 6.
func (x *exchange) establish() error {
	sa := &SA{
		ICookie: x.icky, RCookie: x.rcky, Initiator: x.initiator, Suite: x.suite,
		SKEYID: x.skeyid, SKEYIDd: x.skeyidD, SKEYIDa: x.skeyidA, SKEYIDe: x.skeyidE,
		EncKey: x.encKey, LastIV: bytes.Clone(x.iv),
		Local: x.local, Peer: x.peer, LocalID: x.localID, PeerID: x.peerID,
		Established: x.cfg.now(), DOI: x.doi, PeerDPD: x.peerDPD, PeerVendorIDs: x.peerVIDs,
	}
	if err := sa.initWith(x.block); err != nil { // the cipher of messages 5 and 6, keyed with EncKey
		return err
	}
	x.sa = sa
	// The DH private value is no longer needed.
	x.dh = nil
	return nil
}

// newNonce reads a nonce of the configured length.
func (x *exchange) newNonce() ([]byte, error) {
	n := make([]byte, x.cfg.nonceLen())
	if _, err := io.ReadFull(x.cfg.rand(), n); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return n, nil
}

// keNonce parses message 3 or 4 (number n) and returns its KE and Nonce
// payloads, checked; a message that does not parse, is encrypted or lacks
// either is PAYLOAD-MALFORMED.
func keNonce(n int, pkt []byte) (ke, nonce []byte, vids [][]byte, nerr *NotifyError) {
	m, err := isakmp.ParseMessage(pkt, nil)
	if err == nil && m.Encrypted != nil {
		err = errors.New("encrypted")
	}
	if err == nil {
		ke, nonce, err = keNonceOf(m)
	}
	if err != nil {
		return nil, nil, nil, notifyErr(n, isakmp.NotifyPayloadMalformed, err)
	}
	return ke, nonce, vendorIDs(m.Payloads), nil
}

// Bounds on the vendor IDs of messages 3 and 4 an SA keeps (the peer's
// GDOI version travels there): more, or longer, are not kept.
const (
	maxVendorIDs   = 8
	maxVendorIDLen = 512
)

// vendorIDs are the Vendor ID payloads' data, within the bounds.
func vendorIDs(ps []isakmp.Payload) [][]byte {
	var out [][]byte
	for _, p := range ps {
		if v, ok := p.(*isakmp.VendorID); ok && len(v.Data) <= maxVendorIDLen && len(out) < maxVendorIDs {
			out = append(out, bytes.Clone(v.Data))
		}
	}
	return out
}

// withVendorIDs appends the configured vendor IDs of messages 3 and 4.
func (x *exchange) withVendorIDs(ps ...isakmp.Payload) []isakmp.Payload {
	for _, v := range x.cfg.VendorIDs {
		ps = append(ps, &isakmp.VendorID{Data: v})
	}
	return ps
}

func keNonceOf(m *isakmp.Message) (ke, nonce []byte, err error) {
	pk, ok := m.Get(isakmp.PayloadKE)
	if !ok {
		return nil, nil, errors.New("no KE payload")
	}
	pn, ok := m.Get(isakmp.PayloadNonce)
	if !ok {
		return nil, nil, errors.New("no NONCE payload")
	}
	nonce = pn.(*isakmp.Nonce).Data
	// RFC 2409 §5: nonces are 8 to 256 octets.
	if len(nonce) < 8 || len(nonce) > 256 {
		return nil, nil, fmt.Errorf("nonce of %d octets, want 8..256", len(nonce))
	}
	return pk.(*isakmp.KE).Data, nonce, nil
}

// hasDPD reports whether the payloads carry the RFC 3706 vendor ID.
func hasDPD(ps []isakmp.Payload) bool {
	for _, p := range ps {
		if v, ok := p.(*isakmp.VendorID); ok && bytes.Equal(v.Data, DPDVendorID[:]) {
			return true
		}
	}
	return false
}

// idAndRest returns the first ID payload of an authenticated message (5 or
// 6), its raw body (IDii_b or IDir_b) and the payloads after it, which the
// authenticator checks.
func idAndRest(m *isakmp.Message, pt []byte) (*isakmp.ID, []byte, []isakmp.Payload, error) {
	for i, p := range m.Payloads {
		id, ok := p.(*isakmp.ID)
		if !ok {
			continue
		}
		raw := rawPayload(m.Header.NextPayload, pt, i)
		if raw == nil {
			raw = id.Append(nil)
		}
		return id, raw, m.Payloads[i+1:], nil
	}
	return nil, nil, nil, errors.New("no ID payload")
}

// rawPayload returns the body of payload number idx (from 0) of the chain
// starting with first in body, as its octets were received: the hashes
// cover those, not a re-encoding. body must already have parsed; nil means
// it could not be found.
func rawPayload(first isakmp.PayloadType, body []byte, idx int) []byte {
	off := 0
	for i, next := 0, first; next != isakmp.PayloadNone; i++ {
		if len(body)-off < 4 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(body[off+2:]))
		if n < 4 || n > len(body)-off {
			return nil
		}
		if i == idx {
			return bytes.Clone(body[off+4 : off+n])
		}
		next = isakmp.PayloadType(body[off])
		off += n
	}
	return nil
}

// checkID reports an identity main mode cannot use: phase 1 identifies one
// host or name, so address types need well-formed addresses and the other
// name types some data; subnets and ranges are refused.
func checkID(id *isakmp.ID) error {
	switch id.IDType {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		if _, err := id.Addr(); err != nil {
			return err
		}
	case isakmp.IDFQDN, isakmp.IDUserFQDN, isakmp.IDKeyID, isakmp.IDDERASN1DN, isakmp.IDDERASN1GN:
		if len(id.Data) == 0 {
			return fmt.Errorf("%s with no data", id.IDType)
		}
	default:
		return fmt.Errorf("%s is not a phase-1 identity", id.IDType)
	}
	return nil
}

// authError turns an authenticator's error into the NotifyError to report
// for message n: its own type if it chose one, else AUTHENTICATION-FAILED.
func authError(n int, err error) *NotifyError {
	var ne *NotifyError
	if errors.As(err, &ne) {
		return &NotifyError{Type: ne.Type, Reason: fmt.Sprintf("main mode msg %d: %s", n, ne.Reason), Err: err}
	}
	return &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: fmt.Sprintf("main mode msg %d: %v", n, err), Err: err}
}

// notifyErr builds a NotifyError for message n.
func notifyErr(n int, t isakmp.NotifyType, err error) *NotifyError {
	return &NotifyError{Type: t, Reason: fmt.Sprintf("main mode msg %d: %v", n, err), Err: err}
}

// peerNotify turns a plaintext Informational from the peer into the
// NotifyError a daemon logs, or nil if pkt is not one.
func peerNotify(n int, pkt []byte) *NotifyError {
	nt, ok := ParseNotify(pkt)
	if !ok {
		return nil
	}
	return &NotifyError{Type: nt.MessageType, Reason: fmt.Sprintf("main mode msg %d", n), FromPeer: true}
}
