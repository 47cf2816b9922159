package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/getlab/getlab/pcap/handbuilt"
	"github.com/gopacket/gopacket/pcapgo"
)

// getlab pcap reads a capture of every payload type without complaint, and
// a damaged message makes it fail (the exit status is non-zero).
func TestCmdPcap(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pcapng")
	if err := handbuilt.WriteCapture(good, handbuilt.Messages()); err != nil {
		t.Fatal(err)
	}
	if err := cmdPcap([]string{good, "--json"}); err != nil {
		t.Errorf("clean capture: %v", err)
	}
	// A PULL 2 whose SA length runs past the message.
	damaged := append([]byte{}, handbuilt.Messages()[7].Bytes...)
	damaged[len(damaged)-1] ^= 0xff
	damaged = damaged[:len(damaged)-3]
	damaged[27] -= 3 // keep the header Length consistent with the truncation
	bad := filepath.Join(dir, "bad.pcapng")
	if err := handbuilt.WriteCapture(bad, handbuilt.Messages()[:2], damaged); err != nil {
		t.Fatal(err)
	}
	if err := cmdPcap([]string{bad}); !errors.Is(err, errMalformed) {
		t.Errorf("damaged capture: %v, want errMalformed", err)
	}
}

// toClassicPcap rewrites a pcapng file as a classic pcap file (nanosecond
// timestamps) at dst: the same frames, another format.
func toClassicPcap(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ng, err := pcapgo.NewNgReader(in, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(65535, ng.LinkType()); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := ng.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
}

// getlab pcap reads classic pcap as well, whatever the file is called: the
// clean capture passes, the damaged one still fails.
func TestCmdPcapClassic(t *testing.T) {
	dir := t.TempDir()
	ng := filepath.Join(dir, "good.pcapng")
	if err := handbuilt.WriteCapture(ng, handbuilt.Messages()); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.pcapng.bin") // the name does not say pcap
	toClassicPcap(t, ng, good)
	if err := cmdPcap([]string{good, "--json"}); err != nil {
		t.Errorf("clean classic pcap: %v", err)
	}
	damaged := append([]byte{}, handbuilt.Messages()[7].Bytes...)
	damaged = damaged[:len(damaged)-3]
	damaged[27] -= 3
	badNg := filepath.Join(dir, "bad.pcapng")
	if err := handbuilt.WriteCapture(badNg, handbuilt.Messages()[:2], damaged); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.pcap")
	toClassicPcap(t, badNg, bad)
	if err := cmdPcap([]string{bad}); !errors.Is(err, errMalformed) {
		t.Errorf("damaged classic pcap: %v, want errMalformed", err)
	}
}
