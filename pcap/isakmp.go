package pcap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"

	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// ISAKMPInfo is an ISAKMP message (IKEv1 phase 1, GROUPKEY-PULL,
// GROUPKEY-PUSH, Informational) as decoded from a capture.
type ISAKMPInfo struct {
	Exchange  string `json:"exchange"` // "GROUPKEY-PULL", "Identity Protection (Main Mode)", ...
	Type      uint8  `json:"exchange_type"`
	MessageID uint32 `json:"message_id"`
	ICookie   string `json:"icookie"`
	RCookie   string `json:"rcookie"`
	Flags     string `json:"flags"`
	Encrypted bool   `json:"encrypted"` // the E flag
	Decrypted bool   `json:"decrypted"` // the body was decrypted with the key log
	// Message is the position in its exchange, from 1 (main mode 1..6,
	// GROUPKEY-PULL 1..4). A retransmission, or the same message seen on
	// another link, has the position of its first copy and Repeat set.
	Message int  `json:"message"`
	Repeat  bool `json:"repeat,omitempty"`
	// Layout lists the payloads in wire order, nested ones in parentheses:
	// "HASH,NONCE,SA(SAK,GAP,SAT)". Empty when the body could not be read.
	Layout string `json:"layout,omitempty"`
	// Payloads are the top-level payload types in wire order.
	Payloads []uint8 `json:"payloads,omitempty"`
	// SEQ is the value of a SEQ payload, if the message has one.
	SEQ *uint32 `json:"seq,omitempty"`
	// ANN is a decrypted cooperative key server announcement's ANN
	// payload (gateway/wire/coop), Members the number of members its
	// MEMBERS payload lists.
	ANN     *coopwire.ANN `json:"ann,omitempty"`
	Members int           `json:"members,omitempty"`
	// GDOIVersion and GDOIFeatures are what a GDOI version vendor ID
	// (main mode messages 3 and 4, gateway/wire/gdoi VersionVID) carries.
	GDOIVersion  string   `json:"gdoi_version,omitempty"`
	GDOIFeatures []string `json:"gdoi_features,omitempty"`
	// DecryptError says why a message whose keys are in the log did not
	// decrypt to a valid payload chain.
	DecryptError string `json:"decrypt_error,omitempty"`

	// Msg is the decoded message (payloads, or Encrypted when unread).
	Msg *isakmp.Message `json:"-"`
}

// String is the ISAKMP part of a packet's summary line.
func (i *ISAKMPInfo) String() string {
	s := fmt.Sprintf("%s #%d id=0x%08x", i.Exchange, i.Message, i.MessageID)
	if i.Repeat {
		s += " (repeat)"
	}
	switch {
	case i.Layout != "":
		if i.Decrypted {
			s += " [decrypted]"
		}
		s += " " + i.Layout
	case i.Encrypted:
		s += " <encrypted>"
	}
	if i.SEQ != nil {
		s += fmt.Sprintf(" seq=%d", *i.SEQ)
	}
	if i.GDOIVersion != "" {
		s += " gdoi=" + i.GDOIVersion
		if len(i.GDOIFeatures) > 0 {
			s += "[" + strings.Join(i.GDOIFeatures, ",") + "]"
		}
	}
	if i.DecryptError != "" {
		s += " NOT DECRYPTED: " + i.DecryptError
	}
	return s
}

// ikeState follows ISAKMP exchanges across a capture: message positions and
// the CBC IV chains that decryption needs.
type ikeState struct {
	keys *KeyLog
	// positions of messages already seen, by exchange and message bytes
	seen map[string]int
	next map[string]int // next position per exchange
	// phase 1: KE payloads seen per initiator cookie (for the main-mode IV)
	ke map[[8]byte][2][]byte
	// lastBlock is the last ciphertext block of the latest message of an
	// exchange (the IV of the next one), by exchange key
	lastBlock map[string][]byte
	// ivUsed is the IV each encrypted body was decrypted with
	ivUsed  map[string][]byte
	profile gdoi.Profile
}

func newIKEState(keys *KeyLog) *ikeState {
	return &ikeState{
		keys:      keys,
		seen:      map[string]int{},
		next:      map[string]int{},
		ke:        map[[8]byte][2][]byte{},
		lastBlock: map[string][]byte{},
		ivUsed:    map[string][]byte{},
		profile:   gdoi.ProfileRFC,
	}
}

