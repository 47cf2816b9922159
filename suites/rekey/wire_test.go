package rekey

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/ipv4"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/pcap"
	"golang.org/x/sys/unix"
)

// sniffPush returns the first GROUPKEY-PUSH from ks that reaches the node
// whose namespace is ns: a raw UDP socket gets a copy of every datagram
// the node receives, the daemon's included, as an attacker on the path
// would record it.
func sniffPush(ctx context.Context, ns string, ks netip.Addr) ([]byte, error) {
	var out []byte
	err := nsdo.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		buf := make([]byte, 65535)
		for ctx.Err() == nil {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue // timeout: look at the context again
			}
			pkt := buf[:n]
			hl, err := ipv4.Check(pkt)
			if err != nil || n < hl+8+isakmp.HeaderLen || ipv4.Src(pkt) != ks ||
				binary.BigEndian.Uint16(pkt[hl:]) != 848 || pkt[hl+8+18] != byte(isakmp.ExchangeGroupkeyPush) {
				continue
			}
			out = bytes.Clone(pkt[hl+8:])
			return nil
		}
		return ctx.Err()
	})
	return out, err
}

// injectedID is the IPv4 identification of the datagrams inject sends,
// which tells them apart from the daemons' in the capture.
const injectedID = 4242

// injected reports whether a captured frame is one inject sent.
func injected(p pcap.Packet) bool {
	ip := p.IPPacket()
	return len(ip) >= 20 && binary.BigEndian.Uint16(ip[4:]) == injectedID
}

// inject sends an ISAKMP message from src:848 to dst:848 out of the node
// whose namespace is ns, with a raw socket: a datagram on the WAN that no
// daemon sent.
func inject(ns string, src, dst netip.Addr, msg []byte) error {
	return nsdo.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		pkt := make([]byte, 28+len(msg))
		ipv4.WriteHeader(pkt, &ipv4.Header{TotalLen: len(pkt), ID: injectedID, TTL: 64, Protocol: ipv4.ProtoUDP, Src: src, Dst: dst})
		binary.BigEndian.PutUint16(pkt[20:], 848)
		binary.BigEndian.PutUint16(pkt[22:], 848)
		binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(msg)))
		copy(pkt[28:], msg)
		return unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()})
	})
}

// nodeKeyLog reads the key log a node's daemon keeps (its key_log file,
// in the node's file view).
func nodeKeyLog(lab *netns.Lab, node string) (*pcap.KeyLog, error) {
	n := lab.Node(node)
	if n == nil {
		return nil, fmt.Errorf("no node %s", node)
	}
	return pcap.ReadKeyLog(fmt.Sprintf("/proc/%d/root/run/getvpnd/keys.log", n.Holder))
}

// forgeSignature turns a captured PUSH into one with a fresh sequence
// number and a corrupted signature, re-encrypted with the KEK from the
// key log: everything about it is right except that the KS did not sign
// it. The KEK is the one whose SPI the header names.
func forgeSignature(push []byte, keys *pcap.KeyLog, seq uint32) ([]byte, error) {
	h, _, err := isakmp.ParseHeader(push)
	if err != nil {
		return nil, err
	}
	var key, iv []byte
	for _, k := range keys.KEK {
		if k.SPI == h.Cookies() {
			key, iv = k.Key, k.IV
		}
	}
	if key == nil {
		return nil, errors.New("KEK of the PUSH not in the key log")
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	body := bytes.Clone(push[isakmp.HeaderLen:])
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(body, body)
	// SEQ is the first payload: its 4-octet value follows the generic
	// header. Walk the chain to the end of the last payload (SIG).
	binary.BigEndian.PutUint32(body[4:], seq)
	end, next := 0, h.NextPayload
	for next != isakmp.PayloadNone {
		if end+4 > len(body) {
			return nil, errors.New("payload chain runs past the body")
		}
		next = isakmp.PayloadType(body[end])
		end += int(binary.BigEndian.Uint16(body[end+2:]))
	}
	body[end-10] ^= 0x5a // inside the signature
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(body, body)
	return append(bytes.Clone(push[:isakmp.HeaderLen]), body...), nil
}
