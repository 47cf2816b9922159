package ikev1

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/internal/cbc"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// SA is an established phase-1 (ISAKMP) security association: what main mode
// leaves behind for GROUPKEY-PULL and Informational exchanges to use.
type SA struct {
	ICookie, RCookie [8]byte
	// Initiator is true on the side that sent main mode message 1.
	Initiator bool
	Suite     Suite
	// SKEYID and its derivations (RFC 2409 §5).
	SKEYID, SKEYIDd, SKEYIDa, SKEYIDe []byte
	// EncKey is the phase-1 encryption key (SKEYID_e expanded as in RFC 2409
	// appendix B, truncated to the key length).
	EncKey []byte
	// LastIV is the last CBC block of the main mode exchange: the base from
	// which every phase-2 exchange's first IV is hashed with its message ID.
	LastIV []byte
	// Local and Peer are the UDP endpoints of the exchange.
	Local, Peer netip.AddrPort
	// LocalID and PeerID are the identities exchanged in messages 5 and 6.
	LocalID, PeerID *isakmp.ID
	// Established is when main mode completed (wall clock).
	Established time.Time
	// DOI is the phase-1 SA payload's DOI (isakmp.DOIGDOI or DOIIPsec):
	// the DOI of the SA's notifications and deletes.
	DOI uint32
	// PeerDPD is true when the peer announced RFC 3706 dead peer detection
	// (the DPD vendor ID) in main mode.
	PeerDPD bool
	// PeerVendorIDs are the vendor IDs of the peer's message 3 or 4 (its
	// GDOI version among them), bounded in number and length.
	PeerVendorIDs [][]byte

	newHash func() hash.Hash
	block   cipher.Block
}

// Init prepares the SA's hash and cipher after its fields are set; main mode
// calls it, and so must anything building an SA by hand (tests, key logs).
func (sa *SA) Init() error { return sa.initWith(nil) }

// initWith is Init with the cipher main mode keyed already (nil: keyed
// here from EncKey).
func (sa *SA) initWith(b cipher.Block) error {
	h, err := sa.Suite.NewHash()
	if err != nil {
		return err
	}
	if len(sa.EncKey) != sa.Suite.KeyLen() {
		return fmt.Errorf("ikev1: encryption key is %d octets, %s needs %d", len(sa.EncKey), sa.Suite.EncName(), sa.Suite.KeyLen())
	}
	if b == nil {
		if b, err = sa.Suite.NewBlock(sa.EncKey); err != nil {
			return err
		}
	}
	if len(sa.LastIV) != b.BlockSize() {
		return fmt.Errorf("ikev1: phase-1 IV is %d octets, want %d", len(sa.LastIV), b.BlockSize())
	}
	sa.newHash, sa.block = h, b
	return nil
}

// Cookies returns CKY-I | CKY-R.
func (sa *SA) Cookies() [16]byte { return isakmp.JoinCookies(sa.ICookie, sa.RCookie) }

// HashA computes prf(SKEYID_a, data...): the HASH(n) of GROUPKEY-PULL and of
// Informational exchanges (RFC 2409 §5.5, §5.7; RFC 6407 §3.2).
func (sa *SA) HashA(data ...[]byte) []byte {
	return PRF(sa.newHash, sa.SKEYIDa, data...)
}

// NewHash returns the SA's hash constructor.
func (sa *SA) NewHash() func() hash.Hash { return sa.newHash }

// Expired reports whether the SA's lifetime (in wall-clock time, the caller
// scaling it) has run out at now.
func (sa *SA) Expired(now time.Time, lifetime time.Duration) bool {
	return lifetime > 0 && now.Sub(sa.Established) >= lifetime
}

// Exchange is one phase-2 exchange (GROUPKEY-PULL, Informational) on an SA:
// its message ID and the CBC IV chain it keeps (RFC 2409 appendix B).
type Exchange struct {
	SA        *SA
	Type      isakmp.ExchangeType
	MessageID uint32
	iv        []byte
}

// NewExchange starts a phase-2 exchange with a fresh random non-zero message
// ID (the initiator's side).
func (sa *SA) NewExchange(t isakmp.ExchangeType) *Exchange {
	var id uint32
	for id == 0 {
		var b [4]byte
		rand.Read(b[:])
		id = binary.BigEndian.Uint32(b[:])
	}
	return sa.Exchange(t, id)
}

// Exchange returns the phase-2 exchange with message ID id (the responder's
// side, or the initiator's when it chose id), its IV at the start:
// hash(last phase-1 block | M-ID) truncated to the block size.
func (sa *SA) Exchange(t isakmp.ExchangeType, id uint32) *Exchange {
	d := sa.newHash()
	d.Write(sa.LastIV)
	var mid [4]byte
	binary.BigEndian.PutUint32(mid[:], id)
	d.Write(mid[:])
	return &Exchange{SA: sa, Type: t, MessageID: id, iv: d.Sum(nil)[:sa.block.BlockSize()]}
}

// MessageIDBytes returns the message ID as the 4 octets the hashes cover.
func (x *Exchange) MessageIDBytes() []byte {
	return binary.BigEndian.AppendUint32(nil, x.MessageID)
}

// IV returns the IV the next message of the exchange is encrypted (or
// decrypted) with.
func (x *Exchange) IV() []byte { return bytes.Clone(x.iv) }