// exchangeKey identifies the exchange a message belongs to: phase 1 by its
// initiator cookie, phase 2 and Informational also by message ID, and a
// GROUPKEY-PUSH by KEK cookies and sequence (each PUSH is an exchange of
// one message, so the key is the message itself).
func exchangeKey(h isakmp.Header) string {
	switch h.Exchange {
	case isakmp.ExchangeMainMode, isakmp.ExchangeAggressive, isakmp.ExchangeBase:
		return fmt.Sprintf("p1/%x", h.ICookie)
	}
	return fmt.Sprintf("%d/%x/%x/%08x", h.Exchange, h.ICookie, h.RCookie, h.MessageID)
}

// decode fills in p.ISAKMP from a UDP payload b that the ISAKMP layer
// decoded into msg, or failed to decode with err.
func (s *ikeState) decode(p *Packet, b []byte, msg *isakmp.Message, err error) {
	if err != nil {
		p.Malformed = err.Error()
		if h, _, herr := isakmp.ParseHeader(b); herr == nil {
			p.ISAKMP = s.info(h)
		}
		return
	}
	h := msg.Header
	info := s.info(h)
	info.Msg = msg
	p.ISAKMP = info

	// Position: the same bytes on another link, or a retransmission, keep
	// the position of the first copy.
	xk := exchangeKey(h)
	switch pos, ok := s.seen[xk+"/"+string(b)]; {
	case ok:
		info.Message, info.Repeat = pos, true
	case h.Exchange == isakmp.ExchangeGroupkeyPush:
		// Every PUSH is an exchange of one message.
		info.Message = 1
		s.seen[xk+"/"+string(b)] = 1
	default:
		s.next[xk]++
		info.Message = s.next[xk]
		s.seen[xk+"/"+string(b)] = info.Message
	}

	if msg.Encrypted != nil {
		dm, derr := s.decrypt(h, msg.Encrypted)
		if derr != nil {
			info.DecryptError = derr.Error()
			return
		}
		if dm == nil {
			return // no keys for it
		}
		info.Msg, msg = dm, dm
		info.Decrypted = true
	}
	s.describe(info, msg)
}

func (s *ikeState) info(h isakmp.Header) *ISAKMPInfo {
	return &ISAKMPInfo{
		Exchange:  h.Exchange.String(),
		Type:      uint8(h.Exchange),
		MessageID: h.MessageID,
		ICookie:   hexString(h.ICookie[:]),
		RCookie:   hexString(h.RCookie[:]),
		Flags:     h.Flags.String(),
		Encrypted: h.Flags&isakmp.FlagEncryption != 0,
	}
}

func (s *ikeState) describe(info *ISAKMPInfo, msg *isakmp.Message) {
	info.Layout = msg.Layout()
	for _, pl := range msg.Payloads {
		info.Payloads = append(info.Payloads, uint8(pl.Type()))
		switch v := pl.(type) {
		case *gdoi.SEQ:
			seq := v.Seq
			info.SEQ = &seq
		case *coopwire.ANN:
			info.ANN = v
		case *isakmp.VendorID:
			if vid, ok, err := gdoi.ParseVersionVID(v.Data); ok && err == nil {
				info.GDOIVersion, info.GDOIFeatures = vid.Version.String(), vid.Features
			}
		case *coopwire.Members:
			info.Members = len(v.List)
		case *isakmp.KE:
			// Main mode messages 3 and 4 carry g^xi and g^xr: the IV of
			// message 5 is hashed from them.
			if msg.Header.Exchange == isakmp.ExchangeMainMode {
				pair := s.ke[msg.Header.ICookie]
				switch info.Message {
				case 3:
					pair[0] = v.Data
				case 4:
					pair[1] = v.Data
				}
				s.ke[msg.Header.ICookie] = pair
			}
		}
	}
}

// decrypt returns the decrypted, decoded message, or nil (and no error)
// when the key log has nothing for it. A repeated message (a
// retransmission, or the copy on another link) is decrypted with the IV its
// first copy used and leaves the chain alone.
func (s *ikeState) decrypt(h isakmp.Header, ct []byte) (*isakmp.Message, error) {
	if iv, ok := s.ivUsed[string(ct)]; ok {
		return s.open(h, iv, ct)
	}
	var ivs [][]byte
	xk := exchangeKey(h)
	if h.Exchange == isakmp.ExchangeGroupkeyPush {
		k, ok := s.kek(h.Cookies())
		if !ok {
			return nil, nil
		}
		// The IV of a PUSH is the one downloaded with the KEK (gdoid and
		// RFC 3547's static IV); an implementation that chains IVs across
		// PUSH messages is read with the previous PUSH's last block.
		xk = fmt.Sprintf("push/%x", h.Cookies())
		ivs = append(ivs, k.IV)
		if prev := s.lastBlock[xk]; prev != nil {
			ivs = append(ivs, prev)
		}
	} else {
		k, ok := s.ike(h.ICookie)
		if !ok {
			return nil, nil
		}
		iv := s.lastBlock[xk]
		if iv == nil {
			bs := 16
			if k.Enc == "3des-cbc" {
				bs = 8
			}
			var err error
			if iv, err = s.firstIV(h, k, bs); err != nil {
				return nil, err
			}
		}
		ivs = append(ivs, iv)
	}
	var err error
	for _, iv := range ivs {
		var m *isakmp.Message
		if m, err = s.open(h, iv, ct); err == nil {
			s.ivUsed[string(ct)] = iv
			s.lastBlock[xk] = bytes.Clone(ct[len(ct)-len(iv):])
			return m, nil
		}
	}
	return nil, err
}

