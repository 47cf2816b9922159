package rekey

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/attack"
	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/gomega"
)

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
// daemon sent, carrying injectedID.
func inject(ns string, src, dst netip.Addr, msg []byte) error {
	return attack.Inject(context.Background(), ns, src, dst, injectedID, msg)
}

// labKeyLog reads the key log of the lab's first end that writes one
// (gm1's, else ks1's, at its implementation's keylog path, in the node's
// file view); nil when neither does.
func labKeyLog(lab *netns.Lab) *pcap.KeyLog {
	for _, e := range []struct {
		node string
		role impl.Role
	}{{"gm1", impl.GM}, {"ks1", impl.KS}} {
		if !suitekit.Offers(e.role, impl.KeyLog) {
			continue
		}
		n := lab.Node(e.node)
		Expect(n).NotTo(BeNil(), "no node %s", e.node)
		keys, err := pcap.ReadKeyLog(fmt.Sprintf("/proc/%d/root%s", n.Holder, suitekit.Impl(e.role).Caps.KeyLog.Path))
		Expect(err).NotTo(HaveOccurred(), "the key log of %s", e.node)
		return keys
	}
	return nil
}

// forgeSignature turns a captured PUSH into one with a fresh sequence
// number and a corrupted signature, re-encrypted with the KEK from the
// key log that its header names: everything about it is right except
// that the KS did not sign it.
func forgeSignature(push []byte, keys *pcap.KeyLog, seq uint32) ([]byte, error) {
	h, err := attack.ParseHeader(push)
	if err != nil {
		return nil, err
	}
	spi := isakmp.JoinCookies(h.ICookie, h.RCookie)
	for _, k := range keys.KEK {
		if k.SPI == spi {
			return attack.ForgePush(push, attack.KEK{SPI: spi, Key: k.Key, IV: k.IV}, seq)
		}
	}
	return nil, errors.New("KEK of the PUSH not in the key log")
}
