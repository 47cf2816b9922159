package keylog_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/keylog"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/pcap"
)

// The daemons write the key log (gateway/keylog) and the bench reads it
// (package pcap): what one writes, the other must read back field for
// field. The test lives on the daemon's side so that the bench imports
// none of the daemon's role packages.
func TestDaemonKeyLogReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.log")
	w, err := keylog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	suite, _ := ikev1.ParseSuite("aes256", "sha256", 19, time.Hour)
	sa := &ikev1.SA{ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, RCookie: [8]byte{9, 9, 9, 9, 9, 9, 9, 9}, Suite: suite,
		EncKey: bytes.Repeat([]byte{0xe}, 32), LastIV: bytes.Repeat([]byte{0x1}, 16), SKEYIDa: bytes.Repeat([]byte{0xa}, 32)}
	w.IKE(sa)
	gcm, _ := espwire.ParseTransform("aes128gcm16")
	cbc, _ := espwire.ParseTransform("aes256-sha256")
	p := &gdoi.Policy{
		KEK: &gdoi.KEK{SPI: [16]byte{0xaa, 15: 0xbb}, Algorithm: gdoiwire.KEKAlgAES, Key: bytes.Repeat([]byte{4}, 32), IV: bytes.Repeat([]byte{5}, 16),
			Dst: netip.MustParseAddrPort("192.0.2.11:848")},
		TEKs: []gdoi.TEK{
			{SPI: 0x2d45c4e9, Transform: gcm, EncKey: bytes.Repeat([]byte{6}, 20)},
			{SPI: 0x11223344, Transform: cbc, EncKey: bytes.Repeat([]byte{7}, 32), AuthKey: bytes.Repeat([]byte{8}, 32)},
		},
	}
	w.Policy("GET VPN", p)
	w.Policy("GET VPN", p) // a re-registration: logged once
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	kl := &pcap.KeyLog{}
	if err := kl.Read(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if len(kl.IKE) != 1 || len(kl.KEK) != 1 || len(kl.ESP) != 2 || kl.Skipped != 0 {
		t.Fatalf("read %d IKE, %d KEK, %d ESP, %d skipped:\n%s", len(kl.IKE), len(kl.KEK), len(kl.ESP), kl.Skipped, data)
	}
	ike := kl.IKE[0]
	if ike.ICookie != sa.ICookie || ike.RCookie != sa.RCookie || ike.Enc != "aes-cbc" || !bytes.Equal(ike.Key, sa.EncKey) ||
		!bytes.Equal(ike.IV, sa.LastIV) || ike.Hash != "sha256" || !bytes.Equal(ike.SKEYIDa, sa.SKEYIDa) {
		t.Errorf("IKEV1 record %+v", ike)
	}
	kek := kl.KEK[0]
	if kek.SPI != p.KEK.SPI || !bytes.Equal(kek.Key, p.KEK.Key) || !bytes.Equal(kek.IV, p.KEK.IV) || kek.Group != "GET_VPN" {
		t.Errorf("GDOI_KEK record %+v", kek)
	}
	for i, tek := range p.TEKs {
		e := kl.ESP[i]
		if e.SPI != tek.SPI || e.Transform != tek.Transform || !bytes.Equal(e.Key, tek.EncKey) || !bytes.Equal(e.AuthKey, tek.AuthKey) {
			t.Errorf("ESP record %d: %+v", i, e)
		}
	}
}
