package ks

import (
	"testing"

	"github.com/getlab/getlab/gateway/internal/testnet"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// TestGMVersions: the KS records the GDOI version and features each GM
// announced in main mode (unknown without one) and refuses a GM of
// another major version (PV-01), naming both versions.
func TestGMVersions(t *testing.T) {
	k := newTestKS(t, ksConfig(t, 19, ""))
	k.vendorIDs = vid(gdoiwire.Version{Major: 1, Minor: 0, Mini: 3})
	if _, err := k.register(testnet.GM(1), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	k.vendorIDs = nil
	if _, err := k.register(testnet.GM(2), "lab-secret", 19, 1234); err != nil {
		t.Fatal(err)
	}
	k.vendorIDs = vid(gdoiwire.Version{Major: 2}, "gdoi-interop-ack")
	if _, err := k.register(testnet.GM(3), "lab-secret", 19, 1234); err == nil {
		t.Error("a GM of major version 2 registered")
	}
	got := map[string]string{}
	for _, m := range k.srv.Members() {
		got[m.Address] = m.Version
	}
	if got[testnet.GM(1).Addr().String()] != "1.0.3" || got[testnet.GM(2).Addr().String()] != "unknown" || got[testnet.GM(3).Addr().String()] != "" {
		t.Errorf("member versions %v", got)
	}
	if ev := k.events("KS_GM_VERSION_MISMATCH"); len(ev) != 1 || ev[0]["ip"] != testnet.GM(3).Addr().String() {
		t.Errorf("KS_GM_VERSION_MISMATCH %v", ev)
	}
	f := k.srv.Features()
	if f.Local.Version != "1.0.3" || len(f.Groups) != 1 || len(f.Groups[0].Members) != 2 {
		t.Errorf("features %+v", f)
	}
}

// vid is the GDOI version vendor ID of version v with features fs.
func vid(v gdoiwire.Version, fs ...string) [][]byte {
	return [][]byte{(&gdoiwire.VersionVID{Version: v, Features: fs}).Bytes()}
}

// current is what a getvpnd GM announces by default.
var current = vid(gdoiwire.Version{Major: 1, Minor: 0, Mini: 3}, "policy-replace", "gm-removal", "gdoi-interop-ack")
