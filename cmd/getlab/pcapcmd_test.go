package main

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/getlab/getlab/pcap/handbuilt"
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
