package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/show"
)

// runMainEnv makes the test binary run getvpnd itself, for the tests that
// need a daemon process (to kill it).
const runMainEnv = "GETVPND_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestCheckAcceptsTheTopologyConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../topologies/configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs found")
	}
	for _, f := range files {
		var out, errb bytes.Buffer
		if code := run([]string{"--check", f}, &out, &errb); code != 0 {
			t.Errorf("%s: exit %d: %s", f, code, errb.String())
		}
	}
}

func TestCheckRefusesABadConfigNamingTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gm.yaml")
	bad := "role: gm\ngroups:\n  - name: G\n    id: 1\n    ks_list: [192.0.2.300]\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--check", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "groups[0].ks_list[0]") {
		t.Errorf("message does not name the field: %q", errb.String())
	}
	// The daemon itself refuses to start on it the same way.
	errb.Reset()
	if code := run([]string{"--config", path}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "ks_list") {
		t.Errorf("daemon: exit %d, %q", code, errb.String())
	}
}

func TestCheckWarnsAndPointsAtTheLine(t *testing.T) {
	dir := t.TempDir()
	ks := filepath.Join(dir, "ks.yaml")
	y := `role: ks
identity: 192.0.2.1
groups:
  - name: G
    id: 1
    transforms: [aes128gcm16]
    acl:
      - {action: permit, source: 10.1.0.0/16, destination: 10.2.0.0/16}
      - {action: permit, source: 10.2.0.0/16, destination: 10.1.0.0/16}
    rekey: {transport: unicast, signing_key: {file: ` + filepath.Join(dir, "absent.pem") + `}}
`
	if err := os.WriteFile(ks, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--check", ks}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"warning: ks.yaml: ike.pre_shared_keys: none: no GM can authenticate to this KS",
		"warning: ks.yaml: groups[0].rekey.signing_key.file: open " + filepath.Join(dir, "absent.pem") + ": no such file or directory: the KS will not start (line 10, column 47)",
		"ks.yaml: ok: role ks, 1 group(s), 2 warning(s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, out.String())
		}
	}

	gm := filepath.Join(dir, "gm.yaml")
	y = "role: gm\nike:\n  pre_shared_keys: [{peer: 192.0.2.1, key: short}]\ngroups:\n  - {name: G, id: 1, ks_list: [192.0.2.1]}\n"
	if err := os.WriteFile(gm, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"--check", gm}, &out, &errb); code != 0 || !strings.Contains(out.String(), "warning: gm.yaml: ike.pre_shared_keys[0].key: 5 octets") {
		t.Errorf("exit %d: %s", code, out.String())
	}

	// A value of the wrong type and a syntax error, with where they are.
	for _, tc := range []struct{ yaml, want string }{
		{"role: gm\ntimers:\n  scale: [1]\n", "gm.yaml: timers.scale: want a value, got a list (line 3, column 3)"},
		{"role: gm\ngroups:\n  - name: G\n   id: 1\n", "gm.yaml: YAML syntax: "},
	} {
		if err := os.WriteFile(gm, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		errb.Reset()
		if code := run([]string{"--check", gm}, &out, &errb); code != 1 || !strings.Contains(errb.String(), tc.want) || !strings.Contains(errb.String(), "(line ") {
			t.Errorf("exit %d: %q, want %q and a line", code, errb.String(), tc.want)
		}
	}
}

// The control API names the build's version; the roles do not know it.
func TestControlAPINamesTheVersion(t *testing.T) {
	r := versioned{fakeRole{}, "v9.8.7"}
	if got := r.GDOI(); got.Version != "v9.8.7" || got.Role != "gm" {
		t.Errorf("GDOI() = %+v, want the role's document with version v9.8.7", got)
	}
}

type fakeRole struct{}

func (fakeRole) GDOI() show.GDOI                            { return show.GDOI{Role: "gm", Version: "set by the role"} }
func (fakeRole) Members() []show.Member                     { return nil }
func (fakeRole) IKESAs() []show.IKESA                       { return nil }
func (fakeRole) Counters() map[string]uint64                { return nil }
func (fakeRole) HandlePacket(from netip.AddrPort, b []byte) {}
