package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// coopKS is a key server of three cooperating ones, its signing key
// inline.
func coopKS(t *testing.T, coop string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		b.WriteString("          " + l + "\n")
	}
	return `
role: ks
identity: 192.0.2.1
ike:
  keepalive: {interval: 15, retry: 2, mode: periodic}
  pre_shared_keys:
    - {peer: 192.0.2.11, key: lab-secret}
    - {peer: 192.0.2.2, key: coop-secret}
    - {peer: 192.0.2.3, key: coop-secret}
groups:
  - name: G
    id: 1
    acl:
      - {action: deny, protocol: udp, destination: 239.1.1.1}
      - {action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}
      - {action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}
    coop:
` + coop + `
    rekey:
      address: 239.1.1.1
      signing_key:
        pem: |
` + b.String()
}

// TestCOOPDefaults: a COOP section that lists only its peers gets the
// seeds' priority and timers, and the takeover that keeps the keys.
func TestCOOPDefaults(t *testing.T) {
	c, err := Parse([]byte(coopKS(t, "      peers: [192.0.2.2, 192.0.2.3]")), "ks1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	co := c.Groups[0].COOP
	want := COOP{Priority: 1, Peers: []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")},
		Refresh: 20 * time.Second, Periodic: 30 * time.Second, Retransmit: 2, Takeover: TakeoverPreserveKeys}
	if co == nil || co.Priority != want.Priority || len(co.Peers) != 2 || co.Peers[1] != want.Peers[1] ||
		co.Refresh != want.Refresh || co.Periodic != want.Periodic || co.Retransmit != want.Retransmit || co.Takeover != want.Takeover {
		t.Errorf("coop = %+v, want %+v", co, want)
	}
	if !strings.Contains(c.Groups[0].Rekey.SigningKey.PEM, "BEGIN RSA PRIVATE KEY") {
		t.Errorf("signing key PEM not read: %q", c.Groups[0].Rekey.SigningKey.PEM)
	}
	for _, w := range c.Warnings() {
		if strings.Contains(w, "coop") || strings.Contains(w, "keepalive") {
			t.Errorf("unexpected warning %q", w)
		}
	}
}

// TestCOOPRefused: what a cooperating KS cannot run with.
func TestCOOPRefused(t *testing.T) {
	for _, tc := range []struct {
		name, coop, want string
		edit             func(string) string
	}{
		{"self as peer", "      peers: [192.0.2.1, 192.0.2.2]", "groups[0].coop.peers[0]: 192.0.2.1 is this KS's own identity", nil},
		{"peer without a key", "      peers: [192.0.2.2, 192.0.2.9]", "groups[0].coop.peers[1]: no ike.pre_shared_keys entry for 192.0.2.9", nil},
		{"peer twice", "      peers: [192.0.2.2, 192.0.2.2]", "groups[0].coop.peers[1]: 192.0.2.2 is also peers[0]", nil},
		{"no peers", "      priority: 100", "groups[0].coop.peers: missing", nil},
		{"eight peers", "      peers: [192.0.2.2, 192.0.2.3, 192.0.2.4, 192.0.2.5, 192.0.2.6, 192.0.2.7, 192.0.2.8, 192.0.2.9]", "8 peers: at most 7", nil},
		{"priority out of range", "      peers: [192.0.2.2]\n      priority: 256", "groups[0].coop.priority", nil},
		{"periodic not above refresh", "      peers: [192.0.2.2]\n      refresh: 30\n      periodic: 30", "groups[0].coop.periodic: 30s is not longer than refresh 30s", nil},
		{"unknown takeover", "      peers: [192.0.2.2]\n      takeover: grab", `groups[0].coop.takeover: "grab" is not`, nil},
		{"generated signing key", "      peers: [192.0.2.2]", "groups[0].rekey.signing_key: cooperative key servers share one rekey signing key", func(s string) string {
			return s[:strings.Index(s, "      signing_key:")]
		}},
		{"coop on a GM", "", "groups[0].coop: only valid for role ks", func(string) string {
			return minGM + "    coop: {peers: [192.0.2.2]}\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := coopKS(t, tc.coop)
			if tc.edit != nil {
				y = tc.edit(y)
			}
			if tc.name == "coop on a GM" {
				y = strings.Replace(y, "  - {name: G, id: 1, ks_list: [192.0.2.1]}\n    coop:", "  - name: G\n    id: 1\n    ks_list: [192.0.2.1]\n    coop:", 1)
			}
			_, err := Parse([]byte(y), "ks1.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

// TestCOOPWithoutKeepaliveWarns: the seeds require DPD between COOP KSs
// (CO-03); without it the KS runs, with a warning.
func TestCOOPWithoutKeepaliveWarns(t *testing.T) {
	y := strings.Replace(coopKS(t, "      peers: [192.0.2.2, 192.0.2.3]"), "  keepalive: {interval: 15, retry: 2, mode: periodic}\n", "", 1)
	c, err := Parse([]byte(y), "ks1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range c.Warnings() {
		found = found || strings.Contains(w, "ike.keepalive: not set on a cooperative key server")
	}
	if !found {
		t.Errorf("no keepalive warning in %q", c.Warnings())
	}
}

// TestGDOIVersion: the default claims 1.0.3 with its features and the
// acknowledgement; a staged version claims what getvpnd implements up to
// it; a feature getvpnd lacks is refused; a version that implies
// features the list leaves out warns.
func TestGDOIVersion(t *testing.T) {
	c, err := Parse([]byte(minGM), "gm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.GDOI.String() != "1.0.3" || strings.Join(c.GDOI.Features, " ") != "policy-replace gm-removal gdoi-interop-ack" {
		t.Errorf("default %s %v", c.GDOI, c.GDOI.Features)
	}
	for v, want := range map[string]string{"1.0.1": "", "1.0.2": "policy-replace", "1.0.3": "policy-replace gm-removal", "1.0.11": "policy-replace gm-removal gdoi-interop-ack"} {
		c, err = Parse([]byte(minGM+"gdoi_version: "+v+"\n"), "gm.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.GDOI.Features, " "); got != want {
			t.Errorf("staged at %s: features %q, want %q", v, got, want)
		}
	}
	c, err = Parse([]byte(minGM+"gdoi_version: 1.0.3\ngdoi_features: []\n"), "gm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.GDOI.String() != "1.0.3" || len(c.GDOI.Features) != 0 {
		t.Errorf("1.0.3 without features: %s %v", c.GDOI, c.GDOI.Features)
	}
	warned := false
	for _, w := range c.Warnings() {
		warned = warned || strings.Contains(w, "gdoi_version: 1.0.3 is the version of gm-removal, policy-replace")
	}
	if !warned {
		t.Errorf("no warning for 1.0.3: %q", c.Warnings())
	}
	for y, want := range map[string]string{
		"gdoi_version: 1.0\n":        `gdoi_version: "1.0" is not a GDOI version`,
		"gdoi_version: 1.0.300\n":    `gdoi_version: "1.0.300" is not a GDOI version`,
		"gdoi_features: [cts-sgt]\n": `gdoi_features[0]: "cts-sgt" is not a feature getvpnd implements`,
	} {
		if _, err := Parse([]byte(minGM+y), "gm.yaml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", y, err, want)
		}
	}
}

// TestPeriodicNeedsAcks: reminders go to GMs that did not acknowledge, so
// they need unicast rekeys that ask for acknowledgements.
func TestPeriodicNeedsAcks(t *testing.T) {
	y := strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, retransmit: {interval: 10, count: 2, periodic: true}}", 1)
	if _, err := Parse([]byte(y), "ks.yaml"); err == nil || !strings.Contains(err.Error(), "groups[0].rekey.retransmit.periodic: reminders go to the GMs that did not acknowledge") {
		t.Errorf("periodic with multicast: %v", err)
	}
	y = strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {transport: unicast, retransmit: {interval: 10, count: 2, periodic: true}}", 1)
	c, err := Parse([]byte(y), "ks.yaml")
	if err != nil || !c.Groups[0].Rekey.RetransmitPeriodic {
		t.Errorf("periodic with unicast: %v", err)
	}
}
