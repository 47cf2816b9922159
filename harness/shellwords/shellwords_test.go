package shellwords

import (
	"reflect"
	"testing"
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
