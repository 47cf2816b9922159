package pcap

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/harness/testbuild"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// gdoidCorpus returns the gdoid interop corpus directory from the shared
// directory (GETLAB_SHARED, else ../shared beside the repository), or skips
// the test.
func gdoidCorpus(t *testing.T) string {
	t.Helper()
	return testbuild.Shared(t, "interop/gdoid")
}

// readFrames returns a pcapng file's frames, which must all be Ethernet.
func readFrames(t *testing.T, path string) []ethRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ng, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	var frames []ethRecord
	for {
		data, ci, err := ng.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		if intf, _ := ng.Interface(ci.InterfaceIndex); intf.LinkType != layers.LinkTypeEthernet {
			t.Fatalf("%s: frame %d has link type %v", path, len(frames)+1, intf.LinkType)
		}
		frames = append(frames, ethRecord{ci.Timestamp, data})
	}
}

// getlabLine matches a packet line of `getlab pcap`: index, time, the rest.
// The time is left out of comparisons: it is printed in the local zone.
var getlabLine = regexp.MustCompile(`^\s*(\d+) \d\d:\d\d:\d\d\.\d{6} (.*)$`)

// Every capture of the gdoid interop corpus (gdoid's KS and GMs, and gdoid
// with getvpnd, shared/interop/gdoid/README.md) decodes with its key file
// as pcapng, as classic pcap and as Linux cooked v2 frames: nothing
// malformed, every encrypted ISAKMP message decrypted, the same packets in
// every form, and the lines `getlab pcap` printed when the corpus was made
// (decodes/NAME.getlab.txt).
func TestGdoidCorpus(t *testing.T) {
	dir := gdoidCorpus(t)
	caps, err := filepath.Glob(filepath.Join(dir, "captures", "*.pcapng"))
	if err != nil || len(caps) == 0 {
		t.Fatalf("no captures in %s (%v)", dir, err)
	}
	for _, capPath := range caps {
		name := strings.TrimSuffix(filepath.Base(capPath), ".pcapng")
		t.Run(name, func(t *testing.T) {
			keys, err := ReadKeyLog(strings.TrimSuffix(capPath, ".pcapng") + ".keys")
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadFile(capPath, keys)
			if err != nil {
				t.Fatal(err)
			}
			encrypted := 0
			for _, p := range want {
				if p.Malformed != "" {
					t.Errorf("malformed: %s", p.String())
				}
				if p.ISAKMP != nil && p.ISAKMP.Encrypted {
					encrypted++
					if !p.ISAKMP.Decrypted {
						t.Errorf("not decrypted: %s", p.String())
					}
				}
			}
			if encrypted == 0 {
				t.Errorf("no encrypted ISAKMP message: the corpus has some in every capture")
			}
			t.Logf("%d frames, %d encrypted ISAKMP messages", len(want), encrypted)

			frames := readFrames(t, capPath)
			forms := map[string][]byte{
				"pcap":      writePcap(t, frames, layers.LinkTypeEthernet, true),
				"pcap SLL2": writePcap(t, frames, layers.LinkTypeLinuxSLL2, true),
			}
			for form, b := range forms {
				got, err := ReadFile(writeTemp(t, form, b), keys)
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if len(got) != len(want) {
					t.Fatalf("%s: %d packets, pcapng %d", form, len(got), len(want))
				}
				for i := range got {
					if g, w := comparable(got[i]), comparable(want[i]); !reflect.DeepEqual(g, w) {
						t.Errorf("%s frame %d:\n  got %s\npcapng %s", form, i+1, got[i].String(), want[i].String())
					}
				}
			}

			compareGetlabDecode(t, filepath.Join(dir, "decodes", name+".getlab.txt"), want)
		})
	}
}

// writeTemp writes b to a file named after the form in the test's temp dir.
func writeTemp(t *testing.T, form string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(form, " ", "-")+".pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// compareGetlabDecode checks that every packet line of a recorded `getlab
// pcap` listing is what pkts print today, time of day aside.
func compareGetlabDecode(t *testing.T, path string, pkts []Packet) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := getlabLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		lines++
		i, _ := strconv.Atoi(m[1])
		if i < 1 || i > len(pkts) {
			t.Errorf("%s: frame %d, the capture has %d", filepath.Base(path), i, len(pkts))
			continue
		}
		now := getlabLine.FindStringSubmatch(pkts[i-1].String())
		if now == nil || now[2] != m[2] {
			t.Errorf("%s frame %d:\nrecorded %s\n   today %s", filepath.Base(path), i, sc.Text(), pkts[i-1].String())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines == 0 {
		t.Errorf("%s: no packet lines", path)
	}
}

// The corpus's key files write 3DES TEKs as comment lines, `# ESP …
// transform=3des-sha1 … # 3DES: no getlab transform keyword …`, because the
// key log had no 3DES keyword. With the comment marks taken off (the leading
// one and the trailing note) a copy of each key file reads, and the records
// are 3DES-CBC TEKs with HMAC-SHA-1 keys of the right lengths.
func TestGdoidCorpus3DESKeyLines(t *testing.T) {
	dir := gdoidCorpus(t)
	keyFiles, err := filepath.Glob(filepath.Join(dir, "captures", "*.keys"))
	if err != nil || len(keyFiles) == 0 {
		t.Fatalf("no key files in %s (%v)", dir, err)
	}
	total := 0
	for _, path := range keyFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		uncommented := 0
		for _, line := range strings.Split(string(b), "\n") {
			if rec, ok := strings.CutPrefix(line, "# ESP "); ok && strings.Contains(rec, "transform=3des-") {
				// The key log has no trailing comments: drop the note.
				rec, _, _ = strings.Cut(rec, " #")
				line = "ESP " + rec
				uncommented++
			}
			out = append(out, line)
		}
		orig, err := ReadKeyLog(path)
		if err != nil {
			t.Fatal(err)
		}
		kl := &KeyLog{}
		if err := kl.Read(strings.NewReader(strings.Join(out, "\n"))); err != nil {
			t.Errorf("%s with the 3DES lines uncommented: %v", filepath.Base(path), err)
			continue
		}
		if len(kl.ESP) != len(orig.ESP)+uncommented || len(kl.IKE) != len(orig.IKE) || len(kl.KEK) != len(orig.KEK) {
			t.Errorf("%s: %d ESP records, %d before and %d uncommented", filepath.Base(path), len(kl.ESP), len(orig.ESP), uncommented)
		}
		des := 0
		for _, k := range kl.ESP {
			if k.Transform.ID != espwire.Transform3DES {
				continue
			}
			des++
			if k.Transform.Auth != espwire.AuthHMACSHA1 || len(k.Key) != 24 || len(k.AuthKey) != 20 {
				t.Errorf("%s: record %s", filepath.Base(path), k.Line())
			}
		}
		if des != uncommented {
			t.Errorf("%s: %d 3DES records, %d lines uncommented", filepath.Base(path), des, uncommented)
		}
		total += uncommented
	}
	// a-plain-kekaes alone has three (README: TEK1 is 3DES in every a-run).
	if total < 3 {
		t.Errorf("only %d 3DES TEK lines in the corpus", total)
	}
}
