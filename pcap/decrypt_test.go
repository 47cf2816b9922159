package pcap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/pcap/handbuilt"
)

// encrypt turns a plaintext message into the encrypted form (E flag, body
// zero-padded to the block and CBC-encrypted with iv) and returns it with
// the last ciphertext block.
func encrypt(t *testing.T, plain, key, iv []byte) (msg, last []byte) {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{}, plain[isakmp.HeaderLen:]...)
	for len(body)%16 != 0 {
		body = append(body, 0)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	msg = append(append([]byte{}, plain[:isakmp.HeaderLen]...), body...)
	msg[19] |= byte(isakmp.FlagEncryption)
	binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	return msg, body[len(body)-16:]
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
