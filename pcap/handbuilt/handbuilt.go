// Package handbuilt holds plaintext ISAKMP/GDOI messages built with the
// project's codecs, one per step of main mode, GROUPKEY-PULL, GROUPKEY-PUSH
// and Informational, that together carry every payload type the codecs
// know. They are sent in clear (E flag unset) so an independent decoder —
// tshark — can read every payload, which is what the decoder cross-check
// needs. They are test material: no daemon sends plaintext PULL or PUSH.
package handbuilt

import (
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Message is one hand-built message.
type Message struct {
	Name   string
	FromGM bool   // sent by the group member (else by the key server)
	Layout string // what isakmp.Layout must give for it
	Bytes  []byte
}

var (
	icookie = [8]byte{0x1c, 0x00, 0x6b, 0x1a, 0x00, 0x00, 0x00, 0x01}
	rcookie = [8]byte{0x2d, 0x00, 0x7c, 0x2b, 0x00, 0x00, 0x00, 0x02}
	kekSPI  = [16]byte{0x4b, 0x45, 0x4b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	tekSPIs = []uint32{0x1e1e0001, 0x1e1e0002}
	ks      = netip.MustParseAddr("192.0.2.1")
	group   = netip.MustParseAddr("239.192.0.1")
)

func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

func msg(x isakmp.ExchangeType, mid uint32, resp bool, ps ...isakmp.Payload) []byte {
	h := isakmp.Header{ICookie: icookie, Exchange: x, MessageID: mid}
	if resp || x != isakmp.ExchangeMainMode {
		h.RCookie = rcookie
	}
	if x == isakmp.ExchangeGroupkeyPush {
		copy(h.ICookie[:], kekSPI[:8])
		copy(h.RCookie[:], kekSPI[8:])
	}
	m := &isakmp.Message{Header: h, Payloads: ps}
	return m.Append(nil)
}

// phase1SA is a main-mode SA for GDOI (DOI 2, RFC 6407 §2.1): AES-256,
// SHA-256, pre-shared key, group 19, a one-day lifetime; offered with a
// second, group-14 transform.
func phase1SA(transforms ...uint16) *isakmp.SA {
	p := isakmp.Proposal{Number: 1, ProtocolID: isakmp.ProtoISAKMP}
	for i, grp := range transforms {
		p.Transforms = append(p.Transforms, isakmp.Transform{
			Number: uint8(i + 1), ID: isakmp.TransformKeyIKE,
			Attributes: isakmp.Attributes{
				isakmp.BasicAttr(1, 7),                       // encryption: AES-CBC
				isakmp.BasicAttr(14, 256),                    // key length
				isakmp.BasicAttr(2, 4),                       // hash: SHA2-256
				isakmp.BasicAttr(3, 1),                       // authentication: pre-shared key
				isakmp.BasicAttr(4, grp),                     // group description
				isakmp.BasicAttr(11, 1),                      // life type: seconds
				isakmp.VarAttr(12, []byte{0, 1, 0x51, 0x80}), // life duration: 86400
			},
		})
	}
	return &isakmp.SA{DOI: isakmp.DOIGDOI, Situation: 1, Proposals: []isakmp.Proposal{p}}
}

func sak() *gdoi.SAK {
	return &gdoi.SAK{
		Protocol: 17,
		Src:      gdoi.AddrID(ks, 848),
		Dst:      gdoi.AddrID(group, 848),
		SPI:      kekSPI,
		Attributes: isakmp.Attributes{
			isakmp.BasicAttr(gdoi.KEKAlgorithm, uint16(gdoi.KEKAlgAES)),
			isakmp.BasicAttr(gdoi.KEKKeyLength, 256),
			isakmp.UintAttr(gdoi.KEKKeyLifetime, 86400),
			isakmp.BasicAttr(gdoi.SigHashAlgorithm, uint16(gdoi.SigHashSHA256)),
			isakmp.BasicAttr(gdoi.SigAlgorithm, uint16(gdoi.SigAlgRSA)),
			isakmp.BasicAttr(gdoi.SigKeyLength, 2048),
		},
	}
}

func sat(spi uint32, src, dst string, gcm bool) *gdoi.SAT {
	s := &gdoi.SAT{
		ProtocolID: gdoi.TEKProtoESP,
		Src:        gdoi.PrefixID(netip.MustParsePrefix(src), 0),
		Dst:        gdoi.PrefixID(netip.MustParsePrefix(dst), 0),
		SPI:        spi,
		Attributes: isakmp.Attributes{
			isakmp.BasicAttr(gdoi.SALifeType, uint16(gdoi.SALifeSeconds)),
			isakmp.UintAttr(gdoi.SALifeDuration, 3600),
			isakmp.BasicAttr(gdoi.EncapsulationMode, uint16(gdoi.EncapTunnel)),
			isakmp.BasicAttr(gdoi.KeyLength, 256),
			isakmp.BasicAttr(gdoi.AddressPreservation, uint16(gdoi.AddrPreserveSrcDst)),
			isakmp.BasicAttr(gdoi.SADirection, uint16(gdoi.SADirSymmetric)),
		},
	}
	if gcm {
		s.TransformID = 20 // ESP_AES-GCM-16
	} else {
		s.TransformID = 12 // ESP_AES-CBC, with HMAC-SHA2-256
		s.Attributes = append(s.Attributes, isakmp.BasicAttr(gdoi.AuthAlgorithm, 5))
	}
	return s
}

func kd(withSID bool) *gdoi.KD {
	k := &gdoi.KD{}
	for i, spi := range tekSPIs {
		k.Packets = append(k.Packets, gdoi.KeyPacket{
			Type: gdoi.KDTEK, SPI: []byte{byte(spi >> 24), byte(spi >> 16), byte(spi >> 8), byte(spi)},
			Attributes: isakmp.Attributes{isakmp.VarAttr(gdoi.TEKAlgorithmKey, fill(36, byte(0x40+i)))},
		})
	}
	k.Packets[1].Attributes = isakmp.Attributes{
		isakmp.VarAttr(gdoi.TEKAlgorithmKey, fill(32, 0x50)),
		isakmp.VarAttr(gdoi.TEKIntegrityKey, fill(32, 0x60)),
	}
	k.Packets = append(k.Packets, gdoi.KeyPacket{
		Type: gdoi.KDKEK, SPI: kekSPI[:],
		Attributes: isakmp.Attributes{
			isakmp.VarAttr(gdoi.KEKAlgorithmKey, fill(48, 0x70)), // IV || key
			isakmp.VarAttr(gdoi.SigAlgorithmKey, fill(40, 0x30)), // stands for a DER SubjectPublicKeyInfo
		},
	})
	if withSID {
		k.Packets = append(k.Packets, gdoi.KeyPacket{
			Type: gdoi.KDSID,
			Attributes: isakmp.Attributes{
				isakmp.BasicAttr(gdoi.SIDNumberOfBits, 16),
				isakmp.VarAttr(gdoi.SIDValue, []byte{0, 7}),
			},
		})
	}
	return k
}

// Messages returns the corpus in exchange order.
func Messages() []Message {
	const pullID, infoID = 0x5eed0001, 0x1f0f0002
	vid := &isakmp.VendorID{Data: fill(16, 0xa0)}
	cert := &isakmp.Cert{Encoding: isakmp.CertX509Signature, Data: fill(64, 0x10)}
	cr := &isakmp.CertRequest{Encoding: isakmp.CertX509Signature}
	gap := &gdoi.GAP{Attributes: isakmp.Attributes{
		isakmp.BasicAttr(gdoi.ActivationTimeDelay, 60),
		isakmp.BasicAttr(gdoi.DeactivationTimeDelay, 90),
	}}
	sidReq := &gdoi.GAP{Attributes: isakmp.Attributes{isakmp.BasicAttr(gdoi.SenderIDRequest, 2)}}
	mm := isakmp.ExchangeMainMode
	pull := isakmp.ExchangeGroupkeyPull
	push := isakmp.ExchangeGroupkeyPush
	info := isakmp.ExchangeInformational
	ms := []Message{
		{Name: "main mode 1", FromGM: true, Layout: "SA(P(T,T)),VID",
			Bytes: msg(mm, 0, false, phase1SA(19, 14), vid)},
		{Name: "main mode 2", Layout: "SA(P(T)),VID",
			Bytes: msg(mm, 0, true, phase1SA(19), vid)},
		{Name: "main mode 3", FromGM: true, Layout: "KE,NONCE,CR",
			Bytes: msg(mm, 0, true, &isakmp.KE{Data: fill(64, 0x11)}, &isakmp.Nonce{Data: fill(16, 0x21)}, cr)},
		{Name: "main mode 4", Layout: "KE,NONCE,CR",
			Bytes: msg(mm, 0, true, &isakmp.KE{Data: fill(64, 0x12)}, &isakmp.Nonce{Data: fill(16, 0x22)}, cr)},
		{Name: "main mode 5 (clear)", FromGM: true, Layout: "ID,CERT,SIG",
			Bytes: msg(mm, 0, true, isakmp.NewAddrID(netip.MustParseAddr("192.0.2.11")), cert, &isakmp.Signature{Data: fill(256, 0x33)})},
		{Name: "main mode 6 (clear)", Layout: "ID,HASH",
			Bytes: msg(mm, 0, true, isakmp.NewFQDNID("ks1.example"), &isakmp.Hash{Data: fill(32, 0x44)})},
		{Name: "GROUPKEY-PULL 1", FromGM: true, Layout: "HASH,NONCE,ID",
			Bytes: msg(pull, pullID, true, &isakmp.Hash{Data: fill(32, 0x01)}, &isakmp.Nonce{Data: fill(16, 0x02)}, isakmp.NewGroupID(1234))},
		{Name: "GROUPKEY-PULL 2", Layout: "HASH,NONCE,SA(SAK,GAP,SAT,SAT)",
			Bytes: msg(pull, pullID, true, &isakmp.Hash{Data: fill(32, 0x03)}, &isakmp.Nonce{Data: fill(16, 0x04)},
				gdoi.NewSA(sak(), gap, sat(tekSPIs[0], "198.51.100.0/24", "203.0.113.0/24", true),
					sat(tekSPIs[1], "203.0.113.0/24", "198.51.100.0/24", false)))},
		{Name: "GROUPKEY-PULL 3", FromGM: true, Layout: "HASH,GAP",
			Bytes: msg(pull, pullID, true, &isakmp.Hash{Data: fill(32, 0x05)}, sidReq)},
		{Name: "GROUPKEY-PULL 4", Layout: "HASH,SEQ,KD",
			Bytes: msg(pull, pullID, true, &isakmp.Hash{Data: fill(32, 0x06)}, &gdoi.SEQ{Seq: 1}, kd(true))},
		{Name: "GROUPKEY-PUSH", Layout: "SEQ,SA(SAK,SAT,SAT),KD,D,CERT,SIG",
			Bytes: msg(push, 0, true, &gdoi.SEQ{Seq: 2},
				gdoi.NewSA(sak(), sat(tekSPIs[0]+0x100, "198.51.100.0/24", "203.0.113.0/24", true),
					sat(tekSPIs[1]+0x100, "203.0.113.0/24", "198.51.100.0/24", false)),
				kd(false),
				&isakmp.Delete{DOI: isakmp.DOIGDOI, ProtocolID: isakmp.ProtoIPsecESP, SPISize: 4, SPIs: [][]byte{{0x1e, 0x1e, 0, 1}}},
				cert, &isakmp.Signature{Data: fill(256, 0x55)})},
		{Name: "Informational notification", Layout: "N",
			Bytes: msg(info, infoID, true, &isakmp.Notification{DOI: isakmp.DOIGDOI, ProtocolID: isakmp.ProtoISAKMP,
				MessageType: isakmp.NotifyInvalidIDInformation, SPI: append(icookie[:], rcookie[:]...)})},
		{Name: "Informational delete", Layout: "D",
			Bytes: msg(info, infoID+1, true, &isakmp.Delete{DOI: isakmp.DOIGDOI, ProtocolID: isakmp.ProtoISAKMP, SPISize: 16,
				SPIs: [][]byte{append(icookie[:], rcookie[:]...)}})},
	}
	return ms
}
