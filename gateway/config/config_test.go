package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/wire/esp"
)

func TestLoadExamples(t *testing.T) {
	ks, err := Load(filepath.Join("testdata", "ks1.yaml"))
	if err != nil {
		t.Fatalf("ks1.yaml: %v", err)
	}
	if w := ks.Warnings(); len(w) != 0 {
		t.Errorf("ks1.yaml warnings: %q", w)
	}
	if ks.Role != RoleKS || ks.Identity != netip.MustParseAddr("192.0.2.1") || ks.Listen.Port != 848 {
		t.Errorf("ks1.yaml: role %q identity %v port %d", ks.Role, ks.Identity, ks.Listen.Port)
	}
	g := ks.Groups[0]
	if g.Name != "GETVPN" || g.ID != 1234 || len(g.ACL) != 5 || len(g.Authorization) != 2 {
		t.Errorf("ks1.yaml group: %+v", g)
	}
	want := []esp.Transform{
		{ID: esp.TransformAESGCM16, KeyBits: 256},
	}
	if !reflect.DeepEqual(g.Transforms, want) {
		t.Errorf("transforms = %v, want %v", g.Transforms, want)
	}
	if g.Rekey.Transport != "unicast" || g.Rekey.RetransmitInterval != 10*time.Second || g.Rekey.RetransmitCount != 2 || g.Rekey.Port != 0 || g.Rekey.Ack != AckSHA256 {
		t.Errorf("rekey = %+v", g.Rekey)
	}
	if e := g.ACL[3]; !e.Permit || e.Protocol != 0 || e.Source != netip.MustParsePrefix("198.51.100.0/24") {
		t.Errorf("acl[3] = %v", e)
	}
	if e := g.ACL[0]; e.Permit || e.Protocol != 17 || e.DestinationPort != (PortRange{848, 848}) || e.Source.IsValid() {
		t.Errorf("acl[0] = %v", e)
	}

	gm, err := Load(filepath.Join("testdata", "gm1.yaml"))
	if err != nil {
		t.Fatalf("gm1.yaml: %v", err)
	}
	if w := gm.Warnings(); len(w) != 0 {
		t.Errorf("gm1.yaml warnings: %q", w)
	}
	gg := gm.Groups[0]
	if gm.Role != RoleGM || gg.ID != g.ID || gg.RegistrationInterface != "eth1" || len(gg.KSList) != 1 || gg.KSList[0] != ks.Identity {
		t.Errorf("gm1.yaml: %+v", gm)
	}
	if k, ok := gm.IKE.KeyFor(gg.KSList[0]); !ok || k != "gm1-secret" {
		t.Errorf("gm1 PSK for KS = %q, %v", k, ok)
	}
	if k, _ := ks.IKE.KeyFor(gm.Identity); k != "gm1-secret" {
		t.Errorf("ks PSK for gm1 = %q", k)
	}
	if gm.IKE.Policies[0] != ks.IKE.Policies[0] && (gm.IKE.Policies[0].Encryption != ks.IKE.Policies[0].Encryption || gm.IKE.Policies[0].Hash != ks.IKE.Policies[0].Hash || gm.IKE.Policies[0].DHGroup != ks.IKE.Policies[0].DHGroup) {
		t.Errorf("IKE proposals of KS and GM differ")
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

const minKS = `
role: ks
identity: 192.0.2.1
ike:
  pre_shared_keys: [{peer: 192.0.2.11, key: lab-secret}]
groups:
  - name: G
    id: 1
    acl:
      - {action: deny, protocol: udp, destination: 239.1.1.1}
      - {action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}
    rekey: {address: 239.1.1.1}
`

const minGM = `
role: gm
ike:
  pre_shared_keys: [{peer: 192.0.2.1, key: k}]
groups:
  - {name: G, id: 1, ks_list: [192.0.2.1]}
`

// TestDefaults checks that what a file leaves out gets the seeds' values.
// Line numbers are in ../shared/seeds/000_c5a1520d471a5ba7.txt (S0).
// log.rate_limit: 0 is kept (no limit), not replaced by the default.
func TestLogRateLimitZero(t *testing.T) {
	c := parse(t, minGM+"log: {rate_limit: 0}\n")
	if c.Log.RateLimit != 0 {
		t.Fatalf("rate_limit 0 read as %d", c.Log.RateLimit)
	}
	if c := parse(t, minGM+"log: {rate_limit: 50}\n"); c.Log.RateLimit != 50 {
		t.Fatalf("rate_limit 50 read as %d", c.Log.RateLimit)
	}
}

func TestDefaults(t *testing.T) {
	ks := parse(t, minKS)
	if w := ks.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	g := ks.Groups[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"TEK lifetime (L2049: default 3600 seconds)", g.TEKLifetime, 3600 * time.Second},
		{"KEK lifetime (L2336: default of 86400 seconds)", g.KEKLifetime, 86400 * time.Second},
		{"KS IKE lifetime (L1968: default 24 hours; L1984)", ks.IKE.Policies[0].Lifetime, 86400 * time.Second},
		{"IKE encryption (L658: encr aes 128)", ks.IKE.Policies[0].Encryption, "aes128"},
		{"IKE hash (L660: hash sha256)", ks.IKE.Policies[0].Hash, "sha256"},
		{"IKE DH group (L662: group 14)", ks.IKE.Policies[0].DHGroup, 14},
		{"transform (L936: esp-aes esp-sha-hmac)", g.Transforms, []esp.Transform{{ID: esp.TransformAESCBC, KeyBits: 128, Auth: esp.AuthHMACSHA1}}},
		{"rekey transport (L1033: multicast is the default)", g.Rekey.Transport, "multicast"},
		{"rekey port (L3717: UDP port 848)", g.Rekey.Port, uint16(848)},
		{"retransmit interval (L2358-2362: two at 60 s)", g.Rekey.RetransmitInterval, 60 * time.Second},
		{"retransmit count (L2358-2362)", g.Rekey.RetransmitCount, 2},
		{"signing key (L712, L950: modulus 2048)", g.Rekey.SigningKey, SigningKey{Bits: 2048}},
		{"listen port (L3717: UDP 848)", ks.Listen.Port, uint16(848)},
		{"listen address (all)", ks.Listen.Address, netip.Addr{}},
		{"control socket (DESIGN.md)", ks.ControlSocket, "/run/getvpnd/control.sock"},
		{"key log (none)", ks.KeyLog, ""},
		{"log level", ks.Log.Level, "info"},
		{"log format", ks.Log.Format, "text"},
		{"log rate limit", ks.Log.RateLimit, 10},
		{"scale (DESIGN.md Time)", ks.Timers.Scale, 1.0},
	}
	gm := parse(t, minGM)
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"GM IKE lifetime (L2944-2946: 1200 s recommended)", gm.IKE.Policies[0].Lifetime, 1200 * time.Second},
		{"GM jitter (L3273-3337: new jitter; C-03)", gm.Groups[0].Jitter, "new"},
		{"GM identity (registration interface address)", gm.Identity, netip.Addr{}},
		{"GM group has no KS fields", gm.Groups[0].TEKLifetime, time.Duration(0)},
		{"GM data plane on", gm.DataPlane.Enabled, true},
		{"df-bit copy (L5901-5903)", gm.DataPlane.DFBit, "copy"},
		{"no TCP MSS clamp (IOS: no ip tcp adjust-mss unless configured)", gm.DataPlane.TCPMSS, 0},
		{"local deny inbound: IOS (GM-42)", gm.DataPlane.LocalDenyInbound, "ios"},
		{"a GM never fails open when the daemon is down (DESIGN.md)", gm.DataPlane.DaemonDown, "drop"},
		{"KS downloads deny entries", ks.Groups[0].DenyDownload, true},
		{"KS group speaks RFC 6407", ks.Groups[0].InteropProfile, "rfc"},
		{"GM group speaks RFC 6407", gm.Groups[0].InteropProfile, "rfc"},
	}...)
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// Other seed timers (see defaults.go for lines).
	if RolloverWindow != 30*time.Second || IKEBackoff != 40*time.Second || GDOIBackoffMin != 70*time.Second ||
		GDOIBackoffMax != 480*time.Second || COOPRefresh != 20*time.Second || COOPPeriodic != 30*time.Second ||
		COOPPolicyUpdate != 5*time.Second {
		t.Error("seed timer constants changed")
	}
}

