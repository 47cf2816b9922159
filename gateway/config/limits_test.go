package config

import (
	"strings"
	"testing"
	"time"
)

func TestLimitDefaults(t *testing.T) {
	ks := parse(t, minKS)
	if ks.Limits != LimitDefaults {
		t.Errorf("limits %+v, want %+v", ks.Limits, LimitDefaults)
	}
	c := parse(t, minKS+"limits: {half_open_per_source: 4, cookie_threshold: 0, half_open_timeout: 20, ike_sas_per_peer: 1}\n")
	l := c.Limits
	if l.HalfOpenPerSource != 4 || l.CookieThreshold != 0 || l.HalfOpenTimeout != 20*time.Second || l.IKESAsPerPeer != 1 || l.HalfOpenGlobal != LimitDefaults.HalfOpenGlobal {
		t.Errorf("limits %+v", l)
	}
}

func TestLimitErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{minKS + "limits: {half_open_per_source: 0}\n", "limits.half_open_per_source: 0 is out of range"},
		{minKS + "limits: {half_open_per_source: 20, half_open_global: 10}\n", "limits.half_open_per_source: 20 is more than limits.half_open_global 10"},
		{minKS + "limits: {cookie_threshold: 20000}\n", "limits.cookie_threshold: 20000 is not less than limits.half_open_global 10000"},
		{minKS + "limits: {cookie_threshold: 64, half_open_global: 64}\n", "limits.cookie_threshold: 64 is not less than"},
		{minKS + "limits: {half_open_timeout: 10m}\n", "limits.half_open_timeout: 10m0s is longer than"},
		{minKS + "limits: {ike_sas_per_peer: 8, ike_sas_global: 2}\n", "limits.ike_sas_per_peer: 8 is more than"},
		{minKS + "limits: {dh_rate: 3}\n", "limits.dh_rate: unknown key"},
		{minGM + "limits: {dh_queue: 3}\n", "limits: only valid for role ks"},
	} {
		_, err := Parse([]byte(tc.yaml), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestPSKIdentities(t *testing.T) {
	c, err := Parse([]byte(withoutIKE(minKS)+`ike:
  pre_shared_keys:
    - {peer: 192.0.2.11, key: a, identity: gm1.example}
    - {peer: 192.0.2.12, key: b, identity: [gm2.example, 10.0.0.2]}
`), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	k, ok := c.IKE.KeyEntryFor(mustAddr("192.0.2.12"))
	if !ok || k.Key != "b" || len(k.Identities) != 2 || k.Identities[1] != "10.0.0.2" {
		t.Errorf("entry %+v", k)
	}
	_, err = Parse([]byte(withoutIKE(minKS)+`ike:
  pre_shared_keys:
    - {peer: 192.0.2.11, key: a, identity: GM.example}
    - {peer: 192.0.2.12, key: b, identity: [gm.example, "a b"]}
`), "ks.yaml")
	for _, want := range []string{"ike.pre_shared_keys[1].identity[0]: gm.example is also the identity of ike.pre_shared_keys[0]",
		`ike.pre_shared_keys[1].identity[1]: "a b" is not an address`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %q", err, want)
		}
	}
}

// withoutIKE is a config without its ike section, for tests that write
// their own.
func withoutIKE(c string) string {
	return strings.Replace(c, "ike:\n  pre_shared_keys: [{peer: 192.0.2.11, key: lab-secret}]\n", "", 1)
}
