package pcap

// The key log is to GDOI and ESP what SSLKEYLOGFILE is to TLS: a daemon
// started with --keylog FILE appends one line per secret it establishes,
// and the bench (or a person with Wireshark) decrypts a capture with it.
//
// Format, version 1. UTF-8 text, one record per line; blank lines and lines
// starting with '#' are ignored. A record is a type word followed by
// space-separated key=value fields; values are lowercase hex unless noted.
// Unknown fields are ignored, so records can grow; an unknown record type
// is skipped and counted, so a newer daemon's log still opens.
//
//	IKEV1    icookie=<8 octets> rcookie=<8 octets> enc=<cipher> key=<hex>
//	         iv=<hex> [hash=<sha1|sha256|sha384|sha512>] [skeyid_a=<hex>]
//	    Phase-1 SA keys: key is the phase-1 encryption key (derived from
//	    SKEYID_e), iv the last CBC block of the phase-1 exchange (the base
//	    from which each phase-2 exchange's IV is hashed with its message ID).
//	GDOI_KEK spi=<16 octets> enc=<cipher> key=<hex> iv=<hex> [group=<id>]
//	    A group's rekey SA: spi is the KEK cookie pair of GROUPKEY-PUSH headers.
//	ESP      spi=<4 octets> transform=<name> key=<hex> [authkey=<hex>]
//	         [src=<addr|*>] [dst=<addr|*>] [group=<id>]
//	    A TEK. transform uses strongSwan's ESP proposal keywords, as
//	    gateway/wire/esp names them: aes128gcm16, aes256gcm16, aes128-sha1,
//	    aes192-sha256, aes256-sha256, 3des-sha1, 3des-sha256, null-sha256,
//	    ... For GCM, key is the AES key followed by the 4-octet salt
//	    (RFC 4106); for 3DES it is the 24-octet DES-EDE3 key (RFC 2451);
//	    authkey is the HMAC key.
//
// Phase-1 and KEK ciphers: aes-cbc (the key length gives 128/192/256) and
// 3des-cbc.

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// KeyLog holds the secrets read from key-log files.
type KeyLog struct {
	IKE     []IKEKeys
	KEK     []KEKKeys
	ESP     []ESPKeys
	Skipped int // records of a type this version does not know
}

// IKEKeys are a phase-1 SA's keys.
type IKEKeys struct {
	ICookie, RCookie [8]byte
	Enc              string
	Key, IV          []byte
	Hash             string
	SKEYIDa          []byte
}

// KEKKeys are a group's rekey SA keys.
type KEKKeys struct {
	SPI     [16]byte
	Enc     string
	Key, IV []byte
	Group   string
}

// ESPKeys are a TEK's keys.
type ESPKeys struct {
	SPI       uint32
	Transform espwire.Transform
	Key       []byte
	AuthKey   []byte
	Src, Dst  string // "*" when the SA is not bound to an address
	Group     string
}

// ReadKeyLog reads a key-log file.
func ReadKeyLog(path string) (*KeyLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keylog: %w", err)
	}
	defer f.Close()
	kl := &KeyLog{}
	if err := kl.Read(f); err != nil {
		return nil, fmt.Errorf("keylog: %s: %w", path, err)
	}
	return kl, nil
}

// Read adds the records of r. An error names the line.
func (kl *KeyLog) Read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		if err := kl.parseRecord(text); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return sc.Err()
}