// data_plane.tcp_mss takes IOS's "ip tcp adjust-mss" range, both ends
// included, and 0 for off.
func TestTCPMSSIsRead(t *testing.T) {
	for _, mss := range []int{0, 500, 1360, 1460} {
		c := parse(t, gmWith("", fmt.Sprintf("data_plane: {tcp_mss: %d}\n", mss)))
		if c.DataPlane.TCPMSS != mss {
			t.Errorf("tcp_mss %d read as %d", mss, c.DataPlane.TCPMSS)
		}
	}
}

// data_plane.multicast.lan is read in order; left out, the GM routes no
// multicast (DP-60 is opt-in: today's behaviour).
func TestMulticastLANIsRead(t *testing.T) {
	c := parse(t, gmWith(", registration_interface: eth1", "data_plane: {multicast: {lan: [eth2, lan-b.10]}}\n"))
	if got := c.DataPlane.Multicast.LAN; !slices.Equal(got, []string{"eth2", "lan-b.10"}) {
		t.Errorf("multicast.lan read as %q", got)
	}
	for _, y := range []string{minGM, gmWith("", "data_plane: {multicast: {}}\n"), gmWith("", "data_plane: {multicast: {lan: []}}\n")} {
		if c := parse(t, y); len(c.DataPlane.Multicast.LAN) != 0 {
			t.Errorf("%q: multicast.lan %q, want none", y, c.DataPlane.Multicast.LAN)
		}
	}
}

