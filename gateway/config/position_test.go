package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMessagesNameLineAndColumn(t *testing.T) {
	file := `role: gm
ike:
  pre_shared_keys: [{peer: 192.0.2.1, key: lab-secret}]
groups:
  - name: G
    id: 1
    ks_list:
      - 192.0.2.1
      - 192.0.2.300
    colour: red
  - {id: 2, ks_list: [192.0.2.1]}
`
	_, err := Parse([]byte(file), "gm.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`gm.yaml: groups[0].ks_list[1]: "192.0.2.300" is not an IP address (line 9, column 9)`,
		`gm.yaml: groups[0].colour: unknown key (line 10, column 5)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q\ndoes not contain %q", err, want)
		}
	}
	// A missing field: where its parent is.
	file = strings.Replace(file, "      - 192.0.2.300\n    colour: red\n", "", 1)
	if _, err = Parse([]byte(file), "gm.yaml"); err == nil || !strings.Contains(err.Error(), "gm.yaml: groups[1].name: missing (line 9, column 5)") {
		t.Errorf("missing name: %v", err)
	}
	// A syntax error: the line yaml.v3 gives (it gives no column).
	if _, err = Parse([]byte("role: gm\ngroups:\n  - name: G\n   id: 1\n"), "gm.yaml"); err == nil || !strings.HasPrefix(err.Error(), "gm.yaml: YAML syntax: ") || !strings.Contains(err.Error(), "(line ") {
		t.Errorf("syntax error: %v", err)
	}
}

func TestCheckWarnsAboutTheSigningKeyFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(dir, "absent.pem"), "no such file or directory: the KS will not start (line 12, column 47)"},
		{bad, bad + " holds no PEM private key: the KS will not start"},
	} {
		cfg := filepath.Join(dir, "ks.yaml")
		y := strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, signing_key: {file: "+tc.file+"}}", 1)
		if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := Check(cfg, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "warning: ks.yaml: groups[0].rekey.signing_key.file: ") || !strings.Contains(out.String(), tc.want) ||
			!strings.Contains(out.String(), "1 warning(s)") {
			t.Errorf("%s:\n%s", tc.file, out.String())
		}
	}
}