// open decrypts ct with iv and the message's keys and decodes the
// plaintext; a wrong key or IV garbles it, which the decoding reports.
func (s *ikeState) open(h isakmp.Header, iv, ct []byte) (*isakmp.Message, error) {
	var enc string
	var key []byte
	if h.Exchange == isakmp.ExchangeGroupkeyPush {
		k, _ := s.kek(h.Cookies())
		enc, key = k.Enc, k.Key
	} else {
		k, _ := s.ike(h.ICookie)
		enc, key = k.Enc, k.Key
	}
	block, err := newBlock(enc, key)
	if err != nil {
		return nil, err
	}
	pt, err := cbcOpen(block, iv, ct)
	if err != nil {
		return nil, err
	}
	m, err := isakmp.ParseBody(h, pt, gdoi.Decoder{Profile: s.profile, Next: coopwire.Decoder})
	if err != nil {
		return nil, fmt.Errorf("decrypted body does not parse (wrong key or IV?): %w", err)
	}
	return m, nil
}

// firstIV is the IV of the first encrypted message of an exchange (RFC 2409
// appendix B): for main mode message 5, hash(g^xi | g^xr); for a phase-2 or
// Informational exchange, hash(last phase-1 block | message ID) — the key
// log's iv is that phase-1 block. Both truncated to the cipher block.
func (s *ikeState) firstIV(h isakmp.Header, k IKEKeys, bs int) ([]byte, error) {
	hf, err := hashFunc(k.Hash)
	if err != nil {
		return nil, err
	}
	d := hf()
	if h.Exchange == isakmp.ExchangeMainMode {
		pair := s.ke[h.ICookie]
		if pair[0] == nil || pair[1] == nil {
			return nil, errors.New("main mode: the capture lacks the KE payloads of messages 3 and 4")
		}
		d.Write(pair[0])
		d.Write(pair[1])
	} else {
		d.Write(k.IV)
		var mid [4]byte
		binary.BigEndian.PutUint32(mid[:], h.MessageID)
		d.Write(mid[:])
	}
	return d.Sum(nil)[:bs], nil
}

func (s *ikeState) ike(icookie [8]byte) (IKEKeys, bool) {
	for i := len(s.keys.IKE) - 1; i >= 0; i-- {
		if s.keys.IKE[i].ICookie == icookie {
			return s.keys.IKE[i], true
		}
	}
	return IKEKeys{}, false
}

func (s *ikeState) kek(spi [16]byte) (KEKKeys, bool) {
	for i := len(s.keys.KEK) - 1; i >= 0; i-- {
		if s.keys.KEK[i].SPI == spi {
			return s.keys.KEK[i], true
		}
	}
	return KEKKeys{}, false
}

func newBlock(enc string, key []byte) (cipher.Block, error) {
	switch enc {
	case "aes-cbc":
		return aes.NewCipher(key)
	case "3des-cbc":
		return des.NewTripleDESCipher(key)
	}
	return nil, fmt.Errorf("cipher %q", enc)
}

func hashFunc(name string) (func() hash.Hash, error) {
	switch strings.ToLower(name) {
	case "sha1", "":
		return sha1.New, nil
	case "sha256":
		return sha256.New, nil
	case "sha384":
		return sha512.New384, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("hash %q", name)
}

func cbcOpen(b cipher.Block, iv, ct []byte) ([]byte, error) {
	bs := b.BlockSize()
	if len(iv) != bs {
		return nil, fmt.Errorf("IV of %d octets, want %d", len(iv), bs)
	}
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, fmt.Errorf("encrypted body of %d octets is not a multiple of the %d-octet block", len(ct), bs)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, ct)
	return pt, nil
}
