package gdoi

import (
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Policy is what a key server hands a group member for one group: the rekey
// SA (KEK) and the traffic SAs (TEKs) with their keys. The KS builds it from
// its group state; the GM rebuilds it from the SA and KD payloads it
// received. Lifetimes are protocol time remaining when the policy was built
// (the SA payloads carry remaining lifetimes).
type Policy struct {
	GroupID uint32
	KEK     *KEK
	TEKs    []TEK
	// Deny are the key server's deny entries, in ACL order: traffic they
	// match is sent and accepted in clear, before any TEK's selectors are
	// tried (S0 §3.4.2; GM-40). They travel as TEKProtoBypass SATs.
	Deny []Selector
	// ATD and DTD are the activation and deactivation time delays (GAP);
	// zero when not sent.
	ATD, DTD time.Duration
	// Seq is the KEK sequence number (SEQ payload); a GM accepts only rekeys
	// with a larger one.
	Seq uint32
	// SIDs are the Sender-IDs the KS gave this GM (counter-mode TEKs,
	// RFC 6054), and SIDBits their size.
	SIDs    []uint32
	SIDBits int
	// Deleted are TEK SPIs the PUSH that made this policy deleted (Delete
	// payloads): a data plane drops their SAs at once instead of letting
	// them expire (RK-51 replace-now, RK-61).
	Deleted []uint32
}

// KEK is a group's rekey SA.
type KEK struct {
	SPI [16]byte
	// Algorithm is a KEK_ALGORITHM value (gdoiwire.KEKAlgAES) and KeyBits
	// its key length.
	Algorithm gdoiwire.KEKAlg
	KeyBits   int
	Key, IV   []byte
	Lifetime  time.Duration
	// SigHash and SigAlg are the rekey signature's SIG_HASH_ALGORITHM and
	// SIG_ALGORITHM values; SigKeyBits the signing key's modulus bits.
	SigHash    gdoiwire.SigHash
	SigAlg     gdoiwire.SigAlg
	SigKeyBits int
	// PublicKey is the KS's rekey-signing public key, DER
	// SubjectPublicKeyInfo (as the KD carries it).
	PublicKey []byte
	// Src is the KS address rekeys come from; Dst the rekey destination
	// (multicast group, or the GM itself for unicast) and port.
	Src netip.Addr
	Dst netip.AddrPort
	// Ack is the KEK_ACK_REQUESTED value (RFC 8263): GMs acknowledge every
	// GROUPKEY-PUSH under this KEK with that type (gdoiwire.AckKEKSHA256,
	// AckKEKSHA512); 0: no acknowledgements. A GM keeps any value the KS
	// sends and acknowledges only those AckSupported knows.
	Ack gdoiwire.AckType
}

// TEK is one traffic SA.
type TEK struct {
	SPI       uint32
	Transform espwire.Transform
	// Selector is the ACL entry the TEK protects.
	Selector
	Lifetime time.Duration
	// EncKey is the encryption key (AES-GCM: key followed by the 4-octet
	// salt); AuthKey the HMAC key (none for combined modes).
	EncKey, AuthKey []byte
	// AddrPreserve and Direction are RFC 6407's ADDRESS_PRESERVATION and
	// SA_DIRECTION values (gdoiwire.AddrPreserveSrcDst, SADirSymmetric by
	// default).
	AddrPreserve gdoiwire.AddrPreserve
	Direction    gdoiwire.SADir
}

// Selector is the traffic an ACL entry matches, as a SAT carries it:
// Protocol 0 is any IP protocol, port 0 any port (SAT identities have no
// port ranges).
type Selector struct {
	Protocol         uint8
	Src, Dst         netip.Prefix
	SrcPort, DstPort uint16
}

// SAPayload builds the GDOI SA payload of PULL message 2 (and, later, of a
// PUSH) in the RFC profile's layout with the wire forms of profile.
func (p *Policy) SAPayload(profile gdoiwire.Profile) *gdoiwire.SA {
	ip := InteropRFC
	ip.Wire = profile
	return p.SAPayloadFor(ip)
}

// SAPayloadFor builds the GDOI SA payload as interop profile ip writes it:
// SAK first, then GAP, then one bypass SAT per deny entry and one SAT per
// TEK — the order gdoid uses, with the denies first as a GM evaluates
// them.
func (p *Policy) SAPayloadFor(ip Interop) *gdoiwire.SA {
	var nested []isakmp.Payload
	if k := p.KEK; k != nil {
		attrs := isakmp.Attributes{isakmp.BasicAttr(gdoiwire.KEKAlgorithm, uint16(k.Algorithm))}
		// RFC 6407 §5.3.2: KEK_KEY_LENGTH only for variable-length
		// ciphers; gdoid sends none with 3DES.
		if k.Algorithm != gdoiwire.KEKAlg3DES {
			attrs = append(attrs, isakmp.BasicAttr(gdoiwire.KEKKeyLength, uint16(k.KeyBits)))
		}
		attrs = append(attrs,
			isakmp.UintAttr(gdoiwire.KEKKeyLifetime, uint64(seconds(k.Lifetime))),
			isakmp.BasicAttr(gdoiwire.SigHashAlgorithm, uint16(k.SigHash)),
			isakmp.BasicAttr(gdoiwire.SigAlgorithm, uint16(k.SigAlg)),
			isakmp.BasicAttr(gdoiwire.SigKeyLength, uint16(k.SigKeyBits)),
		)
		// The one place the profile decides whether KEK_ACK_REQUESTED
		// goes out.
		if k.Ack != 0 && !ip.NoAckRequest {
			// In every SAK the KS sends, PULL and PUSH alike (RFC 8263).
			attrs = append(attrs, isakmp.BasicAttr(gdoiwire.KEKAckRequested, uint16(k.Ack)))
		}
		nested = append(nested, &gdoiwire.SAK{
			Protocol:   17, // rekeys are UDP datagrams
			Src:        gdoiwire.AddrID(k.Src, ip.SAKSrcPort),
			Dst:        gdoiwire.AddrID(k.Dst.Addr(), k.Dst.Port()),
			SPI:        k.SPI,
			Attributes: attrs,
		})
	}
	if p.ATD > 0 || p.DTD > 0 {
		gap := &gdoiwire.GAP{}
		if p.ATD > 0 {
			gap.Attributes = append(gap.Attributes, isakmp.BasicAttr(gdoiwire.ActivationTimeDelay, uint16(seconds(p.ATD))))
		}
		if p.DTD > 0 {
			gap.Attributes = append(gap.Attributes, isakmp.BasicAttr(gdoiwire.DeactivationTimeDelay, uint16(seconds(p.DTD))))
		}
		nested = append(nested, gap)
	}
	if !ip.NoDenyDownload {
		for _, d := range p.Deny {
			nested = append(nested, d.sat(gdoiwire.TEKProtoBypass))
		}
	}
	for _, t := range p.TEKs {
		if ip.SATAttrsGdoid {
			nested = append(nested, t.gdoidSAT())
		} else {
			nested = append(nested, t.sat())
		}
	}
	sa := gdoiwire.NewSA(nested...)
	ip.Wire.Apply(sa.Payloads...)
	return sa
}

// gdoidSAT is the SAT with gdoid's attribute order and set: ADDRESS_
// PRESERVATION and SA_DIRECTION always (a-plain-kekaes frame 8).
func (t *TEK) gdoidSAT() *gdoiwire.SAT {
	id, keyBits, auth := t.Transform.DOI()
	attrs := isakmp.Attributes{isakmp.BasicAttr(gdoiwire.EncapsulationMode, uint16(gdoiwire.EncapTunnel))}
	if auth != 0 {
		attrs = append(attrs, isakmp.BasicAttr(gdoiwire.AuthAlgorithm, auth))
	}
	attrs = append(attrs,
		isakmp.BasicAttr(gdoiwire.SALifeType, uint16(gdoiwire.SALifeSeconds)),
		isakmp.UintAttr(gdoiwire.SALifeDuration, uint64(seconds(t.Lifetime))))
	if keyBits != 0 {
		attrs = append(attrs, isakmp.BasicAttr(gdoiwire.KeyLength, keyBits))
	}
	ap, dir := t.AddrPreserve, t.Direction
	if ap == 0 {
		ap = gdoiwire.DefaultAddrPreserve
	}
	if dir == 0 {
		dir = gdoiwire.DefaultSADirection
	}
	attrs = append(attrs, isakmp.BasicAttr(gdoiwire.AddressPreservation, uint16(ap)), isakmp.BasicAttr(gdoiwire.SADirection, uint16(dir)))
	sat := t.Selector.sat(gdoiwire.TEKProtoESP)
	sat.TransformID, sat.SPI, sat.Attributes = id, t.SPI, attrs
	return sat
}

func (t *TEK) sat() *gdoiwire.SAT {
	id, keyBits, auth := t.Transform.DOI()
	attrs := isakmp.Attributes{
		isakmp.BasicAttr(gdoiwire.SALifeType, uint16(gdoiwire.SALifeSeconds)),
		isakmp.UintAttr(gdoiwire.SALifeDuration, uint64(seconds(t.Lifetime))),
		isakmp.BasicAttr(gdoiwire.EncapsulationMode, uint16(gdoiwire.EncapTunnel)),
	}
	if keyBits != 0 {
		attrs = append(attrs, isakmp.BasicAttr(gdoiwire.KeyLength, keyBits))
	}
	if auth != 0 {
		attrs = append(attrs, isakmp.BasicAttr(gdoiwire.AuthAlgorithm, auth))
	}
	// RFC 6407 §5.4.1: both attributes have defaults; gdoid sends them only
	// when they differ, and so do we.
	if t.AddrPreserve != 0 && t.AddrPreserve != gdoiwire.DefaultAddrPreserve {
		attrs = append(attrs, isakmp.BasicAttr(gdoiwire.AddressPreservation, uint16(t.AddrPreserve)))
	}
	if t.Direction != 0 && t.Direction != gdoiwire.DefaultSADirection {
		attrs = append(attrs, isakmp.BasicAttr(gdoiwire.SADirection, uint16(t.Direction)))
	}
	sat := t.Selector.sat(gdoiwire.TEKProtoESP)
	sat.TransformID, sat.SPI, sat.Attributes = id, t.SPI, attrs
	return sat
}

// sat is a SAT of protocol proto carrying the selector, without SA.
func (s Selector) sat(proto gdoiwire.TEKProtocol) *gdoiwire.SAT {
	return &gdoiwire.SAT{
		ProtocolID: proto, Protocol: s.Protocol,
		Src: gdoiwire.PrefixID(s.Src, s.SrcPort), Dst: gdoiwire.PrefixID(s.Dst, s.DstPort),
	}
}

// KDPayload builds the Key Download payload in the RFC profile's layout:
// one TEK key packet per TEK, the KEK key packet (IV || key, and the
// signing public key), and a SID key packet when the policy gives
// Sender-IDs.
func (p *Policy) KDPayload() *gdoiwire.KD { return p.KDPayloadFor(InteropRFC, nil) }

// KDPayloadFor builds the Key Download payload as interop profile ip writes
// it. protect is the KEK protecting the PUSH that carries it (nil in a
// PULL): under KDKEKUnderOldSPI a new KEK's key packet goes under its SPI.
func (p *Policy) KDPayloadFor(ip Interop, protect *KEK) *gdoiwire.KD {
	kd := &gdoiwire.KD{}
	var kekPacket []gdoiwire.KeyPacket
	if k := p.KEK; k != nil {
		spi := k.SPI
		if ip.KDKEKUnderOldSPI && protect != nil {
			spi = protect.SPI
		}
		key := append(append([]byte(nil), k.IV...), k.Key...)
		kekPacket = append(kekPacket, gdoiwire.KeyPacket{
			Type: gdoiwire.KDKEK, SPI: spi[:],
			Attributes: isakmp.Attributes{
				isakmp.VarAttr(gdoiwire.KEKAlgorithmKey, key),
				isakmp.VarAttr(gdoiwire.SigAlgorithmKey, k.PublicKey),
			},
		})
	}
	if ip.KEKFirstInKD {
		kd.Packets = append(kd.Packets, kekPacket...)
	}
	for _, t := range p.TEKs {
		attrs := isakmp.Attributes{isakmp.VarAttr(gdoiwire.TEKAlgorithmKey, t.EncKey)}
		if len(t.AuthKey) > 0 {
			attrs = append(attrs, isakmp.VarAttr(gdoiwire.TEKIntegrityKey, t.AuthKey))
		}
		kd.Packets = append(kd.Packets, gdoiwire.KeyPacket{
			Type: gdoiwire.KDTEK, SPI: binary.BigEndian.AppendUint32(nil, t.SPI), Attributes: attrs,
		})
	}
	if !ip.KEKFirstInKD {
		kd.Packets = append(kd.Packets, kekPacket...)
	}
	if len(p.SIDs) > 0 {
		attrs := isakmp.Attributes{isakmp.BasicAttr(gdoiwire.SIDNumberOfBits, uint16(p.SIDBits))}
		for _, sid := range p.SIDs {
			attrs = append(attrs, isakmp.VarAttr(gdoiwire.SIDValue, sidBytes(sid, p.SIDBits)))
		}
		kd.Packets = append(kd.Packets, gdoiwire.KeyPacket{Type: gdoiwire.KDSID, Attributes: attrs})
	}
	return kd
}

func sidBytes(sid uint32, bits int) []byte {
	if bits <= 16 {
		return binary.BigEndian.AppendUint16(nil, uint16(sid))
	}
	return binary.BigEndian.AppendUint32(nil, sid)
}

func seconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 0 {
		return 0
	}
	return s
}

