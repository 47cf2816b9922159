package attack

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// KEK is what the attacks know of a group's rekey SA: its SPI (the cookie
// pair of GROUPKEY-PUSH headers), which crosses the wire in clear, and,
// when the bench has it from a key log, its AES-CBC key and IV.
type KEK struct {
	SPI     [16]byte
	Key, IV []byte // nil: unknown
}

func (k KEK) cookies() (i, r [8]byte) { return [8]byte(k.SPI[:8]), [8]byte(k.SPI[8:]) }

// PushCorpus returns malformed GROUPKEY-PUSH messages under kek (RFC 6407
// §4: HDR*, SEQ, SA, KD, [D,] SIG, encrypted with the KEK). Without the
// key: bodies that are not whole AES blocks, empty, or random blocks that
// decrypt to garbage. With it: bodies that decrypt but do not parse —
// payload lengths of 0, 3 and past the end, a chain that names payloads
// that are not there, a SEQ of 2 octets, a PUSH of only a SEQ, and a
// signature over nothing. Every one must be dropped and counted, with the
// keys and the sequence number left as they were.
func PushCorpus(seed uint64, kek KEK) []Case {
	rng := rand.New(rand.NewPCG(seed, 0x70757368)) // "push"
	icky, rcky := kek.cookies()
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var cs []Case
	push := func(name string, flags uint8, next uint8, body []byte) {
		cs = append(cs, Case{Name: name, Bytes: header(icky, rcky, next, exchPush, flags, 0, body)})
	}
	for _, n := range []int{0, 1, 15, 17, 31} {
		push(fmt.Sprintf("encrypted body of %d octets", n), flagEncryption, payloadSEQ, random(n))
	}
	for _, n := range []int{16, 64, 1024, 1392} {
		push(fmt.Sprintf("random %d-octet encrypted body", n), flagEncryption, payloadSEQ, random(n))
	}
	push("in clear, SEQ of 2 octets", 0, payloadSEQ, payload(nil, payloadNone, []byte{0, 1}))
	push("in clear, no encryption", 0, payloadSEQ, payload(nil, payloadNone, []byte{0, 0, 0, 9}))
	if kek.Key == nil || kek.IV == nil {
		return cs
	}
	seq := func(next uint8, v uint32) []byte { return payload(nil, next, binary.BigEndian.AppendUint32(nil, v)) }
	plain := []struct {
		name string
		next uint8
		body []byte
	}{
		{"decrypts to a SEQ of length 0", payloadSEQ, []byte{0, 0, 0, 0, 0, 0, 0, 7}},
		{"decrypts to a SEQ of length 3", payloadSEQ, []byte{0, 0, 0, 3, 0, 0, 0, 7}},
		{"decrypts to a SEQ of length 65535", payloadSEQ, []byte{0, 0, 0xff, 0xff, 0, 0, 0, 7}},
		{"decrypts to a SEQ of 2 octets", payloadSEQ, payload(nil, payloadNone, []byte{0, 7})},
		{"decrypts to a SEQ only", payloadSEQ, seq(payloadNone, 0x7fff0001)},
		{"decrypts to SEQ then a missing SA", payloadSEQ, seq(payloadSA, 0x7fff0002)},
		{"decrypts to SEQ, SA of length 4", payloadSEQ, append(seq(payloadSA, 0x7fff0003), payloadKD, 0, 0, 4)},
		{"decrypts to SEQ, KD claiming 1000 key packets", payloadSEQ,
			payload(seq(payloadKD, 0x7fff0004), payloadNone, []byte{0x03, 0xe8, 0, 0})},
		{"decrypts to SEQ, SIG over nothing", payloadSEQ, payload(seq(9, 0x7fff0005), payloadNone, random(256))},
		{"decrypts to 1,200 octets of zero", payloadSEQ, make([]byte, 1200)},
		{"decrypts to a HASH first", payloadHash, payload(nil, payloadNone, random(32))},
	}
	for _, p := range plain {
		body, err := cbcSeal(kek.Key, kek.IV, p.body)
		if err != nil {
			continue // a key of a length AES does not take: the unkeyed cases remain
		}
		push(p.name, flagEncryption, p.next, body)
	}
	return cs
}

