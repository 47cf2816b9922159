package pcap

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const sampleLog = `# getlab key log v1
IKEV1 icookie=0102030405060708 rcookie=1112131415161718 enc=aes-cbc key=000102030405060708090a0b0c0d0e0f iv=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hash=sha256
GDOI_KEK spi=0102030405060708090a0b0c0d0e0f10 enc=aes-cbc key=00112233445566778899aabbccddeeff iv=0f0e0d0c0b0a09080706050403020100 group=1234
ESP spi=0000a5f8 transform=aes128gcm16 key=feffe9928665731c6d6a8f9467308308cafebabe group=1234
ESP spi=deadbeef transform=aes128-sha256 key=000102030405060708090a0b0c0d0e0f authkey=0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b src=198.51.100.10
FUTURE_RECORD x=1
`

func TestKeyLogRead(t *testing.T) {
	kl := &KeyLog{}
	if err := kl.Read(strings.NewReader(sampleLog)); err != nil {
		t.Fatal(err)
	}
	if len(kl.IKE) != 1 || len(kl.KEK) != 1 || len(kl.ESP) != 2 || kl.Skipped != 1 {
		t.Fatalf("read %d IKE, %d KEK, %d ESP, %d skipped", len(kl.IKE), len(kl.KEK), len(kl.ESP), kl.Skipped)
	}
	k, ok := kl.ESPBySPI(0xdeadbeef)
	if !ok || k.Transform.String() != "aes128-sha256" || k.Src != "198.51.100.10" || k.Dst != "*" || len(k.AuthKey) != 32 {
		t.Errorf("ESP deadbeef: %+v %v", k, ok)
	}
	// Every record formats back to the line it came from.
	var lines []string
	for _, k := range kl.IKE {
		lines = append(lines, k.Line())
	}
	for _, k := range kl.KEK {
		lines = append(lines, k.Line())
	}
	for _, k := range kl.ESP {
		lines = append(lines, k.Line())
	}
	for _, l := range lines {
		if !strings.Contains(sampleLog, l+"\n") {
			t.Errorf("formatted %q is not a line of the input", l)
		}
	}
}

func TestKeyLogErrors(t *testing.T) {
	for _, bad := range []string{
		"ESP spi=0000a5f8 transform=aes128gcm16 key=zz",
		"ESP spi=00a5f8 transform=aes128gcm16 key=feffe9928665731c6d6a8f9467308308cafebabe",
		"ESP spi=0000a5f8 transform=rot13 key=00",
		"ESP spi=0000a5f8 transform=aes128gcm16 key=feffe9928665731c6d6a8f9467308308",
		"ESP spi=0000a5f8 transform=aes128-sha1 key=000102030405060708090a0b0c0d0e0f",
		"GDOI_KEK spi=0102 enc=aes-cbc key=00 iv=00",
		"IKEV1 icookie=0102030405060708 rcookie=1112131415161718 enc=aes-cbc key=00",
		"ESP spi",
	} {
		kl := &KeyLog{}
		err := kl.Read(strings.NewReader("# header\n" + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v, want one naming line 2", bad, err)
		}
	}
}

// gcmVector is the draft-mcgrew-gcm-test-01 AES-128 ESP packet with a
// 32-bit sequence number (protocols.md §3.2): SPI|Seq|IV|ciphertext|ICV.
const gcmVector = "0000a5f8" + "0000000a" + "facedbaddecaf888" +
	"deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c" +
	"3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1" +
	"83b70d3aa8bc6ee4c309e9d85a41ad4a"

// writeESPCapture writes one IPv4/ESP frame carrying esp into a pcapng file.
func writeESPCapture(t *testing.T, esp []byte) string {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolESP,
		SrcIP: net.IP{192, 168, 1, 2}, DstIP: net.IP{192, 168, 1, 1}}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, gopacket.Payload(esp)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "esp.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(data), Length: len(data)}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// tshark, given the options the key log exports, decrypts a public ESP
// vector: the ICV checks out and the draft's plaintext appears.
func TestTsharkDecryptsESPWithExportedKeys(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed (Debian package tshark)")
	}
	esp, _ := hex.DecodeString(gcmVector)
	path := writeESPCapture(t, esp)
	kl := &KeyLog{}
	if err := kl.Read(strings.NewReader(sampleLog)); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-r", path}, kl.TsharkArgs()...)
	args = append(args, "-T", "fields", "-E", "separator=;", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "esp.pad_len", "-e", "esp.protocol", "-e", "esp.decrypted_data")
	out, err := exec.Command("tshark", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, out)
	}
	got := string(bytes.TrimSpace(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
	// The vector's trailer says pad length 0, next header 1; the
	// plaintext is the IPv4 packet 4500003e698f... of the draft.
	if !strings.HasPrefix(got, "0x0000a5f8;1;0;0x01;4500003e698f000080114dccc0a80102") {
		t.Errorf("tshark fields = %q\nfull output:\n%s", got, out)
	}
	// The profile directory holds the same rows.
	dir := t.TempDir()
	if err := kl.WriteWireshark(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "esp_sa"))
	if err != nil || !strings.Contains(string(b), `"0x0000a5f8","AES-GCM with 16 octet ICV [RFC4106]","0xfeffe9928665731c6d6a8f9467308308cafebabe","NULL",""`) {
		t.Errorf("esp_sa:\n%s (%v)", b, err)
	}
}