// ErrPolicy marks a policy the GM cannot accept (GM_REJECTING_SA_PAYLOAD).
var ErrPolicy = errors.New("unacceptable policy")

// ParsePolicy rebuilds the policy a GM received: the SA payload of PULL
// message 2 and the KD (and SEQ) of message 4. Every TEK must have its keys
// in the KD, with the lengths its transform needs; a SAK needs its KEK
// key packet. Errors wrap ErrPolicy.
func ParsePolicy(group uint32, sa *gdoiwire.SA, kd *gdoiwire.KD, seq *gdoiwire.SEQ) (*Policy, error) {
	return ParsePolicyWith(group, sa, kd, seq, ParseOptions{})
}

// ParseOptions are what a GM knows when it reads a policy: its group's
// wire profile and, in a PUSH, the KEK that protected it.
type ParseOptions struct {
	// Wire maps the SAT selectors (gdoiwire.Profile.SATAddrHostOrder).
	Wire gdoiwire.Profile
	// CurrentKEK is the SPI of the KEK the PUSH came under: a KEK rekey's
	// key packet is found under the new SPI (RFC 6407) or, failing that,
	// under this one (gdoid, Interop.KDKEKUnderOldSPI).
	CurrentKEK *[16]byte
}

// ParsePolicyWith is ParsePolicy with the GM's options.
func ParsePolicyWith(group uint32, sa *gdoiwire.SA, kd *gdoiwire.KD, seq *gdoiwire.SEQ, opt ParseOptions) (*Policy, error) {
	p := &Policy{GroupID: group}
	if seq != nil {
		p.Seq = seq.Seq
	}
	if gap := sa.GAP(); gap != nil {
		for _, a := range gap.Attributes {
			v, _ := a.Uint()
			switch a.Type {
			case gdoiwire.ActivationTimeDelay:
				p.ATD = time.Duration(v) * time.Second
			case gdoiwire.DeactivationTimeDelay:
				p.DTD = time.Duration(v) * time.Second
			}
		}
	}
	if sak := sa.SAK(); sak != nil {
		k, err := parseKEK(sak, kd, opt.CurrentKEK)
		if err != nil {
			return nil, err
		}
		p.KEK = k
	}
	for i, sat := range sa.SATs() {
		if sat.ProtocolID == gdoiwire.TEKProtoBypass {
			d, err := parseSelector(sat, opt.Wire)
			if err != nil {
				return nil, fmt.Errorf("%w: SA TEK %d (deny entry): %v", ErrPolicy, i+1, err)
			}
			p.Deny = append(p.Deny, d)
			continue
		}
		t, err := parseTEK(sat, kd, opt.Wire)
		if err != nil {
			return nil, fmt.Errorf("%w: SA TEK %d: %v", ErrPolicy, i+1, err)
		}
		p.TEKs = append(p.TEKs, t)
	}
	if len(p.TEKs) == 0 && p.KEK == nil {
		return nil, fmt.Errorf("%w: SA carries neither KEK nor TEK", ErrPolicy)
	}
	if kp, ok := kd.Get(gdoiwire.KDSID, nil); ok {
		for _, a := range kp.Attributes {
			switch a.Type {
			case gdoiwire.SIDNumberOfBits:
				v, _ := a.Uint()
				p.SIDBits = int(v)
			case gdoiwire.SIDValue:
				v, ok := a.Uint()
				if !ok || len(a.Data) > 4 {
					return nil, fmt.Errorf("%w: SID value of %d octets", ErrPolicy, len(a.Data))
				}
				p.SIDs = append(p.SIDs, uint32(v))
			}
		}
	}
	return p, nil
}