// Seal builds the encrypted message: header (E flag, the exchange's type and
// message ID) followed by body (the plaintext payload chain starting with
// first) zero-padded to the block size and CBC-encrypted. The IV chain moves
// on to the last ciphertext block.
func (x *Exchange) Seal(first isakmp.PayloadType, body []byte) []byte {
	return sealCBC(x.SA.block, x.header(first), &x.iv, body)
}

// SealInPlace is Seal for a body already in buf[start:] with room for the
// ISAKMP header before it (start ≥ isakmp.HeaderLen): the message is made
// in buf's array (a copy saved per message), which it returns a part of.
func (x *Exchange) SealInPlace(first isakmp.PayloadType, buf []byte, start int) []byte {
	if start < isakmp.HeaderLen {
		return x.Seal(first, buf[start:])
	}
	return sealCBCInPlace(x.SA.block, x.header(first), &x.iv, buf, start)
}

func (x *Exchange) header(first isakmp.PayloadType) isakmp.Header {
	return isakmp.Header{
		ICookie: x.SA.ICookie, RCookie: x.SA.RCookie, NextPayload: first,
		Exchange: x.Type, Flags: isakmp.FlagEncryption, MessageID: x.MessageID,
	}
}

// Open decrypts and decodes an encrypted message of the exchange with dec.
// The IV chain moves on only when the message decodes: a garbled message
// (wrong keys, a bit flip) leaves the exchange as it was.
func (x *Exchange) Open(pkt []byte, dec isakmp.Decoder) (*isakmp.Message, error) {
	m, _, err := x.OpenChain(pkt, dec)
	return m, err
}

// OpenChain is Open that also returns the payload chain as received
// (decrypted, padding removed): the octets a HASH(n) covers, without
// encoding the decoded payloads again.
func (x *Exchange) OpenChain(pkt []byte, dec isakmp.Decoder) (*isakmp.Message, []byte, error) {
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, nil, err
	}
	if h.MessageID != x.MessageID {
		return nil, nil, fmt.Errorf("ikev1: message ID %#08x, exchange has %#08x", h.MessageID, x.MessageID)
	}
	m, pt, err := openCBC(x.SA.block, pkt, &x.iv, dec)
	if err != nil {
		return nil, nil, err
	}
	if len(m.Padding) > len(pt) {
		return nil, nil, errors.New("ikev1: padding longer than the decrypted body")
	}
	return m, pt[:len(pt)-len(m.Padding)], nil
}

// ErrNotEncrypted is returned by Open for a message without the E flag.
var ErrNotEncrypted = errors.New("ikev1: message is not encrypted")

// sealCBC encrypts body under block in CBC mode from *iv, zero-padded to the
// block size, after header h with its Length set to the padded message, and
// moves *iv on to the last ciphertext block.
func sealCBC(block cipher.Block, h isakmp.Header, iv *[]byte, body []byte) []byte {
	buf := make([]byte, isakmp.HeaderLen, isakmp.HeaderLen+len(body)+block.BlockSize())
	return sealCBCInPlace(block, h, iv, append(buf, body...), isakmp.HeaderLen)
}

// sealCBCInPlace is sealCBC for a body already in buf[start:], with room
// for the header before it (start ≥ isakmp.HeaderLen): the message is
// made in buf's array, without a copy when its capacity holds the padding.
func sealCBCInPlace(block cipher.Block, h isakmp.Header, iv *[]byte, buf []byte, start int) []byte {
	bs := block.BlockSize()
	body := len(buf) - start
	padded := body
	if r := padded % bs; r != 0 || padded == 0 {
		padded += bs - r
	}
	for range padded - body {
		buf = append(buf, 0)
	}
	h.Length = uint32(isakmp.HeaderLen + padded)
	out := buf[start-isakmp.HeaderLen:]
	h.Append(out[:0])
	cbc.Encrypt(block, *iv, out[isakmp.HeaderLen:])
	*iv = bytes.Clone(out[len(out)-bs:])
	return out
}

// openCBC decrypts an encrypted message under block from *iv and decodes it
// with dec. It returns the message and the decrypted body (payloads and
// padding), whose raw octets the hashes cover, and moves *iv on to the last
// ciphertext block only when the message decodes.
func openCBC(block cipher.Block, pkt []byte, iv *[]byte, dec isakmp.Decoder) (*isakmp.Message, []byte, error) {
	h, n, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, nil, err
	}
	if h.Flags&isakmp.FlagEncryption == 0 {
		return nil, nil, ErrNotEncrypted
	}
	end := int(h.Length)
	if end > len(pkt) || end < n {
		return nil, nil, fmt.Errorf("ikev1: header length %d, datagram %d", h.Length, len(pkt))
	}
	ct := pkt[n:end]
	bs := block.BlockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, nil, fmt.Errorf("ikev1: encrypted body of %d octets is not a multiple of the %d-octet block", len(ct), bs)
	}
	pt := make([]byte, len(ct))
	cbc.Decrypt(block, *iv, pt, ct)
	m, err := isakmp.ParseBody(h, pt, dec)
	if err != nil {
		return nil, nil, fmt.Errorf("ikev1: decrypted message does not parse (wrong keys?): %w", err)
	}
	*iv = bytes.Clone(ct[len(ct)-bs:])
	return m, pt, nil
}
