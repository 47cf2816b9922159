package ks

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/gdoidcorpus"
	"github.com/getlab/getlab/gateway/phase1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Offline interop with gdoid (Cisco's GDOI reference implementation) over
// the capture corpus in shared/interop/gdoid (see its README: "Wire
// differences from RFC 6407 seen in these captures").

func strictProfile(c gdoidcorpus.Capture) gdoiwire.Profile {
	p := gdoiwire.ProfileGdoid
	if c.RFCWire {
		p = gdoiwire.ProfileGdoidRFCWire
	}
	p.Strict = true
	return p
}

// corpusMessages decodes every ISAKMP message of a decrypted copy with dec,
// by frame number.
func corpusMessages(t *testing.T, path string, dec isakmp.Decoder) (map[int]*isakmp.Message, map[int]error) {
	t.Helper()
	frames := gdoidcorpus.UDP(t, path)
	ms, errs := map[int]*isakmp.Message{}, map[int]error{}
	for _, f := range frames {
		if f.Src.Port() != 848 && f.Dst.Port() != 848 {
			continue
		}
		m, err := isakmp.ParseMessage(f.Payload, dec)
		if err == nil {
			err = m.Check()
		}
		if err != nil {
			errs[f.Index] = err
			continue
		}
		ms[f.Index] = m
	}
	return ms, errs
}

// (a) Every message gdoid sent or received decodes under the gdoid profile,
// strictly, with nothing malformed; the strict RFC profile fails on the
// messages with a gdoid SAK (so the check can fail).
func TestGdoidCorpusDecodes(t *testing.T) {
	dir := gdoidcorpus.Dir(t)
	for _, c := range gdoidcorpus.GdoidRuns {
		t.Run(c.Name, func(t *testing.T) {
			_, dec := c.Paths(dir)
			ms, errs := corpusMessages(t, dec, gdoiwire.Decoder{Profile: strictProfile(c)})
			for i, err := range errs {
				t.Errorf("frame %d: %v", i, err)
			}
			var pulls, pushes int
			for _, m := range ms {
				switch m.Header.Exchange {
				case isakmp.ExchangeGroupkeyPull:
					pulls++
				case isakmp.ExchangeGroupkeyPush:
					pushes++
				}
			}
			if pulls == 0 || pushes != 4 {
				t.Errorf("%d PULL messages, %d PUSHes (want 4)", pulls, pushes)
			}
			rfc := gdoiwire.ProfileRFC
			rfc.Strict = true
			_, rfcErrs := corpusMessages(t, dec, gdoiwire.Decoder{Profile: rfc})
			if len(rfcErrs) == 0 {
				t.Error("the strict RFC profile read gdoid's SAKs")
			}
		})
	}
}

