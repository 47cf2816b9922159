package gm_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/dataplane"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// mixedKSYAML is the lab's KS with gdoid's corpus transforms (a-plain-
// kekaes: TEK1 3DES + HMAC-SHA1, TEK2 AES-CBC-128 + HMAC-SHA1): the first
// permit entry takes the group's first transform, the second names its
// own.
var mixedKSYAML = strings.Replace(strings.Replace(ksYAML,
	"    transforms: [aes128gcm16]\n", "    transforms: [3des-sha1, aes128-sha1]\n", 1),
	"      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}\n",
	"      - {action: permit, protocol: ip, source: 10.1.0.0/16, destination: 10.2.0.0/16}\n"+
		"      - {action: permit, protocol: ip, source: 10.2.0.0/16, destination: 10.1.0.0/16, transform: aes128-sha1}\n", 1)

var wantTransform = map[netip.Prefix]esp.Transform{
	netip.MustParsePrefix("10.1.0.0/16"): {ID: esp.Transform3DES, Auth: esp.AuthHMACSHA1},
	netip.MustParsePrefix("10.2.0.0/16"): {ID: esp.TransformAESCBC, KeyBits: 128, Auth: esp.AuthHMACSHA1},
}

// TestGMInstallsTEKsOfDifferentTransforms: a GM registers with a KS whose
// permit entries have different transforms, holds a TEK per entry with the
// entry's transform, and its data plane encrypts each flow with its TEK;
// after a TEK rekey the new TEKs keep their entries' transforms.
func TestGMInstallsTEKsOfDifferentTransforms(t *testing.T) {
	if !strings.Contains(mixedKSYAML, "transform: aes128-sha1}") || strings.Contains(mixedKSYAML, "aes128gcm16") {
		t.Fatalf("lab KS config not rewritten:\n%s", mixedKSYAML)
	}
	l := newLabWith(t, 1, mixedKSYAML, false, "rfc")
	reg := l.gm.Policies()["GETVPN"]
	checkTransforms(t, "registration", reg.TEKs)
	l.mu.Lock()
	inst := l.inst
	l.mu.Unlock()
	if inst != 1 {
		t.Fatalf("data plane fed %d times at registration", inst)
	}
	st := l.gm.GDOI().Groups[0]
	if len(st.TEKs) != 2 || st.TEKs[0].Transform == st.TEKs[1].Transform {
		t.Errorf("GM status TEKs: %+v", st.TEKs)
	}
	dataPlaneSends(t, reg)

	l.nextRekey(900 * time.Second)
	l.wait("rekey", func(st snap) bool { return st.Received == 1 })
	after := l.gm.Policies()["GETVPN"]
	if len(after.TEKs) != 4 {
		t.Fatalf("after the rekey: %d TEKs, want the old 2 and 2 new", len(after.TEKs))
	}
	var fresh []gdoi.TEK
	for _, tk := range after.TEKs {
		old := false
		for _, o := range reg.TEKs {
			old = old || o.SPI == tk.SPI
		}
		if !old {
			fresh = append(fresh, tk)
		}
	}
	checkTransforms(t, "rekey", fresh)
}

func checkTransforms(t *testing.T, what string, teks []gdoi.TEK) {
	t.Helper()
	if len(teks) != 2 || teks[0].Src == teks[1].Src {
		t.Fatalf("%s: TEKs %+v, want one per permit entry", what, teks)
	}
	for _, tk := range teks {
		want := wantTransform[tk.Src]
		if tk.Transform != want || len(tk.EncKey) != want.EncKeyLen() || len(tk.AuthKey) != want.AuthKeyLen() {
			t.Errorf("%s: TEK %v: %s, %d+%d key octets; want %s", what, tk.Src, tk.Transform, len(tk.EncKey), len(tk.AuthKey), want)
		}
	}
}

// dataPlaneSends installs the GM's policy in a data plane and sends a
// packet of each flow: each goes out under its own TEK's SPI, with that
// transform's IV length.
func dataPlaneSends(t *testing.T, p *gdoi.Policy) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	e := dataplane.New(dataplane.Options{Clock: clock.New(1, func() time.Time { return now }), Local: testnet.GM(1).Addr(), MTU: 1500,
		LocalDenyInbound: "ios", Groups: []config.Group{{Name: "GETVPN"}}})
	if err := e.Install("GETVPN", p, now); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	w := e.NewWorker(func(b []byte) error { out = append(out, bytes.Clone(b)); return nil }, func([]byte) error { return nil })
	for _, tk := range p.TEKs {
		src, dst := tk.Src.Addr().Next(), tk.Dst.Addr().Next()
		pkt := make([]byte, 100)
		ipv4.WriteHeader(pkt, &ipv4.Header{TotalLen: len(pkt), ID: 1, TTL: 64, Protocol: ipv4.ProtoUDP, Src: src, Dst: dst})
		buf := make([]byte, dataplane.Headroom+len(pkt)+dataplane.Tailroom)
		copy(buf[dataplane.Headroom:], pkt)
		out = nil
		w.Outbound(buf, dataplane.Headroom, len(pkt))
		if len(out) != 1 || ipv4.Protocol(out[0]) != ipv4.ProtoESP {
			t.Fatalf("%v -> %v: %d packets out, not ESP", src, dst, len(out))
		}
		if spi := binary.BigEndian.Uint32(out[0][20:]); spi != tk.SPI {
			t.Errorf("%v -> %v: SPI %#x, want %#x (%s)", src, dst, spi, tk.SPI, tk.Transform)
		}
		want := 20 + esp.HeaderLen + tk.Transform.IVLen() + len(pkt) + tk.Transform.PadLen(len(pkt)) + esp.TrailerLen + tk.Transform.ICVLen()
		if len(out[0]) != want {
			t.Errorf("%s: ESP packet of %d octets, want %d", tk.Transform, len(out[0]), want)
		}
	}
}
