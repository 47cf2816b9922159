package attack

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// The hand-built message 1 is what the project's codec (an independent
// reading of RFC 2408) takes for a GDOI main-mode message 1.
func TestMainMode1Parses(t *testing.T) {
	icky := RandomCookie()
	m, err := isakmp.ParseMessage(MainMode1(icky, DefaultPhase1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.ICookie != icky || m.Header.RCookie != ([8]byte{}) || m.Header.Exchange != isakmp.ExchangeMainMode {
		t.Errorf("header %+v", m.Header)
	}
	if got := m.Layout(); got != "SA(P(T))" {
		t.Fatalf("layout %s, want SA(P(T))", got)
	}
	sa := m.Payloads[0].(*isakmp.SA)
	if sa.DOI != isakmp.DOIGDOI {
		t.Errorf("DOI %d", sa.DOI)
	}
	tr := sa.Proposals[0].Transforms[0]
	for typ, want := range map[uint16]uint64{1: 7, 14: 256, 2: 4, 3: 1, 4: 14, 11: 1, 12: 86400} {
		if v, ok := tr.Attributes.Uint(typ); !ok || v != want {
			t.Errorf("attribute %d = %d (%v), want %d", typ, v, ok, want)
		}
	}
	m3, err := isakmp.ParseMessage(MainMode3(icky, RandomCookie(), KE(14), Nonce()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m3.Layout(); got != "KE,NONCE" {
		t.Errorf("message 3 layout %s", got)
	}
	if ke := m3.Payloads[0].(*isakmp.KE).Data; len(ke) != 256 || ke[0] >= 0x80 || ke[0] < 0x40 {
		t.Errorf("group 14 KE of %d octets, top octet %#x", len(ke), ke[0])
	}
}

func TestISAKMPCorpus(t *testing.T) {
	cs := ISAKMPCorpus(1)
	if len(cs) < 100 {
		t.Fatalf("%d cases, want at least 100", len(cs))
	}
	names := map[string]bool{}
	for _, c := range cs {
		if names[c.Name] {
			t.Errorf("case %q twice", c.Name)
		}
		names[c.Name] = true
		if len(c.Bytes) > 65507 {
			t.Errorf("%q: %d octets do not fit a UDP datagram", c.Name, len(c.Bytes))
		}
	}
	// Every case a parser takes is wrong in what it says: cookies of no
	// exchange, an encrypted body where no SA exists, a message 1 that is
	// not one. The rest must not parse.
	meaning := []string{"exchange ", "main mode 1 with ", "main mode 1 of 4,000", "transform of 8,000"}
	for _, c := range cs {
		if _, err := isakmp.ParseMessage(c.Bytes, nil); err == nil && !hasAnyPrefix(c.Name, meaning) {
			t.Errorf("%q parses", c.Name)
		}
	}
	again := ISAKMPCorpus(1)
	for i := range cs {
		if !bytes.Equal(cs[i].Bytes, again[i].Bytes) {
			t.Fatalf("case %q differs between two corpora of one seed", cs[i].Name)
		}
	}
	if bytes.Equal(ISAKMPCorpus(2)[300].Bytes, cs[300].Bytes) {
		t.Error("two seeds give the same cookies")
	}
}

func TestESPCorpus(t *testing.T) {
	src, dst := netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("203.0.113.10")
	cs := ESPCorpus(1, src, dst, 0x11223344, 7000)
	short := 0
	for i, c := range cs {
		b := c.Bytes
		if b[0] != 0x45 || b[9] != protoESP || int(binary.BigEndian.Uint16(b[2:])) != len(b) {
			t.Fatalf("%q: not an IPv4 ESP packet", c.Name)
		}
		if binary.BigEndian.Uint16(b[4:]) != uint16(7000+i) {
			t.Errorf("%q: identification %d", c.Name, binary.BigEndian.Uint16(b[4:]))
		}
		if netip.AddrFrom4([4]byte(b[12:16])) != src || netip.AddrFrom4([4]byte(b[16:20])) != dst {
			t.Errorf("%q: addresses", c.Name)
		}
		if binary.BigEndian.Uint32(b[20:]) == 0x11223344 && len(b)-28 < 8+16+16 {
			short++
		}
	}
	// Every body too short for an AES-CBC IV and the longest ICV.
	if short < 40 {
		t.Errorf("%d short packets on the live SPI", short)
	}
}

func TestForgePush(t *testing.T) {
	key, iv := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 16)
	kek := KEK{SPI: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Key: key, IV: iv}
	// SEQ 5, then a 60-octet SIG.
	plain := payload(nil, 9, binary.BigEndian.AppendUint32(nil, 5))
	plain = payload(plain, payloadNone, bytes.Repeat([]byte{0xaa}, 60))
	body, err := cbcSeal(key, iv, plain)
	if err != nil {
		t.Fatal(err)
	}
	icky, rcky := kek.cookies()
	push := header(icky, rcky, payloadSEQ, exchPush, flagEncryption, 0, body)
	forged, err := ForgePush(push, kek, 1000)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := aes.NewCipher(key)
	out := bytes.Clone(forged[headerLen:])
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(out, out)
	if got := binary.BigEndian.Uint32(out[4:]); got != 1000 {
		t.Errorf("seq %d", got)
	}
	diff := 0
	for i := 8; i < len(plain); i++ {
		if out[i] != plain[i] {
			diff++
		}
	}
	if diff != 1 {
		t.Errorf("%d octets of the signature changed, want 1", diff)
	}
	if len(PushCorpus(1, kek)) <= len(PushCorpus(1, KEK{SPI: kek.SPI})) {
		t.Error("knowing the key adds no cases")
	}
}

// A responder on loopback that opens an exchange for every message 1 and
// answers every message 3 with a message 4: the flood counts both.
func TestMessage3Flood(t *testing.T) {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_ = srv.SetReadBuffer(4 << 20)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			h, err := ParseHeader(buf[:n])
			if err != nil {
				continue
			}
			var reply []byte
			if h.RCookie == ([8]byte{}) {
				reply = header(h.ICookie, [8]byte{1}, payloadSA, exchMainMode, 0, 0, payload(nil, 0, DefaultPhase1.saPayloadBody()))
			} else {
				reply = header(h.ICookie, h.RCookie, payloadKE, exchMainMode, 0, 0, payload(nil, 0, KE(14)))
			}
			_, _ = srv.WriteToUDPAddrPort(reply, from)
		}
	}()
	conn, err := UDP("", netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	st, err := Message3(context.Background(), conn, to, 200, 0, 2000, DefaultPhase1, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Message1 != 200 || st.Message2 != 200 || st.Message3 != 200 || st.Message4 != 200 {
		t.Errorf("%v, want 200 of each", st)
	}
	st, err = HalfOpen(context.Background(), conn, to, 50, 0, 0, DefaultPhase1, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Message1 != 50 || st.Message2 != 50 || st.Message3 != 0 {
		t.Errorf("half-open flood %v, want 50 message 1s answered, no message 3", st)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// What the attacks read of a target's replies (headers, notifications,
// payload chains) never panics on anything the target sends.
func FuzzReplies(f *testing.F) {
	f.Add(MainMode1(RandomCookie(), DefaultPhase1))
	f.Add(MainMode3(RandomCookie(), RandomCookie(), KE(14), Nonce()))
	f.Add(header([8]byte{1}, [8]byte{2}, payloadNotify, exchInfo, 0, 0, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseHeader(b)
		_, _ = NotifyType(b)
		_, _ = payloads(b)
	})
}
