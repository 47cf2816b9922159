package gdoi

import (
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Each fuzz target asserts that its decoder never panics and that whatever
// parses re-encodes to octets that parse to the same value. The first octet
// of the input picks the profile (and strictness) where the decoder has one.

func fuzzProfile(b []byte) (Profile, []byte) {
	if len(b) == 0 {
		return ProfileRFC, b
	}
	p := Profiles[int(b[0])%len(Profiles)]
	p.Strict = b[0]&0x80 != 0
	return p, b[1:]
}

func seeds(f *testing.F, bodies ...[]byte) {
	for _, b := range bodies {
		for i := range Profiles {
			f.Add(append([]byte{byte(i)}, b...))
		}
	}
}

// fuzzProfiled fuzzes a parser that takes a profile, which the input's
// first octet picks (fuzzProfile); use exercises what parses.
func fuzzProfiled[T isakmp.Payload](f *testing.F, parse func([]byte, Profile) (T, int, error), use func(T)) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, body := fuzzProfile(b)
		if x := roundTrip(t, withProfile(parse, p), body); x != nil {
			use(x.(T))
		}
	})
}

func FuzzParseGDOISA(f *testing.F) {
	seeds(f, gdoiSABody, gdoidSABody, trustCoreSABody, NewSA(&isakmp.Raw{Kind: 19, Body: []byte{1}}).Append(nil))
	fuzzProfiled(f, parsePullSA, func(sa *SA) { _ = isakmp.Layout([]isakmp.Payload{sa}) })
}

func FuzzParseSAK(f *testing.F) {
	seeds(f, testSAK.Append(nil), hx(`11 01 0000 00 01 0350 00 0102030405060708 1112131415161718 00000000 0007 8002 0003`))
	fuzzProfiled(f, parseSAK, func(sak *SAK) {
		sak.Src.Addr()
		sak.Dst.Prefix()
		_ = sak.Dst.String()
	})
}

func FuzzParseSAT(f *testing.F) {
	seeds(f, testSAT.Append(nil), hx("a1 00010203"))
	fuzzProfiled(f, parseSAT, func(sat *SAT) {
		sat.Src.Prefix()
		sat.Dst.Range()
		sat.AddressPreservation()
		sat.Direction()
	})
}

func FuzzParseGAP(f *testing.F) {
	f.Add(testGAP.Append(nil))
	f.Add(hx("8003 0004"))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, adapt(parseGAP), b) })
}

func FuzzParseKD(f *testing.F) {
	f.Add(kdBody)
	f.Add(hx(`0002 0000 04 00 0015 00 8001 0010 0002 0002 0001 0002 0002 0002 09 00 0007 010203`))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, adapt(parseKD), b) })
}

func FuzzParseSEQ(f *testing.F) {
	f.Add(hx("0000002a"))
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, adapt(parseSEQ), b) })
}

// FuzzParseMessage runs whole messages through isakmp.ParseMessage with the
// GDOI decoder.
func FuzzParseMessage(f *testing.F) {
	seeds(f, pull2(), push())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, msg := fuzzProfile(b)
		messageRoundTrip(t, msg, Decoder{Profile: p})
	})
}