// A 3DES-CBC TEK (transform=3des-sha1, RFC 2451) in the key log opens an ESP
// packet built here with crypto/des and crypto/hmac alone; where tshark is
// installed, the exported Wireshark SA row opens it too.
func TestKeyLog3DESDecryptsESP(t *testing.T) {
	key := []byte("3des-tek-key-of-24octets")
	authKey := []byte("hmac-sha1-key-20octet")[:20]
	iv := []byte("tek-iv-8")
	inner := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 63, TOS: 34 << 2, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 77, 0, 11}, DstIP: net.IP{239, 1, 1, 1}}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 5000}
	_ = udp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(inner, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, udp, gopacket.Payload("3des payload")); err != nil {
		t.Fatal(err)
	}
	plain := bytes.Clone(inner.Bytes()) // 40 octets: 6 of padding to the 8-octet block
	pad := 0
	for ; (len(plain)+2)%8 != 0; pad++ {
		plain = append(plain, byte(pad+1))
	}
	plain = append(plain, byte(pad), 4)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	pkt := append(append([]byte{0x3d, 0xe5, 0, 1, 0, 0, 0, 9}, iv...), ct...)
	mac := hmac.New(sha1.New, authKey)
	mac.Write(pkt)
	pkt = append(pkt, mac.Sum(nil)[:12]...)
	path := writeESPCapture(t, pkt)

	line := fmt.Sprintf("ESP spi=3de50001 transform=3des-sha1 key=%x authkey=%x", key, authKey)
	kl := &KeyLog{}
	if err := kl.Read(strings.NewReader(line + "\n")); err != nil {
		t.Fatal(err)
	}
	if k, ok := kl.ESPBySPI(0x3de50001); !ok || k.Line() != line {
		t.Fatalf("record %+v formats as %q, want %q", k, k.Line(), line)
	}
	pkts, err := ReadFile(path, kl)
	if err != nil {
		t.Fatal(err)
	}
	e := pkts[0].ESP
	if e == nil || !e.Decrypted || e.NextHeader != 4 || e.InnerSrc != netip.MustParseAddr("10.77.0.11") ||
		e.InnerDSCP != 34 || !bytes.Equal(e.Payload, inner.Bytes()) {
		t.Fatalf("3DES ESP: %s", pkts[0].String())
	}
	// A 16-octet (two-key) 3DES key is refused: the transform's key is 24.
	bad := fmt.Sprintf("ESP spi=3de50001 transform=3des-sha1 key=%x authkey=%x", key[:16], authKey)
	if err := (&KeyLog{}).Read(strings.NewReader(bad + "\n")); err == nil || !strings.Contains(err.Error(), "want 24") {
		t.Errorf("two-key 3DES: %v", err)
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed (Debian package tshark): getlab's decode checked")
	}
	args := append([]string{"-r", path}, kl.TsharkArgs()...)
	args = append(args, "-T", "fields", "-E", "separator=;", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "esp.pad_len", "-e", "esp.protocol")
	out, err := exec.Command("tshark", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, out)
	}
	got := string(bytes.TrimSpace(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
	if want := fmt.Sprintf("0x3de50001;1;%d;0x04", pad); got != want {
		t.Errorf("tshark fields = %q, want %q\nfull output:\n%s", got, want, out)
	}
}
