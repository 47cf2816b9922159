package gm_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/gm"
	"github.com/getlab/getlab/gateway/internal/gdoidcorpus"
	"github.com/getlab/getlab/gateway/phase1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// (b) A getvpnd GM holding the policy of each a-* capture's first
// registration (PULL 2's SA and PULL 4's SEQ and KD, from the decrypted
// copy) takes every GROUPKEY-PUSH of the capture — the real encrypted
// datagrams — as gdoid's GMs did: TEK rekey, KEK rekey whose key packet has
// the old KEK SPI, TEK rekey under the new KEK, and the Delete; after each
// the sequence number, KEK SPI and TEK SPIs are those the PUSH (decoded
// from the decrypted copy) announces.
func TestGdoidPushes(t *testing.T) {
	dir := gdoidcorpus.Dir(t)
	for _, c := range gdoidcorpus.GdoidRuns {
		t.Run(c.Name, func(t *testing.T) { gdoidRun(t, dir, c) })
	}
}

func gdoidRun(t *testing.T, dir string, c gdoidcorpus.Capture) {
	profile := "gdoid"
	if c.RFCWire {
		profile = "gdoid-rfcwire"
	}
	ip, _ := gdoi.InteropByName(profile)
	capPath, decPath := c.Paths(dir)
	wire, clear := gdoidcorpus.UDP(t, capPath), gdoidcorpus.UDP(t, decPath)
	dec := gdoiwire.Decoder{Profile: ip.Wire}
	ks := netip.MustParseAddrPort("10.77.0.1:848")
	gm1 := netip.MustParseAddrPort("10.77.0.11:848")

	// The first registration: PULL 1, 2 and 4 between KS and GM1.
	var pull1 *isakmp.ID
	var sa *gdoiwire.SA
	var kd *gdoiwire.KD
	var seq *gdoiwire.SEQ
	type pushInfo struct {
		frame int
		m     *isakmp.Message
	}
	var pushes []pushInfo
	for _, f := range clear {
		m, err := isakmp.ParseMessage(f.Payload, dec)
		if err != nil {
			continue
		}
		switch {
		case m.Header.Exchange == isakmp.ExchangeGroupkeyPush:
			pushes = append(pushes, pushInfo{f.Index, m})
		case m.Header.Exchange != isakmp.ExchangeGroupkeyPull || kd != nil:
		case f.Src == gm1 && pull1 == nil:
			pull1, _ = isakmp.First[*isakmp.ID](m)
		case f.Src == ks && f.Dst == gm1 && sa == nil:
			sa, _ = isakmp.First[*gdoiwire.SA](m)
		case f.Src == ks && f.Dst == gm1:
			kd, _ = isakmp.First[*gdoiwire.KD](m)
			seq, _ = isakmp.First[*gdoiwire.SEQ](m)
		}
	}
	if pull1 == nil || sa == nil || kd == nil || seq == nil || len(pushes) != 4 {
		t.Fatalf("registration not found (ID %v SA %v KD %v SEQ %v), %d PUSHes", pull1 != nil, sa != nil, kd != nil, seq != nil, len(pushes))
	}
	// The group number gdoid's GM sent is 1234 under the run's profile.
	if g, err := pull1.Group(); err != nil || ip.Wire.KeyIDWire(g) != 1234 {
		t.Fatalf("KEY_ID %x is not group 1234 under %s", pull1.Data, profile)
	}
	pol, err := gdoi.ParsePolicyWith(1234, sa, kd, seq, gdoi.ParseOptions{Wire: ip.Wire})
	if err != nil {
		t.Fatal(err)
	}
	// The TEK selectors mean what gdoid's KS was configured with.
	if s := pol.TEKs[0].Selector; s.Src.String() != "10.77.0.11/32" || s.Dst.String() != "239.1.1.1/32" {
		t.Errorf("TEK 1 selector %s -> %s", s.Src, s.Dst)
	}

	y := fmt.Sprintf(`
role: gm
identity: 10.77.0.11
timers: {scale: 1000}
data_plane: {enabled: false}
ike:
  policies: [{encryption: aes128, hash: sha256, dh_group: 19, lifetime: 1200}]
  pre_shared_keys: [{peer: 10.77.0.1, key: mekmitasdigoat}]
groups:
  - {name: g1234, id: 1234, interop_profile: %s, ks_list: [10.77.0.1]}
`, profile)
	cfg, err := config.Parse([]byte(y), "gm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	counters := &events.Counters{}
	m, err := gm.New(cfg, gm.Options{Env: phase1.Env{Events: events.New(&log, "text", "info"), Counters: counters, Local: gm1,
		Send: func(netip.AddrPort, []byte) {}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	m.InstallForTest("g1234", ks, pol)

	// The encrypted PUSH datagrams, in order.
	var enc [][]byte
	for _, f := range wire {
		if h, _, err := isakmp.ParseHeader(f.Payload); err == nil && h.Exchange == isakmp.ExchangeGroupkeyPush {
			enc = append(enc, f.Payload)
		}
	}
	if len(enc) != len(pushes) {
		t.Fatalf("%d encrypted PUSHes, %d decrypted", len(enc), len(pushes))
	}
	kek := pol.KEK.SPI
	teks := tekSPIs(pol.TEKs)
	for i, p := range pushes {
		push, _ := isakmp.First[*gdoiwire.SEQ](p.m)
		if psa, ok := isakmp.First[*gdoiwire.SA](p.m); ok {
			kek = psa.SAK().SPI
			if sats := psa.SATs(); len(sats) > 0 {
				teks = nil
				for _, s := range sats {
					teks = append(teks, s.SPI)
				}
			}
		}
		if d, ok := isakmp.First[*isakmp.Delete](p.m); ok {
			teks = slices.DeleteFunc(teks, func(spi uint32) bool {
				return slices.ContainsFunc(d.SPIs, func(b []byte) bool { return len(b) == 4 && binary.BigEndian.Uint32(b) == spi })
			})
		}
		m.HandlePacket(ks, enc[i])
		got := m.PolicyForTest("g1234")
		if got.Seq != push.Seq || got.KEK.SPI != kek || !slices.Equal(tekSPIs(got.TEKs), teks) {
			t.Fatalf("after PUSH %d (frame %d, seq %d): seq %d KEK %x TEKs %08x, want KEK %x TEKs %08x\n%s",
				i+1, p.frame, push.Seq, got.Seq, got.KEK.SPI, tekSPIs(got.TEKs), kek, teks, log.String())
		}
	}
	cs := m.Counters()
	if cs["rekeys_received"] != 4 {
		t.Errorf("counters %v", cs)
	}
	for name, v := range cs {
		if strings.HasPrefix(name, "rekey_") && v > 0 {
			t.Errorf("counter %s = %d", name, v)
		}
	}
	if len(teks) != 0 {
		t.Errorf("TEKs %08x left after the Delete", teks)
	}
}

func tekSPIs(ts []gdoi.TEK) []uint32 {
	var out []uint32
	for _, t := range ts {
		out = append(out, t.SPI)
	}
	return out
}

// getvpnd's KS and GM, both under profile gdoid, in process: the GM
// registers (group number in host order, gdoid's PULL 2 layout), takes the
// TEK rekeys and the KEK rekey (key packet under the old SPI, no TEKs) and
// sends no acknowledgement (no KEK_ACK_REQUESTED).
func TestGdoidProfileKSAndGM(t *testing.T) {
	l := newLabProfile(t, 1, "gdoid")
	reg := l.status()
	if len(reg.TEKs) != 1 || reg.KEK == "" {
		t.Fatalf("registration: %+v", reg)
	}
	for i := 0; i < 4 && l.status().KEK == reg.KEK; i++ {
		l.nextRekey(1500 * time.Second)
	}
	st := l.wait("KEK rekey", func(st snap) bool { return st.KEK != reg.KEK })
	if st.Rejected != 0 || st.Acks != 0 || st.PreviousKEK != reg.KEK || len(st.TEKs) == 0 {
		t.Fatalf("after the KEK rekey: %+v (registration %+v)", st, reg)
	}
	if n := l.counter("rekey_install_failed") + l.counter("rekey_bad_signature") + l.counter("rekey_malformed"); n != 0 {
		t.Fatalf("%d rekeys refused", n)
	}
}