// cbcSeal pads plain with zeros to whole AES blocks (ISAKMP pads with any
// octets, RFC 2408 §3.1) and encrypts it with AES-CBC.
func cbcSeal(key, iv, plain []byte) ([]byte, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("attack: IV of %d octets", len(iv))
	}
	b := append(bytes.Clone(plain), make([]byte, (aes.BlockSize-len(plain)%aes.BlockSize)%aes.BlockSize)...)
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(b, b)
	return b, nil
}

// ForgePush turns a recorded GROUPKEY-PUSH into one with sequence number
// seq and a corrupted signature, re-encrypted under kek: everything about
// it is right except that the key server did not sign it.
func ForgePush(push []byte, kek KEK, seq uint32) ([]byte, error) {
	h, err := ParseHeader(push)
	if err != nil {
		return nil, err
	}
	if h.Exchange != exchPush || len(push) < headerLen+aes.BlockSize {
		return nil, errors.New("attack: not a GROUPKEY-PUSH")
	}
	blk, err := aes.NewCipher(kek.Key)
	if err != nil {
		return nil, err
	}
	body := bytes.Clone(push[headerLen:])
	if len(body)%aes.BlockSize != 0 || len(kek.IV) != aes.BlockSize {
		return nil, errors.New("attack: PUSH body or IV not in whole AES blocks")
	}
	cipher.NewCBCDecrypter(blk, kek.IV).CryptBlocks(body, body)
	if len(body) < 8 || h.NextPayload != payloadSEQ {
		return nil, errors.New("attack: PUSH does not start with SEQ")
	}
	binary.BigEndian.PutUint32(body[4:], seq)
	// Walk the chain to the end of the last payload (SIG) and flip an
	// octet inside it.
	end, next := 0, h.NextPayload
	for next != payloadNone {
		if end+4 > len(body) {
			return nil, errors.New("attack: PUSH payload chain runs past the body")
		}
		next = body[end]
		l := int(binary.BigEndian.Uint16(body[end+2:]))
		if l < 4 {
			return nil, errors.New("attack: PUSH payload shorter than its header")
		}
		end += l
	}
	if end < 10 || end > len(body) {
		return nil, errors.New("attack: PUSH payload chain runs past the body")
	}
	body[end-10] ^= 0x5a
	cipher.NewCBCEncrypter(blk, kek.IV).CryptBlocks(body, body)
	return append(bytes.Clone(push[:headerLen]), body...), nil
}

// Sniff returns the UDP payload of the first datagram from src to port
// 848 of exchange type exch that reaches the node whose namespace is ns
// (Watch), as an attacker on the path records it.
func Sniff(ctx context.Context, ns string, src netip.Addr, exch uint8) ([]byte, error) {
	var out []byte
	err := Watch(ctx, ns, "", func(pkt []byte, _ time.Time) bool {
		from, proto, udp, ok := IPv4Payload(pkt)
		if !ok || proto != unix.IPPROTO_UDP || len(udp) < 8+headerLen || netip.AddrFrom4(from) != src ||
			binary.BigEndian.Uint16(udp[2:]) != 848 || udp[8+18] != exch {
			return false
		}
		out = bytes.Clone(udp[8:])
		return true
	})
	return out, err
}

// Inject sends each payload as a UDP datagram src:848 -> dst:848 from the
// node whose namespace is ns through a raw socket (any source address: an
// attacker on the WAN), with IP identification id, id+1, ...
func Inject(ctx context.Context, ns string, src, dst netip.Addr, id uint16, payloads ...[]byte) error {
	fd, err := Raw(ns)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	cases := make([]Case, len(payloads))
	for i, p := range payloads {
		cases[i] = Case{Name: fmt.Sprintf("datagram %d", i), Bytes: UDPPacket(src, dst, 848, 848, id+uint16(i), p)}
	}
	_, err = SendRaw(ctx, fd, cases, 0)
	return err
}
