package mtu

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/pcap"
	"github.com/getlab/getlab/suites/suitekit"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// synMSS is a TCP segment's SYN and ACK flags and the value of its MSS
// option (0: none), read from an IPv4 packet; ok is false if it is not a
// whole first TCP segment.
func synMSS(ip []byte) (syn, ack bool, mss int, ok bool) {
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 6 || binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
		return
	}
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+20 {
		return
	}
	tcp := ip[ihl:]
	off := int(tcp[12]>>4) * 4
	if off < 20 || len(tcp) < off {
		return
	}
	syn, ack, ok = tcp[13]&0x02 != 0, tcp[13]&0x10 != 0, true
	for o := tcp[20:off]; len(o) > 0; {
		switch o[0] {
		case 0:
			return
		case 1:
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			return
		}
		if o[0] == 2 && o[1] == 4 {
			mss = int(binary.BigEndian.Uint16(o[2:4]))
		}
		o = o[o[1]:]
	}
	return
}

// handshake are the MSS values of the SYN (from) and SYN-ACK (to) seen on
// link, in clear or, for ESP, decrypted with the key log; -1 where none
// was seen.
func handshake(pkts []pcap.Packet, link string, port uint16) (synMSSv, synAckMSS int) {
	synMSSv, synAckMSS = -1, -1
	for _, p := range pkts {
		if p.Link != link {
			continue
		}
		ip := p.IPPacket()
		if p.ESP != nil {
			if !p.ESP.Decrypted {
				continue
			}
			ip = p.ESP.Payload
		}
		syn, ack, mss, ok := synMSS(ip)
		if !ok || !syn || len(ip) < int(ip[0]&0x0f)*4+4 {
			continue
		}
		tcp := ip[int(ip[0]&0x0f)*4:]
		switch {
		case !ack && binary.BigEndian.Uint16(tcp[2:4]) == port && synMSSv < 0:
			synMSSv = mss
		case ack && binary.BigEndian.Uint16(tcp[0:2]) == port && synAckMSS < 0:
			synAckMSS = mss
		}
	}
	return
}

var _ = Describe("TCP MSS clamped on the GM (DP-40: ip tcp adjust-mss 1360)", Ordered, Label("mtu"), suitekit.Checks("DP-40"), suitekit.SlowAt(0.1), func() {
	const (
		clamp = 1360
		port  = 7500
		bulk  = 256 << 10
	)
	var (
		s        *suitekit.Scenario
		received int64
	)
	BeforeAll(func(ctx SpecContext) {
		m := scenario.Default()
		m.TimerScale = suitekit.TimerScale(0.1)
		for i := range m.GroupMembers {
			if m.GroupMembers[i].Name == "gm1" {
				m.GroupMembers[i].TCPMSS = clamp
			}
		}
		suitekit.SkipUnlessRuns(m, map[impl.Role][]impl.Capability{impl.GM: {impl.DataPlane, impl.TCPMSS}})
		s = suitekit.StartModel(ctx, "mtu-mss", "basic.clab.yml", m, nil)
		s.WaitOnWire(ctx, 30*time.Second, "ks1 registers gm1 and gm2", suitekit.RegisteredAll(ks1, gm1, gm2))
		time.Sleep(time.Second)
		// host-a opens a TCP connection to host-b and sends bulk octets.
		var ln net.Listener
		Expect(nsdo.Do(suitekit.NetNS(s.Lab, "host-b"), func() (err error) {
			ln, err = net.Listen("tcp4", netip.AddrPortFrom(hostB, port).String())
			return err
		})).To(Succeed())
		defer ln.Close()
		got := make(chan int64, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- -1
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			n, _ := io.Copy(io.Discard, c)
			got <- n
		}()
		var conn net.Conn
		Expect(nsdo.Do(suitekit.NetNS(s.Lab, "host-a"), func() (err error) {
			conn, err = net.DialTimeout("tcp4", netip.AddrPortFrom(hostB, port).String(), 5*time.Second)
			return err
		})).To(Succeed())
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		_, err := conn.Write(make([]byte, bulk))
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close()).To(Succeed())
		Eventually(got).WithTimeout(25 * time.Second).Should(Receive(&received))
		s.Finish()
	})

	It("lowers the MSS of host-a's SYN to 1360 on its way out of gm1, and of host-b's SYN-ACK on its way in", func() {
		synA, _ := handshake(s.Pkts, "gm1:eth2", port)
		Expect(synA).To(BeNumerically(">", clamp), "host-a's own SYN, on its LAN")
		synB, synAckB := handshake(s.Pkts, "gm2:eth2", port)
		Expect(synB).To(Equal(clamp), "host-a's SYN as host-b's LAN sees it")
		Expect(synAckB).To(BeNumerically(">", clamp), "host-b's own SYN-ACK (gm2 does not clamp)")
		_, synAckA := handshake(s.Pkts, "gm1:eth2", port)
		Expect(synAckA).To(Equal(clamp), "host-b's SYN-ACK as host-a's LAN sees it")
		AddReportEntry("MSS", fmt.Sprintf("SYN %d → %d; SYN-ACK %d → %d", synA, synB, synAckB, synAckA))
	})

	It("carries the SYN encrypted with the clamped MSS already (key log)", func() {
		suitekit.RequireKeyLog()
		syn, _ := handshake(s.Pkts, "gm1:eth1", port)
		Expect(syn).To(Equal(clamp), "the SYN inside gm1's ESP")
	})

	It("keeps every segment of the transfer inside a 1500-octet WAN: no ICMP, no fragment, all delivered", func() {
		Expect(received).To(BeEquivalentTo(bulk))
		Expect(fragNeeded(s.Pkts, "gm1:eth2", gm1, hostA)).To(BeEmpty())
		Expect(fragNeeded(s.Pkts, "gm1:eth2", netip.MustParseAddr("198.51.100.1"), hostA)).To(BeEmpty())
		largest := 0
		for _, p := range s.Pkts {
			if p.Link != "gm1:eth1" || p.Proto != "ESP" || p.Src != hostA {
				continue
			}
			ip := p.IPPacket()
			Expect(binary.BigEndian.Uint16(ip[6:8])&0x3fff).To(BeZero(), "frame %d is a fragment", p.Index)
			largest = max(largest, len(ip))
		}
		Expect(largest).To(BeNumerically("<=", 1500))
		Expect(largest).To(BeNumerically(">", clamp), "full-size segments were sent")
		AddReportEntry("transfer", fmt.Sprintf("%d octets host-a → host-b, largest ESP packet %d octets", received, largest))
	})
})
