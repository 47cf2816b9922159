package pcap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/pcap/handbuilt"
)

// encrypt turns a plaintext message into the encrypted form (E flag, body
// zero-padded to the block and AES-CBC-encrypted with iv) and returns it with
// the last ciphertext block.
func encrypt(t *testing.T, plain, key, iv []byte) (msg, last []byte) {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return encryptWith(block, plain, iv)
}

// encryptWith is encrypt with any block cipher (3DES: 8-octet blocks).
func encryptWith(block cipher.Block, plain, iv []byte) (msg, last []byte) {
	bs := block.BlockSize()
	body := append([]byte{}, plain[isakmp.HeaderLen:]...)
	for len(body)%bs != 0 {
		body = append(body, 0)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	msg = append(append([]byte{}, plain[:isakmp.HeaderLen]...), body...)
	msg[19] |= byte(isakmp.FlagEncryption)
	binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	return msg, body[len(body)-bs:]
}

// A GROUPKEY-PULL encrypted under the phase-1 SA (IV per RFC 2409 appendix
// B: hash of the last phase-1 block and the message ID, then chained) and
// two GROUPKEY-PUSH messages under the KEK (static IV) decrypt with the key
// log to the payloads they were built with; without keys they stay opaque.
func TestDecryptWithKeyLog(t *testing.T) {
	msgs := handbuilt.Messages()
	pull, push := msgs[6:10], msgs[10]
	p1Key := []byte("0123456789abcdef0123456789abcdef")
	p1IV := []byte("phase-1-lastblk!")
	kekKey := []byte("kek-key-kek-key-kek-key-kek-key!")
	kekIV := []byte("static-kek-iv-16")

	h, _, err := isakmp.ParseHeader(pull[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var mid [4]byte
	binary.BigEndian.PutUint32(mid[:], h.MessageID)
	sum := sha256.Sum256(append(append([]byte{}, p1IV...), mid[:]...))
	iv := sum[:16]
	var enc []handbuilt.Message
	for _, m := range pull {
		var ct []byte
		ct, iv = encrypt(t, m.Bytes, p1Key, iv)
		enc = append(enc, handbuilt.Message{Name: m.Name, FromGM: m.FromGM, Bytes: ct})
	}
	for range 2 {
		ct, _ := encrypt(t, push.Bytes, kekKey, kekIV)
		enc = append(enc, handbuilt.Message{Name: push.Name, Bytes: ct})
	}
	path := filepath.Join(t.TempDir(), "encrypted.pcapng")
	if err := handbuilt.WriteCapture(path, enc); err != nil {
		t.Fatal(err)
	}

	plain, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plain {
		if p.ISAKMP == nil || !p.ISAKMP.Encrypted || p.ISAKMP.Decrypted || p.ISAKMP.Layout != "" {
			t.Errorf("without keys: %s", p.String())
		}
	}

	var kek KEKKeys
	hp, _, _ := isakmp.ParseHeader(push.Bytes)
	kek.SPI = hp.Cookies()
	kek.Enc, kek.Key, kek.IV = "aes-cbc", kekKey, kekIV
	ike := IKEKeys{ICookie: h.ICookie, RCookie: h.RCookie, Enc: "aes-cbc", Key: p1Key, IV: p1IV, Hash: "sha256"}
	kl := &KeyLog{}
	if err := kl.Read(strings.NewReader(ike.Line() + "\n" + kek.Line() + "\n")); err != nil {
		t.Fatal(err)
	}
	pkts, err := ReadFile(path, kl)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{pull[0].Layout, pull[1].Layout, pull[2].Layout, pull[3].Layout, push.Layout, push.Layout}
	for i, p := range pkts {
		if p.ISAKMP == nil || !p.ISAKMP.Decrypted || p.ISAKMP.Layout != want[i] {
			t.Errorf("frame %d: %s, want decrypted %s", i+1, p.String(), want[i])
		}
	}
	if pkts[5].ISAKMP == nil || !pkts[5].ISAKMP.Repeat {
		t.Errorf("the second, identical PUSH is not marked as a repeat")
	}

	// A wrong phase-1 IV base garbles the first block: reported, not
	// mistaken for a decryption.
	ike.IV = []byte("wrong-last-block")
	bad := &KeyLog{}
	_ = bad.Read(strings.NewReader(ike.Line() + "\n"))
	pkts, _ = ReadFile(path, bad)
	if pkts[0].ISAKMP.Decrypted || pkts[0].ISAKMP.DecryptError == "" {
		t.Errorf("wrong IV: %s", pkts[0].String())
	}
}

// The same with 3DES-CBC, as gdoid runs phase 1 and can run its KEK: a
// GROUPKEY-PULL under a 3des-cbc phase-1 SA (SHA-1, 8-octet IVs) and a
// GROUPKEY-PUSH under a 3des-cbc KEK decrypt to the payloads they carry.
func TestDecryptWithKeyLog3DES(t *testing.T) {
	msgs := handbuilt.Messages()
	pull, push := msgs[6:10], msgs[10]
	p1Key := []byte("3des-phase1-key-24octets")
	p1IV := []byte("lastblk!")
	kekKey := []byte("3des-kek-key-of-24octets")
	kekIV := []byte("kek-iv-8")
	p1, err := des.NewTripleDESCipher(p1Key)
	if err != nil {
		t.Fatal(err)
	}
	kekBlock, err := des.NewTripleDESCipher(kekKey)
	if err != nil {
		t.Fatal(err)
	}

	h, _, err := isakmp.ParseHeader(pull[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var mid [4]byte
	binary.BigEndian.PutUint32(mid[:], h.MessageID)
	sum := sha1.Sum(append(append([]byte{}, p1IV...), mid[:]...))
	iv := sum[:8]
	var enc []handbuilt.Message
	for _, m := range pull {
		var ct []byte
		ct, iv = encryptWith(p1, m.Bytes, iv)
		enc = append(enc, handbuilt.Message{Name: m.Name, FromGM: m.FromGM, Bytes: ct})
	}
	ct, _ := encryptWith(kekBlock, push.Bytes, kekIV)
	enc = append(enc, handbuilt.Message{Name: push.Name, Bytes: ct})
	path := filepath.Join(t.TempDir(), "encrypted-3des.pcapng")
	if err := handbuilt.WriteCapture(path, enc); err != nil {
		t.Fatal(err)
	}

	hp, _, _ := isakmp.ParseHeader(push.Bytes)
	kek := KEKKeys{SPI: hp.Cookies(), Enc: "3des-cbc", Key: kekKey, IV: kekIV}
	ike := IKEKeys{ICookie: h.ICookie, RCookie: h.RCookie, Enc: "3des-cbc", Key: p1Key, IV: p1IV, Hash: "sha1"}
	kl := &KeyLog{}
	if err := kl.Read(strings.NewReader(ike.Line() + "\n" + kek.Line() + "\n")); err != nil {
		t.Fatal(err)
	}
	pkts, err := ReadFile(path, kl)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{pull[0].Layout, pull[1].Layout, pull[2].Layout, pull[3].Layout, push.Layout}
	if len(pkts) != len(want) {
		t.Fatalf("%d packets", len(pkts))
	}
	for i, p := range pkts {
		if p.ISAKMP == nil || !p.ISAKMP.Decrypted || p.ISAKMP.Layout != want[i] || p.Malformed != "" {
			t.Errorf("frame %d: %s, want decrypted %s", i+1, p.String(), want[i])
		}
	}
}