func (kl *KeyLog) parseRecord(text string) error {
	words := strings.Fields(text)
	f := fields{}
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return fmt.Errorf("%s: field %q is not key=value", words[0], w)
		}
		f[k] = v
	}
	switch words[0] {
	case "IKEV1":
		var k IKEKeys
		err := firstErr(
			f.fixed("icookie", k.ICookie[:]), f.fixed("rcookie", k.RCookie[:]),
			f.cipher("enc", &k.Enc), f.hex("key", &k.Key, true), f.hex("iv", &k.IV, true),
			f.hex("skeyid_a", &k.SKEYIDa, false),
		)
		if err != nil {
			return fmt.Errorf("IKEV1: %w", err)
		}
		k.Hash = f["hash"]
		kl.IKE = append(kl.IKE, k)
	case "GDOI_KEK":
		var k KEKKeys
		err := firstErr(f.fixed("spi", k.SPI[:]), f.cipher("enc", &k.Enc),
			f.hex("key", &k.Key, true), f.hex("iv", &k.IV, true))
		if err != nil {
			return fmt.Errorf("GDOI_KEK: %w", err)
		}
		k.Group = f["group"]
		kl.KEK = append(kl.KEK, k)
	case "ESP":
		var k ESPKeys
		var spi [4]byte
		err := firstErr(f.fixed("spi", spi[:]), f.transform("transform", &k.Transform),
			f.hex("key", &k.Key, false), f.hex("authkey", &k.AuthKey, false))
		if err == nil {
			err = checkKeyLens(k)
		}
		if err != nil {
			return fmt.Errorf("ESP: %w", err)
		}
		k.SPI = uint32(spi[0])<<24 | uint32(spi[1])<<16 | uint32(spi[2])<<8 | uint32(spi[3])
		k.Src, k.Dst, k.Group = orStar(f["src"]), orStar(f["dst"]), f["group"]
		kl.ESP = append(kl.ESP, k)
	default:
		kl.Skipped++
	}
	return nil
}

type fields map[string]string

func (f fields) hex(name string, dst *[]byte, required bool) error {
	v, ok := f[name]
	if !ok || v == "" {
		if required {
			return fmt.Errorf("missing %s=", name)
		}
		return nil
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = b
	return nil
}

func (f fields) fixed(name string, dst []byte) error {
	var b []byte
	if err := f.hex(name, &b, true); err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%s: %d octets, want %d", name, len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// phase1Ciphers are the ciphers of IKEV1 and GDOI_KEK records.
var phase1Ciphers = map[string]bool{"aes-cbc": true, "3des-cbc": true}

func (f fields) cipher(name string, dst *string) error {
	v := f[name]
	if !phase1Ciphers[v] {
		return fmt.Errorf("%s: unknown cipher %q (aes-cbc or 3des-cbc)", name, v)
	}
	*dst = v
	return nil
}

func (f fields) transform(name string, dst *espwire.Transform) error {
	t, err := espwire.ParseTransform(f[name])
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = t
	return nil
}

func checkKeyLens(k ESPKeys) error {
	t := k.Transform
	if len(k.Key) != t.EncKeyLen() {
		return fmt.Errorf("%s: key has %d octets, want %d", t, len(k.Key), t.EncKeyLen())
	}
	if len(k.AuthKey) != t.AuthKeyLen() {
		return fmt.Errorf("%s: authkey has %d octets, want %d", t, len(k.AuthKey), t.AuthKeyLen())
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// Line formats an ESP record as a daemon writes it.
func (k ESPKeys) Line() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "ESP spi=%08x transform=%s key=%x", k.SPI, k.Transform, k.Key)
	if len(k.AuthKey) > 0 {
		fmt.Fprintf(&b, " authkey=%x", k.AuthKey)
	}
	if k.Src != "" && k.Src != "*" {
		fmt.Fprintf(&b, " src=%s", k.Src)
	}
	if k.Dst != "" && k.Dst != "*" {
		fmt.Fprintf(&b, " dst=%s", k.Dst)
	}
	if k.Group != "" {
		fmt.Fprintf(&b, " group=%s", k.Group)
	}
	return b.String()
}

// Line formats a GDOI_KEK record.
func (k KEKKeys) Line() string {
	s := fmt.Sprintf("GDOI_KEK spi=%x enc=%s key=%x iv=%x", k.SPI, k.Enc, k.Key, k.IV)
	if k.Group != "" {
		s += " group=" + k.Group
	}
	return s
}

// Line formats an IKEV1 record.
func (k IKEKeys) Line() string {
	s := fmt.Sprintf("IKEV1 icookie=%x rcookie=%x enc=%s key=%x iv=%x", k.ICookie, k.RCookie, k.Enc, k.Key, k.IV)
	if k.Hash != "" {
		s += " hash=" + k.Hash
	}
	if len(k.SKEYIDa) > 0 {
		s += fmt.Sprintf(" skeyid_a=%x", k.SKEYIDa)
	}
	return s
}

// ESPBySPI returns the keys of a TEK.
func (kl *KeyLog) ESPBySPI(spi uint32) (ESPKeys, bool) {
	for i := len(kl.ESP) - 1; i >= 0; i-- {
		if kl.ESP[i].SPI == spi {
			return kl.ESP[i], true
		}
	}
	return ESPKeys{}, false
}