func TestScaleIsRead(t *testing.T) {
	c := parse(t, minGM+"timers: {scale: 0.01}\n")
	if c.Timers.Scale != 0.01 {
		t.Errorf("timers.scale %v, want 0.01", c.Timers.Scale)
	}
}

// TestClockSkew: timers.clock on either role, an offset of either sign
// (a Go duration or integer seconds) and a drift; none by default.
func TestClockSkew(t *testing.T) {
	if c := parse(t, minGM); c.Timers.Clock.Skewed() {
		t.Errorf("default clock skewed: %+v", c.Timers.Clock)
	}
	for _, tc := range []struct {
		doc  string
		want ClockSkew
	}{
		{minGM + "timers: {clock: {offset: -1h, drift_ppm: 50}}\n", ClockSkew{Offset: -time.Hour, DriftPPM: 50}},
		{minKS + "timers:\n  scale: 0.01\n  clock: {offset: \"90s\"}\n", ClockSkew{Offset: 90 * time.Second}},
		{minKS + "timers: {clock: {offset: 3600}}\n", ClockSkew{Offset: time.Hour}},
		{minGM + "timers: {clock: {drift_ppm: -999999.5}}\n", ClockSkew{DriftPPM: -999999.5}},
		{minGM + "timers: {clock: {offset: 0s}}\n", ClockSkew{}},
	} {
		c := parse(t, tc.doc)
		if c.Timers.Clock != tc.want {
			t.Errorf("%s: clock %+v, want %+v", tc.doc, c.Timers.Clock, tc.want)
		}
		if c.Timers.Clock.Skewed() != (tc.want != ClockSkew{}) {
			t.Errorf("%s: Skewed() = %v", tc.doc, c.Timers.Clock.Skewed())
		}
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want time.Duration
	}{
		{"7200", 2 * time.Hour},
		{"2h", 2 * time.Hour},
		{`"900s"`, 15 * time.Minute},
		{"1h30m", 90 * time.Minute},
	} {
		c, err := Parse([]byte(strings.Replace(minKS, "    id: 1\n", "    id: 1\n    tek_lifetime: "+tc.val+"\n    kek_lifetime: 100000\n", 1)), "ks.yaml")
		if err != nil {
			t.Errorf("%s: %v", tc.val, err)
			continue
		}
		if got := c.Groups[0].TEKLifetime; got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.val, got, tc.want)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestRekeyAckDefault: unicast rekeys ask for RFC 8263 SHA-256
// acknowledgements, multicast ones for none, and a set value stays.
func TestRekeyAckDefault(t *testing.T) {
	for _, tc := range []struct{ rekey, want string }{
		{"{address: 239.1.1.1}", AckNone},
		{"{transport: unicast}", AckSHA256},
		{"{transport: unicast, ack: rfc8263-sha512}", AckSHA512},
		{"{transport: unicast, ack: none}", AckNone},
		{"{address: 239.1.1.1, ack: rfc8263-sha256}", AckSHA256},
	} {
		c, err := Parse([]byte(strings.Replace(minKS, "{address: 239.1.1.1}", tc.rekey, 1)), "ks.yaml")
		if err != nil {
			t.Fatalf("%s: %v", tc.rekey, err)
		}
		if got := c.Groups[0].Rekey.Ack; got != tc.want {
			t.Errorf("rekey %s: ack %q, want %q", tc.rekey, got, tc.want)
		}
	}
}

// TestKeepalive: the seeds' "keepalive 15 periodic" (retry 2 s by
// default), on demand when asked, and off when the key is absent.
func TestKeepalive(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want Keepalive
	}{
		{"", Keepalive{}},
		{"  keepalive: {interval: 15}\n", Keepalive{Interval: 15 * time.Second, Retry: 2 * time.Second, Periodic: true}},
		{"  keepalive: {interval: 30s, retry: 5s, mode: on-demand}\n", Keepalive{Interval: 30 * time.Second, Retry: 5 * time.Second}},
	} {
		c, err := Parse([]byte(strings.Replace(minKS, "ike:\n", "ike:\n"+tc.yaml, 1)), "ks.yaml")
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if c.IKE.Keepalive != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.yaml, c.IKE.Keepalive, tc.want)
		}
	}
}

// parse is Parse of a file whose errors fail the test.
func parse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := Parse([]byte(y), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
