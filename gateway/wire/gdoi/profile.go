package gdoi

import (
	"math/bits"
	"net/netip"
	"slices"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Profile names the wire variants of one GDOI implementation. The zero value
// is the RFC form (ProfileRFC).
type Profile struct {
	Name string
	// SAKIDLen2: SAK SRC/DST ID Data Len fields are 2 octets (TrustCore)
	// instead of 1 (RFC 3547 figure, Wireshark 4.0, gdoid).
	SAKIDLen2 bool
	// SAKExtraPOPKeyLen: the SAK has 2 more octets after RESERVED2, before the
	// KEK attributes (gdoid's GDOI_SA_KEK_END: RESERVED2 (4), POP_KEYLEN (2)).
	SAKExtraPOPKeyLen bool
	// SATIDLen1: SAT SRC/DST ID Data Len fields are 1 octet (gdoid) instead
	// of 2 (Wireshark 4.0, TrustCore).
	SATIDLen1 bool
	// SATSingleAddr: a TEK selector that is one IPv4 address goes out as
	// ID_IPV4_ADDR (4 octets) rather than as a /32 ID_IPV4_ADDR_SUBNET (8).
	// RFC 6407 §5.4.1 allows either; gdoid's GM takes a DST only as
	// ID_IPV4_ADDR ("Invalid length for dst IP addr: 8"). Decoding takes
	// both always (they are unambiguous).
	SATSingleAddr bool
	// SATAddrHostOrder: SAT SRC/DST IPv4 addresses travel byte-reversed.
	// RFC 6407 §5.4.1 carries RFC 2407 §4.6.2 identification data, in
	// network order; gdoid copies its configured addresses in the host's
	// (little-endian) order, so 10.77.0.11 goes out as 0b004d0a. The SAK's
	// addresses and every port stay in network order. A reversed address
	// cannot be told from a real one, so this switch applies to reading
	// too (SATAddr).
	SATAddrHostOrder bool
	// KeyIDHostOrder: the ID_KEY_ID group number of GROUPKEY-PULL message
	// 1 is little-endian (gdoid's Key-value=1234 goes out as d2040000)
	// rather than the network order of RFC 6407 §3.2 / RFC 2407 §4.6.2.1.
	// Like the addresses it is ambiguous on the wire, so it applies to
	// reading too (KeyIDWire).
	KeyIDHostOrder bool
	// Strict makes the decoder accept only this profile's forms.
	Strict bool
}

// Named profiles.
var (
	// ProfileRFC is the RFC form, as Wireshark 4.0 dissects it: SAK ID
	// lengths 1 octet, SAT ID lengths 2 octets, RESERVED2 4 octets.
	ProfileRFC = Profile{Name: "rfc"}
	// ProfileGdoid is the Cisco GDOI reference implementation (gdoid,
	// isakmpd-derived) as it runs out of the box on a little-endian host:
	// 1-octet ID lengths in SAK and SAT, 2 extra octets in the SAK after
	// RESERVED2 (src/gdoi_fld.fld), single-address TEK selectors, and the
	// group number and TEK addresses in host byte order.
	ProfileGdoid = Profile{Name: "gdoid", SAKExtraPOPKeyLen: true, SATIDLen1: true,
		SATSingleAddr: true, SATAddrHostOrder: true, KeyIDHostOrder: true}
	// ProfileGdoidRFCWire is gdoid configured with byte-swapped group
	// number and TEK addresses (Key-value=3523477504 for group 1234), so
	// that both travel in network order: ProfileGdoid without the host
	// byte order.
	ProfileGdoidRFCWire = Profile{Name: "gdoid-rfcwire", SAKExtraPOPKeyLen: true, SATIDLen1: true, SATSingleAddr: true}
	// ProfileTrustCore is DigiCert TrustCore (ex-Mocana NanoSec) GDOI:
	// 2-octet ID lengths in SAK and SAT (SIZEOF_GDOI_SAA_ID 5).
	ProfileTrustCore = Profile{Name: "trustcore", SAKIDLen2: true}
)

// Profiles lists the named profiles.
var Profiles = []Profile{ProfileRFC, ProfileGdoid, ProfileGdoidRFCWire, ProfileTrustCore}

// ProfileByName returns the named profile ("rfc", "gdoid",
// "gdoid-rfcwire", "trustcore").
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// KeyIDWire is the value that the four octets of a KEY_ID carrying group
// have when read in network order (isakmp.NewGroupID and ID.Group read and
// write that value). It is its own inverse: KeyIDWire(KeyIDWire(g)) == g.
func (p Profile) KeyIDWire(group uint32) uint32 {
	if p.KeyIDHostOrder {
		return bits.ReverseBytes32(group)
	}
	return group
}

// SATAddr maps a SAT IPv4 address between the wire and its meaning (both
// ways: the mapping is its own inverse).
func (p Profile) SATAddr(a netip.Addr) netip.Addr {
	if !p.SATAddrHostOrder || !a.Is4() {
		return a
	}
	b := a.As4()
	slices.Reverse(b[:])
	return netip.AddrFrom4(b)
}

// SATIDFromWire undoes SATAddrHostOrder on a decoded SAT selector (address,
// mask or range bounds), so that it parses as what it means.
func (p Profile) SATIDFromWire(id ID) ID {
	return Profile{SATAddrHostOrder: p.SATAddrHostOrder}.satID(id)
}

// satID is a SAT selector as the profile writes it.
func (p Profile) satID(id ID) ID {
	if p.SATSingleAddr && id.IDType == isakmp.IDIPv4AddrSubnet {
		if pr, err := id.Prefix(); err == nil && pr.Bits() == 32 {
			id = AddrID(pr.Addr(), id.Port)
		}
	}
	if p.SATAddrHostOrder {
		switch id.IDType {
		case isakmp.IDIPv4Addr, isakmp.IDIPv4AddrSubnet, isakmp.IDIPv4AddrRange:
			// Every 4-octet field of the data (address, mask, bounds).
			d := slices.Clone(id.Data)
			for i := 0; i+4 <= len(d); i += 4 {
				slices.Reverse(d[i : i+4])
			}
			id.Data = d
		}
	}
	return id
}

// Apply sets the wire form of every SAK and SAT in ps, and of those nested
// in a GDOI SA of ps, to the profile's, so that Append writes it: ID
// length widths, and for SATs built in code the selector encoding
// (SATSingleAddr, SATAddrHostOrder). Apply a profile once: byte orders
// would be swapped back by a second call.
func (p Profile) Apply(ps ...isakmp.Payload) {
	for _, x := range ps {
		switch v := x.(type) {
		case *SA:
			p.Apply(v.Payloads...)
		case *SAK:
			v.IDLen2 = p.SAKIDLen2
			v.ExtraPOPKeyLen = p.SAKExtraPOPKeyLen
		case *SAT:
			v.IDLen1 = p.SATIDLen1
			v.Src, v.Dst = p.satID(v.Src), p.satID(v.Dst)
		}
	}
}

type sakForm struct{ idLen2, extra bool }

// sakForms returns the SAK forms to try, the profile's first.
func (p Profile) sakForms() []sakForm {
	own := sakForm{p.SAKIDLen2, p.SAKExtraPOPKeyLen}
	if p.Strict {
		return []sakForm{own}
	}
	forms := []sakForm{own}
	for _, f := range []sakForm{{false, false}, {false, true}, {true, false}, {true, true}} {
		if f != own {
			forms = append(forms, f)
		}
	}
	return forms
}

// satForms returns the SAT ID-length forms (true: 1 octet) to try, the
// profile's first.
func (p Profile) satForms() []bool {
	if p.Strict {
		return []bool{p.SATIDLen1}
	}
	return []bool{p.SATIDLen1, !p.SATIDLen1}
}

// firstForm parses b in each of forms in turn and returns the first result
// that parses. If none does, it returns the error of the first form, the
// profile's own: what is wrong with the payload as that implementation
// would have sent it.
func firstForm[F any, P any](b []byte, forms []F, parse func([]byte, F) (*P, int, error)) (*P, int, error) {
	var first error
	for _, f := range forms {
		p, n, err := parse(b, f)
		if err == nil {
			return p, n, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, 0, first
}
