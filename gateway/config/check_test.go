package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	var b strings.Builder
	if err := Check(filepath.Join("testdata", "ks1.yaml"), &b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "ks1.yaml: ok: role ks, 1 group(s), 0 warning(s)\n" {
		t.Errorf("output %q", got)
	}
	bad := filepath.Join(t.TempDir(), "gm9.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(minGM, "ks_list: [192.0.2.1]", "ks_list: [192.0.2.300]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Check(bad, &b)
	if err == nil || err.Error() != `gm9.yaml: groups[0].ks_list[0]: "192.0.2.300" is not an IP address (line 6, column 32)` {
		t.Errorf("err = %v", err)
	}
}
