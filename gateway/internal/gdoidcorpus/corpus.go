// Package gdoidcorpus reads the gdoid interop capture corpus
// (shared/interop/gdoid: captures of gdoid, Cisco's GDOI reference
// implementation, with decrypted copies) for the offline interop tests of
// the roles. It is used by tests only.
package gdoidcorpus

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Dir returns the corpus directory, GETLAB_SHARED/interop/gdoid or else
// ../shared/interop/gdoid beside the repository root, or skips the test
// when it is not there.
func Dir(t testing.TB) string {
	t.Helper()
	shared := os.Getenv("GETLAB_SHARED")
	if shared == "" {
		root, err := repoRoot()
		if err != nil {
			t.Skip(err)
		}
		shared = filepath.Join(root, "..", "shared")
	}
	d := filepath.Join(shared, "interop", "gdoid")
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		t.Skipf("gdoid corpus not found at %s (set GETLAB_SHARED)", d)
	}
	return d
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// Frame is one UDP datagram of a capture.
type Frame struct {
	Index    int // frame number, from 1
	Src, Dst netip.AddrPort
	TTL      uint8
	Payload  []byte
}

// UDP returns the IPv4 UDP datagrams of the pcapng file at path (the
// corpus holds ISAKMP and IGMP only); a file that cannot be read fails the
// test.
func UDP(t testing.TB, path string) []Frame {
	t.Helper()
	frames, err := readUDP(path)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

func readUDP(path string) ([]Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Frame
	for i := 1; ; i++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: frame %d: %w", path, i, err)
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
		out = append(out, Frame{
			Index: i, TTL: ip.TTL, Payload: append([]byte(nil), udp.Payload...),
			Src: netip.AddrPortFrom(src, uint16(udp.SrcPort)), Dst: netip.AddrPortFrom(dst, uint16(udp.DstPort)),
		})
	}
}

// Capture is one a-* run: gdoid's KS and GMs among themselves.
type Capture struct {
	Name string
	// RFCWire: the run used gdoid's byte-swapped "rfcwire" configuration
	// (network order on the wire); else the plain one (host order).
	RFCWire bool
}

// GdoidRuns are the captures of gdoid talking to itself.
var GdoidRuns = []Capture{
	{"a-plain-kekaes", false}, {"a-plain-kek3des", false}, {"a-rfcwire-kekaes", true},
	{"a-rfcwire-kek3des", true}, {"a-plain-unicast", false},
}

// Paths returns the capture and its decrypted copy.
func (c Capture) Paths(dir string) (capture, decrypted string) {
	return filepath.Join(dir, "captures", c.Name+".pcapng"), filepath.Join(dir, "captures", "decrypted", c.Name+".decrypted.pcapng")
}
