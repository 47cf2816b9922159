package isakmp

import (
	"bytes"
	"reflect"
	"testing"
)

// An attribute list: two basic attributes (encryption AES-CBC, key length
// 128), a life duration of 86400 s as a 4-octet TLV, and an empty TLV.
var attrVector = hx(`
	8001 0007 |
	800e 0080 |
	000c 0004 00015180 |
	0010 0000`)

func TestAttributesVector(t *testing.T) {
	l, err := ParseAttributes(attrVector)
	if err != nil {
		t.Fatal(err)
	}
	want := Attributes{
		{Type: AttrEncryptionAlgorithm, Basic: true, Value: EncAESCBC},
		{Type: AttrKeyLength, Basic: true, Value: 128},
		{Type: AttrLifeDuration, Data: []byte{0x00, 0x01, 0x51, 0x80}},
		{Type: AttrGroupOrder},
	}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %v\nwant %v", l, want)
	}
	if enc := want.Append(nil); !bytes.Equal(enc, attrVector) {
		t.Fatalf("Append %x", enc)
	}
	if l.Len() != len(attrVector) {
		t.Fatalf("Len %d", l.Len())
	}
	if v, ok := l.Uint(AttrLifeDuration); !ok || v != 86400 {
		t.Fatalf("life duration %d %v", v, ok)
	}
	if v, ok := l.Uint(AttrKeyLength); !ok || v != 128 {
		t.Fatalf("key length %d %v", v, ok)
	}
	if _, ok := l.Uint(AttrGroupOrder); ok {
		t.Fatal("an empty TLV is not an integer")
	}
	if _, ok := l.Uint(AttrHashAlgorithm); ok {
		t.Fatal("absent attribute")
	}
	if a, ok := l.Get(AttrKeyLength); !ok || a.String() != "t=14 v=128" {
		t.Fatalf("Get %v %v", a, ok)
	}
	if s := l[2].String(); s != "t=12 l=4 00015180" {
		t.Fatal(s)
	}
	if got := Attributes(append(l, BasicAttr(1, 5))).All(AttrEncryptionAlgorithm); len(got) != 2 {
		t.Fatalf("All %v", got)
	}
}

func TestUintAttr(t *testing.T) {
	for _, c := range []struct {
		v    uint64
		wire string
	}{
		{0, "800c 0000"},
		{3600, "800c 0e10"},
		{86400, "000c 0004 00015180"},
		{1 << 40, "000c 0008 0000010000000000"},
	} {
		a := UintAttr(AttrLifeDuration, c.v)
		if enc := a.Append(nil); !bytes.Equal(enc, hx(c.wire)) {
			t.Errorf("%d: %x, want %s", c.v, enc, c.wire)
		}
		if v, ok := a.Uint(); !ok || v != c.v {
			t.Errorf("%d: Uint %d %v", c.v, v, ok)
		}
	}
	// 1- to 8-octet TLVs read as integers; 9 octets do not.
	if v, ok := VarAttr(2, []byte{7}).Uint(); !ok || v != 7 {
		t.Error("1-octet TLV")
	}
	if _, ok := VarAttr(2, make([]byte, 9)).Uint(); ok {
		t.Error("9-octet TLV")
	}
}

func TestAttributeErrors(t *testing.T) {
	_, err := ParseAttributes(hx("8001 0007 000c 0009 00015180"))
	wantErr(t, err, ErrLength, "attribute length 9 exceeds 4 remaining")
	_, err = ParseAttributes(hx("8001 0007 80"))
	wantErr(t, err, ErrShort, "attribute header needs 4 octets, 1 remaining")
	if err := BasicAttr(0x8001, 1).Check(); err == nil {
		t.Error("Check accepted a 16-bit type")
	}
	if err := VarAttr(1, make([]byte, 70000)).Check(); err == nil {
		t.Error("Check accepted 70000 octets")
	}
	if l, err := ParseAttributes(nil); err != nil || l != nil {
		t.Errorf("empty: %v %v", l, err)
	}
}
