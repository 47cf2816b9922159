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
	want := "ks1.yaml: ok: role ks, 1 group(s), 0 warning(s)\n" +
		"ks1.yaml: limits: half-open 16 per source, 10000 in all, stateless cookies at a source's cap and from 1000 in all, timeout 15s; DH 10/s per source (burst 20), 1 per CPU workers, queue 256; IKE SAs 4 per peer, 20000 in all\n"
	if got := b.String(); got != want {
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
