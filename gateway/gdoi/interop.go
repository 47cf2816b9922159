package gdoi

import (
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// Interop is a group's interop profile: the wire profile of its payloads
// (gdoiwire.Profile) and the role-level choices another implementation
// needs that are not a codec matter. Every switch names the RFC text it
// departs from. What a profile writes is exact; what a role accepts stays
// every known variant where the wire tells them apart (a GM verifies a
// DigestInfo or a bare-hash signature, and takes a KEK rekey's key packet
// under the new or the old KEK SPI, whatever its profile).
type Interop struct {
	Name string
	Wire gdoiwire.Profile

	// RawHashSignature: a KS signs its GROUPKEY-PUSHes with PKCS#1 v1.5
	// type-1 padding of the bare digest, without the DigestInfo that
	// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2, used by RFC 6407 §5.7 SIG) puts
	// before it — IKEv1's RSA signature form, which gdoid uses.
	RawHashSignature bool
	// KDKEKUnderOldSPI: the KD of a KEK rekey carries the new KEK's key
	// packet under the old KEK's SPI (the one protecting the PUSH) instead
	// of the new SPI the SAK announces (RFC 6407 §5.6.2: the key packet's
	// SPI is the SAK's). gdoid writes and expects the old one ("SPI
	// mismatch!").
	KDKEKUnderOldSPI bool
	// KEKRekeyAlone: a rekey that replaces only the KEK carries the SAK
	// and the KEK key packet, no TEKs (gdoid, a-plain-kekaes frame 26);
	// the RFC profile repeats the live TEKs. RFC 6407 §4 allows both: a
	// GM keeps the TEKs a PUSH does not replace.
	KEKRekeyAlone bool
	// KEKFirstInKD puts the KEK key packet before the TEK key packets
	// (RFC 6407 §5.6 sets no order; gdoid writes KEK first).
	KEKFirstInKD bool
	// SAKSrcPort is the SAK SRC ID port (RFC 6407 §5.3: the port rekeys
	// come from; 0 is "any"). gdoid's GM opens no rekey socket unless both
	// SAK ports are non-zero.
	SAKSrcPort uint16
	// KEKLifetimeFull: KEK_KEY_LIFETIME is the full configured lifetime,
	// not the time left (RFC 6407 §5.3.2 "the lifetime of the KEK",
	// read by getvpnd and IOS as remaining, as SA_LIFE_DURATION is).
	KEKLifetimeFull bool
	// SATAttrsGdoid writes the SAT attributes in gdoid's order and set
	// (ENCAPSULATION_MODE, AUTHENTICATION_ALGORITHM, SA_LIFE_TYPE,
	// SA_LIFE_DURATION, KEY_LENGTH, ADDRESS_PRESERVATION, SA_DIRECTION),
	// the last two always (RFC 6407 §5.4.1 lets them be left out at their
	// defaults, which the RFC profile does).
	SATAttrsGdoid bool
	// NoAckRequest: the SAK never carries KEK_ACK_REQUESTED (RFC 8263);
	// gdoid's GM refuses the attribute ("Attribute not valid: 9").
	NoAckRequest bool
	// NoDenyDownload: deny entries are not downloaded (their private-use
	// SAT protocol 0xf0 is refused by gdoid: "Unsupported TEK type: 240").
	NoDenyDownload bool
	// KEKAlgorithm, KEKKeyBits and SigHash are the KEK a KS makes
	// (KEK_ALGORITHM, KEK_KEY_LENGTH, SIG_HASH_ALGORITHM). gdoid's GM takes
	// AES KEKs of 128 bits only.
	KEKAlgorithm gdoiwire.KEKAlg
	KEKKeyBits   int
	SigHash      gdoiwire.SigHash
	// MulticastTTL is the IP TTL of multicast rekeys (RFC 6407 sets none;
	// getvpnd uses 16, gdoid the host default 64).
	MulticastTTL int
}

// Named interop profiles (config groups[].interop_profile).
var (
	// InteropRFC is RFC 6407 as getvpnd (and IOS) write it.
	InteropRFC = Interop{
		Name: "rfc", Wire: gdoiwire.ProfileRFC,
		KEKAlgorithm: gdoiwire.KEKAlgAES, KEKKeyBits: 256, SigHash: gdoiwire.SigHashSHA256,
		MulticastTTL: 16,
	}
	// InteropGdoid is gdoid (Cisco's GDOI reference implementation) with
	// its group number and TEK addresses configured as usual, which on a
	// little-endian host puts both in host byte order on the wire.
	InteropGdoid = gdoidInterop("gdoid", gdoiwire.ProfileGdoid)
	// InteropGdoidRFCWire is gdoid configured with byte-swapped values so
	// that the group number and TEK addresses travel in network order.
	InteropGdoidRFCWire = gdoidInterop("gdoid-rfcwire", gdoiwire.ProfileGdoidRFCWire)
)

func gdoidInterop(name string, wire gdoiwire.Profile) Interop {
	return Interop{
		Name: name, Wire: wire,
		RawHashSignature: true, KDKEKUnderOldSPI: true, KEKRekeyAlone: true, KEKFirstInKD: true,
		SAKSrcPort: 848, KEKLifetimeFull: true, SATAttrsGdoid: true,
		NoAckRequest: true, NoDenyDownload: true,
		KEKAlgorithm: gdoiwire.KEKAlgAES, KEKKeyBits: 128, SigHash: gdoiwire.SigHashSHA1,
		MulticastTTL: 64,
	}
}

// Interops lists the named interop profiles.
var Interops = []Interop{InteropRFC, InteropGdoid, InteropGdoidRFCWire}

// InteropByName returns the named interop profile; "" is InteropRFC.
func InteropByName(name string) (Interop, bool) {
	if name == "" {
		return InteropRFC, true
	}
	for _, p := range Interops {
		if p.Name == name {
			return p, true
		}
	}
	return Interop{}, false
}

// PushOptions are the profile's GROUPKEY-PUSH switches.
func (ip Interop) PushOptions() PushOptions { return PushOptions{RawHash: ip.RawHashSignature} }
