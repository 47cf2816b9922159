package shellwords

import (
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"ip addr add 192.0.2.1/24 dev eth1", []string{"ip", "addr", "add", "192.0.2.1/24", "dev", "eth1"}},
		{"  sh -c 'echo a  b'  ", []string{"sh", "-c", "echo a  b"}},
		{`echo "x \"y\" \z"`, []string{"echo", `x "y" \z`}},
		{`a\ b c`, []string{"a b", "c"}},
		{`''`, []string{""}},
		{"", nil},
	}
	for _, c := range cases {
		got, err := Split(c.in)
		if err != nil {
			t.Fatalf("Split(%q): %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{`echo 'x`, `echo "x`, `echo x\`} {
		if _, err := Split(bad); err == nil {
			t.Errorf("Split(%q): no error", bad)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(`a 'b c' "d\"e" f\ g`)
	f.Fuzz(func(t *testing.T, s string) { _, _ = Split(s) })
}

func TestJoin(t *testing.T) {
	for _, words := range [][]string{
		{"/opt/vendor/ksd", "--config", "/etc/vendor/ks.conf"},
		{"a b", "it's", `back\slash`, `"quoted"`, ""},
		{"tab\there", "new\nline"},
	} {
		line := Join(words)
		got, err := Split(line)
		if err != nil || !slices.Equal(got, words) {
			t.Errorf("Split(Join(%q)) = %q (%v), line %s", words, got, err, line)
		}
	}
	if got := Join([]string{"getvpnd", "--config", "/etc/getvpnd/getvpnd.yaml"}); got != "getvpnd --config /etc/getvpnd/getvpnd.yaml" {
		t.Errorf("plain words are not quoted: %s", got)
	}
}

// Split(Join(words)) is words, for any words a YAML file can hold (UTF-8).
func FuzzJoin(f *testing.F) {
	f.Add("a b", "it's", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		words := []string{a, b, c}
		if !utf8.ValidString(a) || !utf8.ValidString(b) || !utf8.ValidString(c) {
			t.Skip("not UTF-8")
		}
		got, err := Split(Join(words))
		if err != nil || !slices.Equal(got, words) {
			t.Fatalf("Split(Join(%q)) = %q (%v)", words, got, err)
		}
	})
}