func parseKEK(sak *gdoiwire.SAK, kd *gdoiwire.KD, current *[16]byte) (*KEK, error) {
	k := &KEK{SPI: sak.SPI}
	var err error
	if k.Src, err = sak.Src.Addr(); err != nil {
		return nil, fmt.Errorf("%w: SA KEK source: %v", ErrPolicy, err)
	}
	dst, err := sak.Dst.Addr()
	if err != nil {
		return nil, fmt.Errorf("%w: SA KEK destination: %v", ErrPolicy, err)
	}
	k.Dst = netip.AddrPortFrom(dst, sak.Dst.Port)
	for _, a := range sak.Attributes {
		v, _ := a.Uint()
		switch a.Type {
		case gdoiwire.KEKAlgorithm:
			k.Algorithm = gdoiwire.KEKAlg(v)
		case gdoiwire.KEKKeyLength:
			k.KeyBits = int(v)
		case gdoiwire.KEKKeyLifetime:
			k.Lifetime = time.Duration(v) * time.Second
		case gdoiwire.SigHashAlgorithm:
			k.SigHash = gdoiwire.SigHash(v)
		case gdoiwire.SigAlgorithm:
			k.SigAlg = gdoiwire.SigAlg(v)
		case gdoiwire.SigKeyLength:
			k.SigKeyBits = int(v)
		case gdoiwire.KEKAckRequested:
			// Kept as sent, even the LKH types and private values this GM
			// cannot answer: registration must not fail over a request
			// for acknowledgements; the GM says so and does not ack.
			if v > 0xffff {
				return nil, fmt.Errorf("%w: KEK_ACK_REQUESTED value %d", ErrPolicy, v)
			}
			k.Ack = gdoiwire.AckType(v)
		}
	}
	switch k.Algorithm {
	case gdoiwire.KEKAlgAES:
		if k.KeyBits != 128 && k.KeyBits != 192 && k.KeyBits != 256 {
			return nil, fmt.Errorf("%w: KEK key length %d", ErrPolicy, k.KeyBits)
		}
	case gdoiwire.KEKAlg3DES:
		// A fixed-length cipher: RFC 6407 §5.3.2 (and gdoid) send no
		// KEK_KEY_LENGTH.
		if k.KeyBits != 0 && k.KeyBits != 192 {
			return nil, fmt.Errorf("%w: 3DES KEK key length %d", ErrPolicy, k.KeyBits)
		}
		k.KeyBits = 192
	default:
		return nil, fmt.Errorf("%w: KEK algorithm %d (only AES and 3DES are supported)", ErrPolicy, k.Algorithm)
	}
	ivLen := KEKBlockSize(k.Algorithm)
	if k.SigAlg != gdoiwire.SigAlgRSA {
		return nil, fmt.Errorf("%w: rekey signature algorithm %d (only RSA is supported)", ErrPolicy, k.SigAlg)
	}
	switch k.SigHash {
	case gdoiwire.SigHashSHA1, gdoiwire.SigHashSHA256, gdoiwire.SigHashSHA384, gdoiwire.SigHashSHA512:
	default:
		return nil, fmt.Errorf("%w: rekey signature hash %d", ErrPolicy, k.SigHash)
	}
	kp, ok := kd.Get(gdoiwire.KDKEK, sak.SPI[:])
	if !ok && current != nil {
		kp, ok = kd.Get(gdoiwire.KDKEK, current[:])
	}
	if !ok {
		return nil, fmt.Errorf("%w: no KEK key packet for SPI %x", ErrPolicy, sak.SPI)
	}
	for _, a := range kp.Attributes {
		switch a.Type {
		case gdoiwire.KEKAlgorithmKey:
			// IV (one cipher block) || key (RFC 3547 §5.5.2, gdoid "IV
			// is pre-pended").
			if len(a.Data) != ivLen+k.KeyBits/8 {
				return nil, fmt.Errorf("%w: KEK key of %d octets, want IV %d + key %d", ErrPolicy, len(a.Data), ivLen, k.KeyBits/8)
			}
			k.IV = append([]byte(nil), a.Data[:ivLen]...)
			k.Key = append([]byte(nil), a.Data[ivLen:]...)
		case gdoiwire.SigAlgorithmKey:
			k.PublicKey = append([]byte(nil), a.Data...)
		}
	}
	if k.Key == nil {
		return nil, fmt.Errorf("%w: KEK key packet without KEK_ALGORITHM_KEY", ErrPolicy)
	}
	if k.PublicKey == nil {
		return nil, fmt.Errorf("%w: KEK key packet without the rekey signing key", ErrPolicy)
	}
	if _, err := x509.ParsePKIXPublicKey(k.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: rekey signing key: %v", ErrPolicy, err)
	}
	return k, nil
}

