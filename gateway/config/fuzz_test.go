package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that a config it
// accepts is complete enough to use.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"ks1.yaml", "gm1.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minKS))
	f.Add([]byte(minGM))
	f.Add([]byte("role: gm\ngroups: [{ks_list: [1.2.3.4, ::1], id: 1, name: a, local_acl: [{action: deny, source_port: 1-2}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("config with an error")
			}
			return
		}
		if c.Role != RoleKS && c.Role != RoleGM || len(c.Groups) == 0 || !(c.Timers.Scale > 0) || len(c.IKE.Policies) == 0 {
			t.Fatalf("accepted an incomplete config: %+v", c)
		}
		_ = c.Warnings()
	})
}
