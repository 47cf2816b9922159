package strictyaml

import (
	"net/netip"
	"strings"
	"testing"
)

type inner struct {
	Port int `yaml:"port"`
}

type doc struct {
	Name  string           `yaml:"name"`
	Addr  netip.Addr       `yaml:"addr"`
	Inner inner            `yaml:"inner"`
	List  []inner          `yaml:"list"`
	Map   map[string]inner `yaml:"map"`
	Ptr   *inner           `yaml:"ptr"`
}

func TestDecode(t *testing.T) {
	var d doc
	err := Decode([]byte("name: a\naddr: 192.0.2.1\ninner: {port: 1}\nlist: [{port: 2}]\nmap: {x: {port: 3}}\nptr: {port: 4}\n"), "f.yaml", &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "a" || d.Addr != netip.MustParseAddr("192.0.2.1") || d.Inner.Port != 1 || d.List[0].Port != 2 || d.Map["x"].Port != 3 || d.Ptr.Port != 4 {
		t.Errorf("decoded %+v", d)
	}
}

func TestUnknownKeys(t *testing.T) {
	var d doc
	err := Decode([]byte("name: a\nnmae: b\ninner: {prot: 1}\nlist: [{port: 2}, {pot: 3}]\nmap: {x: {pt: 3}}\nptr: {p: 4}\n"), "f.yaml", &d)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`f.yaml: line 2: unknown key "nmae" (known here: addr, inner, list, map, name, ptr)`,
		`f.yaml: line 3: unknown key "inner.prot" (known here: port)`,
		`unknown key "list[1].pot"`,
		`unknown key "map.x.pt"`,
		`unknown key "ptr.p"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestTypeAndSyntaxErrors(t *testing.T) {
	for in, want := range map[string]string{
		"inner: {port: x}\n": "f.yaml: yaml: unmarshal errors",
		"addr: 300.1.1.1\n":  "f.yaml:",
		"name: [\n":          "f.yaml: yaml:",
		"":                   "f.yaml: empty file",
	} {
		var d doc
		err := Decode([]byte(in), "f.yaml", &d)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
}
