package ikev1_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/ikev1"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// An independent decoder's view of main mode: tshark (where installed)
// reads the six messages, a failure notification and protected
// Informationals from a pcap written here, finds no malformed packet, and
// with the phase-1 key in its IKEv1 decryption table decrypts messages 5
// and 6 (computing the IV itself from the KE payloads) and finds the ID and
// HASH payloads inside. Written without the bench's pcap package, which
// gateway/ must not depend on.

func TestTsharkDecodesMainMode(t *testing.T) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed")
	}
	if testing.Short() {
		t.Skip("runs tshark")
	}
	gm := netip.MustParseAddrPort("192.0.2.10:848")
	ks := netip.MustParseAddrPort("192.0.2.1:848")
	for _, tc := range []struct {
		doi     uint32
		decrypt bool // tshark 4.0 learns the cipher from phase-1 transforms, which it does not dissect in a DOI-2 SA
	}{{isakmp.DOIIPsec, true}, {isakmp.DOIGDOI, false}} {
		for _, suite := range []string{"aes128-sha256-19", "aes256-sha1-14", "3des-sha512-20"} {
			t.Run(fmt.Sprintf("doi%d/%s", tc.doi, suite), func(t *testing.T) {
				var enc, h string
				var g int
				fmt.Sscanf(strings.ReplaceAll(suite, "-", " "), "%s %s %d", &enc, &h, &g)
				s, err := ikev1.ParseSuite(enc, h, g, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				cfg := func(seed uint64) *ikev1.Config {
					return &ikev1.Config{
						Suites: []ikev1.Suite{s}, Auth: ikev1.StaticPSK([]byte("psk")), DOI: tc.doi, DPD: true,
						Rand: rand.NewChaCha8([32]byte{byte(seed)}),
					}
				}
				i, err := ikev1.NewInitiator(cfg(1), gm, ks)
				if err != nil {
					t.Fatal(err)
				}
				r := ikev1.NewResponder(cfg(2), ks, gm)
				var frames []frame
				msg, err := i.Start()
				for n := 1; err == nil && msg != nil; n++ {
					from, to, recv := gm, ks, r.Handle
					if n%2 == 0 {
						from, to, recv = ks, gm, i.Handle
					}
					frames = append(frames, frame{from, to, msg})
					msg, err = recv(msg)
				}
				if err != nil || i.SA() == nil {
					t.Fatalf("main mode: %v", err)
				}
				isa, rsa := i.SA(), r.SA()
				frames = append(frames,
					frame{gm, ks, isa.RUThere(1)},
					frame{ks, gm, rsa.RUThereAck(1)},
					frame{ks, gm, rsa.DeleteSelf()},
				)
				// The PAYLOAD-MALFORMED notification of another responder
				// given message 1 with an octet too many.
				bad := ikev1.NewResponder(cfg(3), ks, gm)
				reply, err := bad.Handle(append(bytes.Clone(frames[0].data), 0))
				if reply == nil || err == nil {
					t.Fatalf("no failure notification: %v", err)
				}
				frames = append(frames, frame{ks, gm, reply})

				path := filepath.Join(t.TempDir(), "mm.pcap")
				if err := writePcap(path, frames); err != nil {
					t.Fatal(err)
				}
				args := []string{"-r", path, "-d", "udp.port==848,isakmp",
					"-o", fmt.Sprintf("uat:ikev1_decryption_table:%x,%x", isa.ICookie, isa.EncKey),
					"-T", "fields", "-E", "separator=;",
					"-e", "frame.number", "-e", "isakmp.exchangetype", "-e", "isakmp.typepayload",
					"-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.expert.message"}
				cmd := exec.Command(bin, args...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) != len(frames) {
					t.Fatalf("tshark printed %d lines for %d frames:\n%s", len(lines), len(frames), out)
				}
				for n, l := range lines {
					f := strings.Split(l, ";")
					if len(f) < 6 {
						t.Fatalf("line %q", l)
					}
					if f[3] != "" || expertError(f[4]) {
						t.Errorf("frame %d: malformed or an expert error: %s", n+1, l)
					}
				}
				if os.Getenv("TSHARK_VERBOSE") != "" {
					t.Logf("\n%s", out)
				}
				// What tshark decrypted: IDii/IDir + HASH in messages 5 and
				// 6, HASH(1) + N or D in the Informationals (IV per
				// message ID from the last phase-1 block).
				for n, want := range map[int]string{5: "5,8", 6: "5,8", 7: "8,11", 8: "8,11", 9: "8,12"} {
					got := strings.Split(lines[n-1], ";")[2]
					if (got == want) != tc.decrypt {
						t.Errorf("frame %d: tshark payloads %q, want %q decrypted: %v", n, got, want, tc.decrypt)
					}
				}
			})
		}
	}
}

// expertError reports an expert-info severity of error (PI_ERROR,
// 0x00800000) in tshark's comma-separated _ws.expert.severity values.
func expertError(severities string) bool {
	for _, v := range strings.Split(severities, ",") {
		var sev uint32
		if _, err := fmt.Sscan(v, &sev); err == nil && sev >= 0x00800000 {
			return true
		}
	}
	return false
}

type frame struct {
	from, to netip.AddrPort
	data     []byte
}

// writePcap writes IPv4/UDP datagrams as a classic pcap file with link
// type RAW (101): just enough for tshark.
func writePcap(path string, frames []frame) error {
	var b bytes.Buffer
	hdr := []any{uint32(0xa1b2c3d4), uint16(2), uint16(4), int32(0), uint32(0), uint32(65535), uint32(101)}
	for _, v := range hdr {
		binary.Write(&b, binary.LittleEndian, v)
	}
	for n, f := range frames {
		pkt := ipUDP(f.from, f.to, f.data)
		rec := []any{uint32(1767225600 + n), uint32(0), uint32(len(pkt)), uint32(len(pkt))}
		for _, v := range rec {
			binary.Write(&b, binary.LittleEndian, v)
		}
		b.Write(pkt)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func ipUDP(from, to netip.AddrPort, payload []byte) []byte {
	ip := make([]byte, 20, 28+len(payload))
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(28+len(payload)))
	s, d := from.Addr().As4(), to.Addr().As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	var sum uint32
	for k := 0; k < 20; k += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[k:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], from.Port())
	binary.BigEndian.PutUint16(udp[2:], to.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	return append(append(ip, udp...), payload...)
}