func parseTEK(sat *gdoiwire.SAT, kd *gdoiwire.KD, wire gdoiwire.Profile) (TEK, error) {
	t := TEK{SPI: sat.SPI, AddrPreserve: sat.AddressPreservation(), Direction: sat.Direction()}
	if sat.ProtocolID != gdoiwire.TEKProtoESP {
		return t, fmt.Errorf("TEK protocol %d (only ESP is supported)", sat.ProtocolID)
	}
	var err error
	if t.Selector, err = parseSelector(sat, wire); err != nil {
		return t, err
	}
	var keyBits, auth uint16
	for _, a := range sat.Attributes {
		v, _ := a.Uint()
		switch a.Type {
		case gdoiwire.SALifeType:
			// A lifetime in kilobytes read as seconds would expire the SA
			// at the wrong time: refuse it (RFC 2407 §4.5).
			if v != uint64(gdoiwire.SALifeSeconds) {
				return t, fmt.Errorf("SA_LIFE_TYPE %d (only seconds, %d, is supported)", v, gdoiwire.SALifeSeconds)
			}
		case gdoiwire.SALifeDuration:
			t.Lifetime = time.Duration(v) * time.Second
		case gdoiwire.KeyLength:
			keyBits = uint16(v)
		case gdoiwire.AuthAlgorithm:
			auth = uint16(v)
		}
	}
	if t.Transform, err = espwire.FromDOI(sat.TransformID, keyBits, auth); err != nil {
		return t, err
	}
	kp, ok := kd.Get(gdoiwire.KDTEK, binary.BigEndian.AppendUint32(nil, sat.SPI))
	if !ok {
		return t, fmt.Errorf("no key packet for SPI %#08x", sat.SPI)
	}
	for _, a := range kp.Attributes {
		switch a.Type {
		case gdoiwire.TEKAlgorithmKey:
			t.EncKey = append([]byte(nil), a.Data...)
		case gdoiwire.TEKIntegrityKey:
			t.AuthKey = append([]byte(nil), a.Data...)
		}
	}
	if want := t.Transform.EncKeyLen(); len(t.EncKey) != want {
		return t, fmt.Errorf("%s key of %d octets, want %d", t.Transform, len(t.EncKey), want)
	}
	if want := t.Transform.AuthKeyLen(); len(t.AuthKey) != want {
		return t, fmt.Errorf("%s integrity key of %d octets, want %d", t.Transform, len(t.AuthKey), want)
	}
	return t, nil
}

// parseSelector reads a SAT's selectors.
func parseSelector(sat *gdoiwire.SAT, wire gdoiwire.Profile) (Selector, error) {
	d := Selector{Protocol: sat.Protocol, SrcPort: sat.Src.Port, DstPort: sat.Dst.Port}
	var err error
	if d.Src, err = selector(wire.SATIDFromWire(sat.Src)); err != nil {
		return d, fmt.Errorf("source selector: %v", err)
	}
	if d.Dst, err = selector(wire.SATIDFromWire(sat.Dst)); err != nil {
		return d, fmt.Errorf("destination selector: %v", err)
	}
	return d, nil
}

// selector reads a SAT traffic selector: a subnet, a single address (as a
// full-length prefix) or, for ID_IPV4_ADDR_RANGE, the prefix it must equal.
func selector(id gdoiwire.ID) (netip.Prefix, error) {
	if p, err := id.Prefix(); err == nil {
		return p, nil
	}
	a, err := id.Addr()
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
