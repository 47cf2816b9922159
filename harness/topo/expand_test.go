package topo

import (
	"fmt"
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"IMG": "getlab/host", "EMPTY": "", "N": "3"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{"no variables", "no variables", ""},
		{"image: $IMG", "image: getlab/host", ""},
		{"image: ${IMG}:v1", "image: getlab/host:v1", ""},
		{"x: ${IMG:=other}", "x: getlab/host", ""},
		{"x: ${UNSET:=fallback/img}", "x: fallback/img", ""},
		{"x: ${EMPTY:=fallback}", "x: fallback", ""},
		{"x: ${EMPTY:-fallback}", "x: fallback", ""},
		{"x: ${UNSET:-}", "x: ", ""},
		{"x: [$EMPTY]", "x: []", ""},
		{"unset stays: $UNSET ${UNSET}", "unset stays: $UNSET ${UNSET}", ""},
		{"escape: $$IMG $${IMG} $$$IMG", "escape: $IMG ${IMG} $getlab/host", ""},
		{"digits stay: $1 ${2} $3abc", "digits stay: $1 ${2} $3abc", ""},
		{"lone: $ $- $_ ${_} ${ x}", "lone: $ $- $_ ${_} ${ x}", ""},
		{"end $", "end $", ""},
		{"n${N}x", "n3x", ""},
		{"a\nb: ${IMG+x}", "", "line 2: \"${IMG+x}\": this form of variable expansion is not supported by getlab"},
		{"a\n${IMG:=x\ny}\n${IMG-z}", "", "line 4: \"${IMG-z}\""},
		{"${IMG-x}", "", "not supported by getlab"},
		{"${IMG=x}", "", "not supported by getlab"},
		{"${IMG:+x}", "", "not supported by getlab"},
		{"${IMG:=$OTHER}", "", "a default holding $"},
		{"${IMG", "", "closing brace expected"},
		{"${IMG:=x", "", "closing brace expected"},
		{"${IMG x}", "", "closing brace expected"},
	}
	for _, tc := range tests {
		out, errs := expandEnv([]byte(tc.in), lookup)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, fmt.Sprintf("line %d: %s", e.line, e.msg))
		}
		if tc.err != "" {
			if len(errs) == 0 || !strings.Contains(strings.Join(msgs, "\n"), tc.err) {
				t.Errorf("expand(%q): errors %q, want one containing %q", tc.in, msgs, tc.err)
			}
			continue
		}
		if len(errs) != 0 {
			t.Errorf("expand(%q): unexpected errors %q", tc.in, msgs)
		}
		if string(out) != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, out, tc.want)
		}
	}
}

// TestParseExpandsEnv checks that Parse expands the process environment.
func TestParseExpandsEnv(t *testing.T) {
	t.Setenv("GETLAB_TEST_IMAGE", "getlab/test:1")
	topo, err := Parse([]byte(`
name: env
topology:
  nodes:
    a:
      kind: linux
      image: ${GETLAB_TEST_IMAGE}
      cmd: ${GETLAB_TEST_UNSET_CMD:=getvpnd}
      exec: ["sh -c 'echo $$HOME'"]
`), "/lab/env.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	a := topo.Node("a")
	if a.Image != "getlab/test:1" || a.Cmd != "getvpnd" || a.Exec[0] != "sh -c 'echo $HOME'" {
		t.Errorf("image %q cmd %q exec %q", a.Image, a.Cmd, a.Exec)
	}
}
