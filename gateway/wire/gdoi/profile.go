package gdoi

import "github.com/getlab/getlab/gateway/wire/isakmp"

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
	// Strict makes the decoder accept only this profile's forms.
	Strict bool
}

// Named profiles.
var (
	// ProfileRFC is the RFC form, as Wireshark 4.0 dissects it: SAK ID
	// lengths 1 octet, SAT ID lengths 2 octets, RESERVED2 4 octets.
	ProfileRFC = Profile{Name: "rfc"}
	// ProfileGdoid is the Cisco GDOI reference implementation (gdoid,
	// isakmpd-derived): 1-octet ID lengths in SAK and SAT, 2 extra octets in
	// the SAK after RESERVED2 (src/gdoi_fld.fld).
	ProfileGdoid = Profile{Name: "gdoid", SAKExtraPOPKeyLen: true, SATIDLen1: true}
	// ProfileTrustCore is DigiCert TrustCore (ex-Mocana NanoSec) GDOI:
	// 2-octet ID lengths in SAK and SAT (SIZEOF_GDOI_SAA_ID 5).
	ProfileTrustCore = Profile{Name: "trustcore", SAKIDLen2: true}
)

// Profiles lists the named profiles.
var Profiles = []Profile{ProfileRFC, ProfileGdoid, ProfileTrustCore}

// ProfileByName returns the named profile ("rfc", "gdoid", "trustcore").
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Apply sets the wire form of every SAK and SAT in ps, and of those nested
// in a GDOI SA of ps, to the profile's, so that Append writes it.
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
