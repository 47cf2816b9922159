package ikev1

import (
	"bytes"
	"encoding/binary"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Dead peer detection (RFC 3706): R-U-THERE and R-U-THERE-ACK
// notifications in protected Informational exchanges, protocol ISAKMP, the
// 16 cookie octets as SPI and a 4-octet sequence number as data. Which
// sequence numbers to send and when is the daemon's business.

// DPDVendorID is the RFC 3706 vendor ID announcing DPD support, sent in
// main mode message 1 (initiator) or 2 (responder) when Config.DPD is set.
var DPDVendorID = [16]byte{
	0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9,
	0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00,
}

// dpdDOI is the DOI of DPD notifications: RFC 3706 §5.1 says it SHOULD be
// IPSEC-DOI, whatever the phase-1 SA's DOI.
const dpdDOI = isakmp.DOIIPsec

func (sa *SA) dpd(t isakmp.NotifyType, seq uint32) []byte {
	c := sa.Cookies()
	b, err := sa.Informational(&isakmp.Notification{
		DOI: dpdDOI, ProtocolID: isakmp.ProtoISAKMP, MessageType: t,
		SPI: c[:], Data: binary.BigEndian.AppendUint32(nil, seq),
	})
	if err != nil {
		return nil
	}
	return b
}

// RUThere builds an R-U-THERE with sequence number seq.
func (sa *SA) RUThere(seq uint32) []byte { return sa.dpd(isakmp.NotifyDPDRUThere, seq) }

// RUThereAck builds the R-U-THERE-ACK of sequence number seq.
func (sa *SA) RUThereAck(seq uint32) []byte { return sa.dpd(isakmp.NotifyDPDRUThereAck, seq) }

// ParseDPD returns the type (R-U-THERE or R-U-THERE-ACK) and sequence
// number of a DPD notification; ok is false for any other notification
// or a malformed one (not protocol ISAKMP, data not 4 octets).
func ParseDPD(n *isakmp.Notification) (t isakmp.NotifyType, seq uint32, ok bool) {
	if n.MessageType != isakmp.NotifyDPDRUThere && n.MessageType != isakmp.NotifyDPDRUThereAck {
		return 0, 0, false
	}
	if n.ProtocolID != isakmp.ProtoISAKMP || len(n.Data) != 4 {
		return 0, 0, false
	}
	return n.MessageType, binary.BigEndian.Uint32(n.Data), true
}

// AnswerDPD returns the R-U-THERE-ACK to send for n, an R-U-THERE about
// sa (SPI = its cookies, RFC 3706 §5.2) from an opened Informational, with
// the same sequence number; nil if n is anything else.
func AnswerDPD(sa *SA, n *isakmp.Notification) []byte {
	if n == nil {
		return nil
	}
	t, seq, ok := ParseDPD(n)
	c := sa.Cookies()
	if !ok || t != isakmp.NotifyDPDRUThere || !bytes.Equal(n.SPI, c[:]) {
		return nil
	}
	return sa.RUThereAck(seq)
}
