package ks

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// mixedYAML is gdoid's corpus KS (a-plain-kekaes: TEK1 3DES + HMAC-SHA1,
// TEK2 AES-CBC-128 + HMAC-SHA1) as a getvpnd group: the first permit entry
// takes the group's first transform, the second names its own.
var mixedYAML = testnet.KSYAML(19) + `    tek_lifetime: 900
    transforms: [3des-sha1, aes128-sha1]
    acl:
      - {action: deny, protocol: udp, destination_port: 848}
      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}
      - {action: permit, protocol: ip, source: 10.2.0.0/16, destination: 10.1.0.0/16, transform: aes128-sha1}
    rekey: {transport: unicast, retransmit: {interval: 10, count: 2}, signing_key: {bits: 1024}}
`

var (
	tdesSHA1 = esp.Transform{ID: esp.Transform3DES, Auth: esp.AuthHMACSHA1}
	aesSHA1  = esp.Transform{ID: esp.TransformAESCBC, KeyBits: 128, Auth: esp.AuthHMACSHA1}
	// mixedWant is each permit entry's TEK, by source selector.
	mixedWant = map[netip.Prefix]esp.Transform{
		netip.MustParsePrefix("10.1.0.0/16"): tdesSHA1,
		netip.MustParsePrefix("10.2.0.0/16"): aesSHA1,
	}
)

// checkMixedTEKs checks that teks are one per permit entry of mixedYAML,
// each with its entry's transform and keys of that transform's lengths.
func checkMixedTEKs(t *testing.T, what string, teks []gdoi.TEK) {
	t.Helper()
	if len(teks) != len(mixedWant) {
		t.Fatalf("%s: %d TEKs, want %d", what, len(teks), len(mixedWant))
	}
	seen := map[netip.Prefix]bool{}
	for _, k := range teks {
		want, ok := mixedWant[k.Src]
		if !ok || seen[k.Src] {
			t.Errorf("%s: TEK for %v (twice, or no such entry)", what, k.Selector)
			continue
		}
		seen[k.Src] = true
		if k.Transform != want || len(k.EncKey) != want.EncKeyLen() || len(k.AuthKey) != 20 {
			t.Errorf("%s: TEK %v: %s with %d+%d key octets, want %s with %d+20", what, k.Src, k.Transform, len(k.EncKey), len(k.AuthKey), want, want.EncKeyLen())
		}
	}
}

// TestPerEntryTransforms: a KS whose permit entries have different
// transforms hands out a TEK per entry with its transform, in PULL 2's SATs
// (transform ID, KEY_LENGTH for AES only, AUTH_ALGORITHM) and the KD (24-
// and 16-octet cipher keys, 20-octet HMAC keys), which a GM parses; a
// rekey keeps each entry's transform.
func TestPerEntryTransforms(t *testing.T) {
	cfg, err := config.Parse([]byte(mixedYAML), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	k := newTestKSAt(t, cfg, clk.Now)
	addr := testnet.GM(1)
	pol, err := k.register(addr, "lab-secret", 19, 1234)
	if err != nil {
		t.Fatal(err)
	}
	checkMixedTEKs(t, "registration", pol.TEKs)
	if len(pol.SIDs) != 0 {
		t.Errorf("Sender-IDs %v for a group without counter mode", pol.SIDs)
	}

	// The control API shows each TEK's transform, and the entry's.
	st := k.srv.GDOI().Groups[0]
	got := map[string]string{}
	for _, tk := range st.TEKs {
		got[tk.Src] = tk.Transform
	}
	if len(got) != 2 || got["10.1.0.0/16"] != "3des-sha1" || got["10.2.0.0/16"] != "aes128-sha1" {
		t.Errorf("status TEKs: %v", got)
	}
	if len(st.ACL) != 3 || st.ACL[2] != "permit ip 10.2.0.0/16 10.1.0.0/16 transform aes128-sha1" {
		t.Errorf("status ACL: %q", st.ACL)
	}

	// The payloads as the KS writes them for the GM.
	k.srv.mu.Lock()
	g := k.srv.groups[1234]
	p := g.policy(k.srv.elapsed, addr.Addr())
	sa, kd := p.SAPayloadFor(g.interop), p.KDPayloadFor(g.interop, nil)
	k.srv.mu.Unlock()
	type satWant struct {
		id             uint8
		keyBits        uint64 // 0: no KEY_LENGTH
		encLen, intLen int
	}
	byID := map[uint8]satWant{3: {3, 0, 24, 20}, 12: {12, 128, 16, 20}}
	var sats []*gdoiwire.SAT // the deny entry's bypass SAT aside
	for _, s := range sa.SATs() {
		if s.ProtocolID == gdoiwire.TEKProtoESP {
			sats = append(sats, s)
		}
	}
	if len(sats) != 2 || sats[0].TransformID == sats[1].TransformID {
		t.Fatalf("PULL 2: %d SATs, transform IDs %d, %d", len(sats), sats[0].TransformID, sats[len(sats)-1].TransformID)
	}
	for _, s := range sats {
		w, ok := byID[s.TransformID]
		if !ok {
			t.Errorf("SAT transform ID %d, want 3 (ESP_3DES) or 12 (ESP_AES-CBC)", s.TransformID)
			continue
		}
		kb, hasKB := s.Attributes.Uint(gdoiwire.KeyLength)
		if (w.keyBits != 0) != hasKB || kb != w.keyBits {
			t.Errorf("SAT %d: KEY_LENGTH %d (present %v), want %d", s.TransformID, kb, hasKB, w.keyBits)
		}
		if a, _ := s.Attributes.Uint(gdoiwire.AuthAlgorithm); a != 2 {
			t.Errorf("SAT %d: AUTH_ALGORITHM %d, want 2 (HMAC-SHA1)", s.TransformID, a)
		}
		kp, ok := kd.Get(gdoiwire.KDTEK, binary.BigEndian.AppendUint32(nil, s.SPI))
		if !ok {
			t.Fatalf("no KD key packet for SAT %d", s.TransformID)
		}
		enc, _ := kp.Attributes.Get(gdoiwire.TEKAlgorithmKey)
		integ, _ := kp.Attributes.Get(gdoiwire.TEKIntegrityKey)
		if len(enc.Data) != w.encLen || len(integ.Data) != w.intLen {
			t.Errorf("KD for transform %d: %d+%d key octets, want %d+%d", s.TransformID, len(enc.Data), len(integ.Data), w.encLen, w.intLen)
		}
	}

	// The TEK rekey carries the deny entry, the old TEKs and new ones, each
	// new one with its entry's transform.
	end := &gmEnd{addr: addr, ch: k.peer(addr), policy: pol}
	push, _ := advanceUntilPush(t, k, clk, end, 1000*time.Second)
	if push.SA == nil || len(push.SA.SATs()) != 5 {
		t.Fatalf("TEK rekey: %+v", push)
	}
	old := map[uint32]bool{}
	for _, tk := range pol.TEKs {
		old[tk.SPI] = true
	}
	var fresh []gdoi.TEK
	for _, tk := range end.policy.TEKs {
		if !old[tk.SPI] {
			fresh = append(fresh, tk)
		}
	}
	checkMixedTEKs(t, "rekey", fresh)
}
