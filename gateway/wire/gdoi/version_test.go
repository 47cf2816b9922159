package gdoi

import (
	"bytes"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
)

// versionVector is 1.0.11 with gdoi-interop-ack, written out by hand.
var versionVector = wiretest.Hex(`
	47 44 4f 49 2d 56 45 52 53 49 4f 4e  01 00 0b 01
	10 67 64 6f 69 2d 69 6e 74 65 72 6f 70 2d 61 63 6b`)

func TestVersionVID(t *testing.T) {
	v := &VersionVID{Version: Version{1, 0, 11}, Features: []string{"gdoi-interop-ack"}}
	if got := v.Bytes(); !bytes.Equal(got, versionVector) {
		t.Fatalf("Bytes:\n got %x\nwant %x", got, versionVector)
	}
	p, ok, err := ParseVersionVID(versionVector)
	if !ok || err != nil || p.Version != v.Version || !p.Has("gdoi-interop-ack") || p.Has("gm-removal") {
		t.Fatalf("parsed %+v %v %v", p, ok, err)
	}
	if _, ok, _ := ParseVersionVID([]byte{0xaf, 0xca, 0xd7, 0x13}); ok {
		t.Error("the DPD vendor ID taken for a version")
	}
	for _, bad := range [][]byte{versionVector[:14], versionVector[:len(versionVector)-1], append(bytes.Clone(versionVector), 0)} {
		if _, ok, err := ParseVersionVID(bad); !ok || err == nil {
			t.Errorf("%x: ok %v err %v, want a malformed version", bad, ok, err)
		}
	}
	if v, err := ParseVersion("1.0.13"); err != nil || v != (Version{1, 0, 13}) || v.String() != "1.0.13" {
		t.Errorf("ParseVersion: %v %v", v, err)
	}
	for _, s := range []string{"1.0", "1.0.256", "a.b.c", "1.0.1.2"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
	if !(Version{1, 0, 2}).Less(Version{1, 1, 0}) || (Version{2, 0, 0}).Less(Version{1, 9, 9}) {
		t.Error("Less")
	}
}

func FuzzVersionVID(f *testing.F) {
	f.Add(versionVector)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok, err := ParseVersionVID(b)
		if ok && err == nil && !bytes.Equal(v.Bytes(), b) {
			t.Errorf("%x does not round-trip: %x", b, v.Bytes())
		}
	})
}
