package html

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/getlab/getlab/harness/traffic"
	"github.com/getlab/getlab/pcap/handbuilt"
)

// A synthetic run: one suite, an Ordered container whose first spec set
// the scenario up and passed and whose second failed, a skipped spec and
// one the label filter left out; a scenario folder with a capture (the
// hand-built GDOI messages, a probe stream in clear on both LANs and in
// ESP on the WAN that loses some probes, a truncated ESP frame, ARP),
// its key log, a node's events and log.

var (
	t0      = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	failAt  = t0.Add(1200 * time.Millisecond)
	espKey  = mustHex("000102030405060708090a0b0c0d0e0f")
	espSalt = mustHex("cafebabe")
)

const (
	fixtureSPI    = 0x00001234
	fixtureStream = 0xabcd0001
	fixtureProbes = 300
	lostEvery     = 30 // every 30th probe never reaches gm2's LAN
	espEvery      = 5 * time.Millisecond
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

type fixture struct {
	dir     string // the report's directory
	scen    string // the scenario's artifact folder
	reports []types.Report
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.scen = filepath.Join(f.dir, "scenario one")
	for _, d := range []string{f.scen, filepath.Join(f.scen, "gm1"), filepath.Join(f.scen, "ks1")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeCapture(t, filepath.Join(f.scen, "capture.pcapng"))
	write(t, filepath.Join(f.scen, "keys.log"), fmt.Sprintf("# from gm1\nESP spi=%08x transform=aes128gcm16 key=%x%x\n", fixtureSPI, espKey, espSalt))
	events := []map[string]any{
		{"seq": 1, "time": t0.Add(5 * time.Millisecond), "name": "GM_REGSTER", "facility": "CRYPTO", "severity": 5, "message": "Start registration to KS 192.0.2.1"},
		{"seq": 2, "time": t0.Add(40 * time.Millisecond), "name": "GM_REGS_COMPL", "facility": "GDOI", "severity": 5, "message": "Registration to KS 192.0.2.1 complete"},
	}
	b, _ := json.MarshalIndent(events, "", "  ")
	write(t, filepath.Join(f.scen, "gm1", "events.json"), string(b))
	write(t, filepath.Join(f.scen, "gm1", "gm1.log"),
		`{"time":"2026-01-02T10:00:00.001Z","level":"info","event":"","msg":"data plane: WAN eth1"}`+"\n"+
			`{"time":"2026-01-02T10:00:00.005Z","level":"info","event":"GM_REGSTER","msg":"%CRYPTO-5-GM_REGSTER: Start registration"}`+"\n"+
			`{"time":"2026-01-02T10:00:00.900Z","level":"warn","event":"","msg":"rekey: nothing from the KS"}`+"\n")
	write(t, filepath.Join(f.scen, "gm1", "state.txt"), "node gm1 (linux) state running\n")
	write(t, filepath.Join(f.scen, "gm1", "gdoi.json"), `{"role":"gm","version":"v9.9.9"}`)
	write(t, filepath.Join(f.scen, "ks1", "ks1.log"), "not json: another implementation's log\n")
	write(t, filepath.Join(f.scen, "lab.json"), "{}")

	loc := func(line int) types.CodeLocation {
		return types.CodeLocation{FileName: "/src/suites/synthetic/synthetic_test.go", LineNumber: line}
	}
	entry := func(at time.Duration, name, value string) types.ReportEntry {
		return types.ReportEntry{Name: name, Time: t0.Add(at), Location: loc(10), Value: types.WrapEntryValue(value)}
	}
	first := types.SpecReport{
		ContainerHierarchyTexts: []string{"a scenario"},
		LeafNodeType:            types.NodeTypeIt, LeafNodeText: "registers the GM", LeafNodeLocation: loc(20),
		LeafNodeLabels: []string{"synthetic"}, IsInOrderedContainer: true,
		State: types.SpecStatePassed, StartTime: t0, EndTime: t0.Add(1600 * time.Millisecond), RunTime: 1600 * time.Millisecond,
		ReportEntries: types.ReportEntries{
			entry(1*time.Millisecond, "implementations", "KS getvpnd, GM getvpnd, timer scale 0.1"),
			// A path of the machine that ran the suites: found under
			// the report's directory by its last element.
			entry(1590*time.Millisecond, "artifacts", "/elsewhere/reports/out/scenario one"),
			entry(1595*time.Millisecond, "capture", "/elsewhere/reports/out/scenario one/capture.pcapng"),
		},
		SpecEvents: types.SpecEvents{
			{SpecEventType: types.SpecEventByStart, Message: "starting the probe stream", TimelineLocation: types.TimelineLocation{Time: t0.Add(90 * time.Millisecond)}, CodeLocation: loc(22)},
		},
	}
	failed := types.SpecReport{
		ContainerHierarchyTexts: []string{"a scenario"},
		LeafNodeType:            types.NodeTypeIt, LeafNodeText: "loses no probe", LeafNodeLocation: loc(30),
		IsInOrderedContainer: true,
		State:                types.SpecStateFailed, StartTime: t0.Add(1000 * time.Millisecond), EndTime: t0.Add(1300 * time.Millisecond), RunTime: 300 * time.Millisecond,
		Failure: types.Failure{
			Message:          "Expected\n    <int>: 10\nto equal\n    <int>: 0",
			Location:         loc(33),
			TimelineLocation: types.TimelineLocation{Time: failAt},
		},
	}
	skipped := types.SpecReport{
		LeafNodeType: types.NodeTypeIt, LeafNodeText: "needs a Docker engine", LeafNodeLocation: loc(40),
		State: types.SpecStateSkipped, StartTime: t0.Add(2 * time.Second), EndTime: t0.Add(2 * time.Second),
		Failure: types.Failure{Message: "no Docker engine answers", Location: loc(41), TimelineLocation: types.TimelineLocation{Time: t0.Add(2 * time.Second)}},
	}
	unselected := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: "is slow", State: types.SpecStateSkipped}
	f.reports = []types.Report{{
		SuiteDescription: "synthetic", StartTime: t0, RunTime: 3 * time.Second,
		SpecReports: types.SpecReports{first, failed, skipped, unselected},
	}}
	return f
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	gmMAC = net.HardwareAddr{2, 0, 0, 0, 0, 0x11}
	ksMAC = net.HardwareAddr{2, 0, 0, 0, 0, 0x01}
	hostA = net.IP{198, 51, 100, 10}
	hostB = net.IP{203, 0, 113, 10}
)

// writeCapture writes the scenario's capture, one pcapng interface per
// link as pcap.Capture names them.
func writeCapture(t *testing.T, path string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	links := []string{"gm1:eth1", "gm1:eth2", "gm2:eth2"}
	var w *pcapgo.NgWriter
	for i, l := range links {
		intf := pcapgo.NgInterface{Name: l, LinkType: layers.LinkTypeEthernet, TimestampResolution: 9}
		if i == 0 {
			w, err = pcapgo.NewNgWriterInterface(fh, intf, pcapgo.DefaultNgWriterOptions)
		} else {
			_, err = w.AddInterface(intf)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	type frame struct {
		at   time.Duration
		link int
		data []byte
	}
	var frames []frame
	// GDOI between gm1 and ks1, hand-built, a millisecond apart.
	for i, m := range handbuilt.Messages() {
		src, dst := handbuilt.KSAddr, handbuilt.GMAddr
		if m.FromGM {
			src, dst = handbuilt.GMAddr, handbuilt.KSAddr
		}
		frames = append(frames, frame{10*time.Millisecond + time.Duration(i)*time.Millisecond, 0,
			udpFrame(t, src, dst, 848, 848, m.Bytes)})
	}
	// The probe stream: in clear on gm1's LAN, in ESP on the WAN, in clear
	// on gm2's LAN, where every lostEvery-th never arrives.
	for seq := 1; seq <= fixtureProbes; seq++ {
		at := 100*time.Millisecond + time.Duration(seq)*espEvery
		probe := traffic.Header{StreamID: fixtureStream, Seq: uint64(seq)}.Append(nil)
		probe = append(probe, make([]byte, 40)...)
		inner := ipv4UDP(t, hostA, hostB, 9000, 9000, probe)
		frames = append(frames, frame{at, 1, eth(t, inner)})
		frames = append(frames, frame{at + 100*time.Microsecond, 0, eth(t, ipv4ESP(t, hostA, hostB, sealGCM(t, uint32(seq), inner)))})
		if seq%lostEvery != 0 {
			frames = append(frames, frame{at + 200*time.Microsecond, 2, eth(t, inner)})
		}
	}
	// A truncated ESP frame and an ARP request.
	frames = append(frames, frame{1100 * time.Millisecond, 0, eth(t, ipv4ESP(t, hostA, hostB, []byte{0, 0, 0x12}))})
	arp := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(arp, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: gmMAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: gmMAC, SourceProtAddress: handbuilt.GMAddr.To4(),
			DstHwAddress: make([]byte, 6), DstProtAddress: handbuilt.KSAddr.To4()}); err != nil {
		t.Fatal(err)
	}
	frames = append(frames, frame{5 * time.Millisecond, 0, arp.Bytes()})
	sortFrames := func(i, j int) bool { return frames[i].at < frames[j].at }
	for i := 1; i < len(frames); i++ {
		for j := i; j > 0 && sortFrames(j, j-1); j-- {
			frames[j], frames[j-1] = frames[j-1], frames[j]
		}
	}
	for _, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(fr.at), CaptureLength: len(fr.data), Length: len(fr.data), InterfaceIndex: fr.link}
		if err := w.WritePacket(ci, fr.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ipv4UDP(t *testing.T, src, dst net.IP, sport, dport uint16, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

func udpFrame(t *testing.T, src, dst net.IP, sport, dport uint16, payload []byte) []byte {
	return eth(t, ipv4UDP(t, src, dst, sport, dport, payload))
}

// ipv4ESP is an IPv4 packet carrying esp, with the inner packet's
// addresses outside (header preservation).
func ipv4ESP(t *testing.T, src, dst net.IP, esp []byte) []byte {
	return serialize(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolESP, SrcIP: src, DstIP: dst}, gopacket.Payload(esp))
}

func eth(t *testing.T, ip []byte) []byte {
	return serialize(t, &layers.Ethernet{SrcMAC: gmMAC, DstMAC: ksMAC, EthernetType: layers.EthernetTypeIPv4}, gopacket.Payload(ip))
}

// sealGCM is RFC 4106 ESP (AES-128-GCM, 16-octet ICV) of an IPv4 packet
// in tunnel mode: what the key log's aes128gcm16 SA opens.
func sealGCM(t *testing.T, seq uint32, inner []byte) []byte {
	block, err := aes.NewCipher(espKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.BigEndian.AppendUint32(nil, fixtureSPI)
	hdr = binary.BigEndian.AppendUint32(hdr, seq)
	iv := binary.BigEndian.AppendUint64(nil, uint64(seq))
	plain := append([]byte(nil), inner...)
	for i := 1; (len(plain)+2)%4 != 0; i++ {
		plain = append(plain, byte(i))
	}
	plain = append(plain, byte(len(plain)-len(inner)), 4) // pad length, next header IPv4
	nonce := append(append([]byte(nil), espSalt...), iv...)
	out := append(append([]byte(nil), hdr...), iv...)
	return aead.Seal(out, nonce, plain, hdr)
}