// corpusKS is a KS configured like gdoid's KS of the a-* runs
// (configs/a-plain-kekaes/gdoi_ks.conf): group 1234, TEKs for 10.77.0.11
// -> 239.1.1.1 (3DES + HMAC-SHA1) and 10.77.0.12 -> 239.1.1.2 (AES-CBC-128
// + HMAC-SHA1), rekeys to 239.10.1.1:848, RSA-2048; plus a deny entry,
// which the gdoid profile must not download.
func corpusKS(t *testing.T, profile string) (*Server, *[]datagramOut, *time.Time) {
	t.Helper()
	y := fmt.Sprintf(`
role: ks
identity: 10.77.0.1
state_file: ""
ike:
  policies: [{encryption: aes128, hash: sha256, dh_group: 19, lifetime: 86400}]
  pre_shared_keys: [{peer: 0.0.0.0, key: mekmitasdigoat}]
groups:
  - name: g1234
    id: 1234
    interop_profile: %s
    tek_lifetime: 60
    kek_lifetime: 300
    transforms: [3des-sha1, aes128-sha1]
    acl:
      - {action: deny, protocol: udp, destination_port: 848}
      - {action: permit, protocol: ip, source: 10.77.0.11/32, destination: 239.1.1.1/32}
      - {action: permit, protocol: ip, source: 10.77.0.12/32, destination: 239.1.1.2/32, transform: aes128-sha1}
    rekey: {transport: multicast, address: 239.10.1.1, port: 848, retransmit: {interval: 10, count: 0}, signing_key: {bits: 2048}}
`, profile)
	cfg, err := config.Parse([]byte(y), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	var sent []datagramOut
	s, err := New(cfg, Options{Env: phase1.Env{
		Events: events.New(io.Discard, "text", "error"), Counters: &events.Counters{},
		Local: netip.MustParseAddrPort("10.77.0.1:848"), Now: func() time.Time { return now },
		Send: func(to netip.AddrPort, b []byte) { sent = append(sent, datagramOut{to, b}) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s, &sent, &now
}

type datagramOut struct {
	to netip.AddrPort
	b  []byte
}

// shape is a payload's layout with keys, SPIs, lifetimes and addresses
// left out: what must match gdoid's field for field.
func shape(p isakmp.Payload) []string {
	switch v := p.(type) {
	case *gdoiwire.SA:
		out := []string{fmt.Sprintf("SA doi=%d", v.DOI)}
		for _, q := range v.Payloads {
			out = append(out, shape(q)...)
		}
		return out
	case *gdoiwire.SAK:
		return []string{fmt.Sprintf("SAK proto=%d idlen2=%v extra=%v src=%s/%d:%d dst=%s/%d:%d attrs=%s",
			v.Protocol, v.IDLen2, v.ExtraPOPKeyLen, v.Src.IDType, len(v.Src.Data), v.Src.Port, v.Dst.IDType, len(v.Dst.Data), v.Dst.Port, attrTypes(v.Attributes))}
	case *gdoiwire.SAT:
		return []string{fmt.Sprintf("SAT %s ipproto=%d idlen1=%v src=%s/%d:%d dst=%s/%d:%d",
			v.ProtocolID, v.Protocol, v.IDLen1, v.Src.IDType, len(v.Src.Data), v.Src.Port, v.Dst.IDType, len(v.Dst.Data), v.Dst.Port)}
	case *gdoiwire.KD:
		var out []string
		for _, k := range v.Packets {
			out = append(out, fmt.Sprintf("KD %v spi=%d attrs=%s", k.Type, len(k.SPI), attrTypes(k.Attributes)))
		}
		return out
	}
	return []string{p.Type().String()}
}

func attrTypes(as isakmp.Attributes) string {
	var s []string
	for _, a := range as {
		s = append(s, fmt.Sprint(a.Type))
	}
	return strings.Join(s, ",")
}

func shapes(ps []isakmp.Payload) []string {
	var out []string
	for _, p := range ps {
		out = append(out, shape(p)...)
	}
	return out
}

// satAttrs is each SAT's transform ID and attribute types: gdoid's TEK1 is
// 3DES (no KEY_LENGTH), TEK2 AES-CBC-128, and so are ours.
func satAttrs(sa *gdoiwire.SA) []string {
	var out []string
	for _, s := range sa.SATs() {
		out = append(out, fmt.Sprintf("transform=%d attrs=%s", s.TransformID, attrTypes(s.Attributes)))
	}
	return out
}

// (c) The KS under profile gdoid writes PULL 2's SA, PULL 4's KD and the
// PUSHes (TEK rekey, KEK rekey) with gdoid's layout: compared field by field
// with a-plain-kekaes frames 8, 10, 25 and 26, keys, SPIs and times aside;
// the TEK addresses and the SAK's are gdoid's octets.
func TestGdoidLayoutKS(t *testing.T) {
	dir := gdoidcorpus.Dir(t)
	c := gdoidcorpus.GdoidRuns[0] // a-plain-kekaes
	_, dec := c.Paths(dir)
	ms, errs := corpusMessages(t, dec, gdoiwire.Decoder{Profile: strictProfile(c)})
	if len(errs) > 0 {
		t.Fatalf("corpus: %v", errs)
	}
	body := func(frame int) []isakmp.Payload {
		m := ms[frame]
		if m == nil {
			t.Fatalf("no message in frame %d", frame)
		}
		return m.Payloads
	}
	s, sent, now := corpusKS(t, "gdoid")
	g := s.groups[gdoiwire.ProfileGdoid.KeyIDWire(1234)]
	if g == nil {
		t.Fatal("group 1234 is not found by gdoid's KEY_ID d2040000")
	}

	// PULL 2 (frame 8: HASH, NONCE, SA) and PULL 4 (frame 10: HASH, SEQ, KD).
	gm := netip.MustParseAddr("10.77.0.11")
	pol := g.policy(s.elapsed, gm)
	ip := g.interop
	theirs2 := body(8)
	ours2 := []isakmp.Payload{&isakmp.Hash{}, &isakmp.Nonce{}, pol.SAPayloadFor(ip)}
	compare(t, "PULL 2", shapes(ours2), shapes(theirs2))
	theirSA := theirs2[2].(*gdoiwire.SA)
	ourSA := ours2[2].(*gdoiwire.SA)
	if got, want := satAttrs(ourSA), satAttrs(theirSA); !slices.Equal(got, want) {
		t.Errorf("SAT attributes %v, gdoid's %v", got, want)
	}
	for i, s := range ourSA.SATs() {
		ts := theirSA.SATs()[i]
		if string(s.Src.Data) != string(ts.Src.Data) || string(s.Dst.Data) != string(ts.Dst.Data) {
			t.Errorf("SAT %d: %x -> %x, gdoid's %x -> %x", i, s.Src.Data, s.Dst.Data, ts.Src.Data, ts.Dst.Data)
		}
	}
	osak, tsak := ourSA.SAK(), theirSA.SAK()
	if string(osak.Src.Data) != string(tsak.Src.Data) || osak.Src.Port != tsak.Src.Port ||
		string(osak.Dst.Data) != string(tsak.Dst.Data) || osak.Dst.Port != tsak.Dst.Port {
		t.Errorf("SAK %s -> %s, gdoid's %s -> %s", osak.Src, osak.Dst, tsak.Src, tsak.Dst)
	}
	for _, a := range []uint16{gdoiwire.KEKAlgorithm, gdoiwire.KEKKeyLength, gdoiwire.SigHashAlgorithm, gdoiwire.SigAlgorithm, gdoiwire.SigKeyLength} {
		ov, _ := osak.Attributes.Uint(a)
		tv, _ := tsak.Attributes.Uint(a)
		if ov != tv {
			t.Errorf("SAK attribute %d: %d, gdoid's %d", a, ov, tv)
		}
	}
	if v, _ := osak.Attributes.Uint(gdoiwire.KEKKeyLifetime); v != 300 {
		t.Errorf("KEK_KEY_LIFETIME %d, want the full 300 (fact 13)", v)
	}
	compare(t, "PULL 4", shapes([]isakmp.Payload{&isakmp.Hash{}, &gdoiwire.SEQ{}, pol.KDPayloadFor(ip, nil)}), shapes(body(10)))

	// The TEK rekey (frame 25: old and new TEKs) and the KEK rekey (frame
	// 26), from the KS's own rekey round, opened with the KEK.
	push := func(newKEK, newTEK bool) (*gdoi.Push, *gdoi.KEK) {
		*now = now.Add(20 * time.Second)
		protect := g.kek
		*sent = (*sent)[:0]
		s.startRound(g, *now, newKEK, newTEK)
		if len(*sent) != 1 || (*sent)[0].to != netip.MustParseAddrPort("239.10.1.1:848") {
			t.Fatalf("sent %d datagrams", len(*sent))
		}
		p, err := gdoi.OpenPush((*sent)[0].b, protect)
		if err != nil {
			t.Fatal(err)
		}
		return p, protect
	}
	pushShape := func(p *gdoi.Push) []string {
		ps := []isakmp.Payload{&gdoiwire.SEQ{}}
		if p.SA != nil {
			ps = append(ps, p.SA, p.KD)
		}
		return append(shapes(ps), "SIG")
	}
	p1, _ := push(false, true)
	compare(t, "TEK rekey", pushShape(p1), shapes(body(25)))
	p2, old := push(true, false)
	compare(t, "KEK rekey", pushShape(p2), shapes(body(26)))
	if got := p2.KD.Packets[0].SPI; string(got) != string(old.SPI[:]) || p2.SA.SAK().SPI == old.SPI {
		t.Errorf("KEK rekey: key packet under %x, old KEK %x, new %x (fact 8)", got, old.SPI, p2.SA.SAK().SPI)
	}
}

func compare(t *testing.T, what string, ours, theirs []string) {
	t.Helper()
	if !slices.Equal(ours, theirs) {
		t.Errorf("%s layout differs from gdoid's:\n ours   %s\n gdoid  %s", what, strings.Join(ours, "\n        "), strings.Join(theirs, "\n        "))
	}
}
