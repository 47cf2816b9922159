package probe

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a gzipped kernel config, as /proc/config.gz is.
func writeConfig(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	z := gzip.NewWriter(f)
	if _, err := z.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeDocker serves GET /version on a unix socket, as an engine does.
func fakeDocker(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"Version": "26.1.5", "ApiVersion": "1.45"})
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestFromKernelConfig(t *testing.T) {
	cfg := writeConfig(t,
		"# Automatically generated file; DO NOT EDIT.",
		"# CONFIG_NET_SCH_NETEM is not set",
		"CONFIG_NF_TABLES=y",
		"CONFIG_IP_MROUTE=m",
	)
	r := Prober{ConfigGz: cfg, NoLive: true, DockerSocket: filepath.Join(t.TempDir(), "none.sock"), Tshark: "getlab-no-such-tshark"}.Run(context.Background())
	if r.Netem.State != No || !strings.Contains(r.Netem.Detail, "CONFIG_NET_SCH_NETEM is not set") {
		t.Errorf("netem %v, want no from the config", r.Netem)
	}
	if r.Nftables.State != Yes {
		t.Errorf("nftables %v, want yes", r.Nftables)
	}
	// A module may not be loadable: only a live try answers.
	if r.MulticastRouting.State != Unknown || !strings.Contains(r.MulticastRouting.Detail, "=m") {
		t.Errorf("multicast routing %v, want unknown (a module)", r.MulticastRouting)
	}
	if r.Docker.State != No || !strings.Contains(r.Docker.Detail, "none.sock") {
		t.Errorf("docker %v, want no, naming the socket", r.Docker)
	}
	if r.Tshark.State != No || !strings.Contains(r.Tshark.Detail, "not installed") {
		t.Errorf("tshark %v, want not installed", r.Tshark)
	}
	want, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	if r.Kernel == "" || r.Kernel != strings.TrimSpace(string(want)) {
		t.Errorf("kernel %q, want uname -r %q", r.Kernel, strings.TrimSpace(string(want)))
	}
}

func TestNoKernelConfig(t *testing.T) {
	r := Prober{ConfigGz: filepath.Join(t.TempDir(), "absent.gz"), NoLive: true, DockerSocket: "/nonexistent", Tshark: "getlab-no-such-tshark"}.Run(context.Background())
	for name, c := range map[string]Check{"netem": r.Netem, "nftables": r.Nftables, "mroute": r.MulticastRouting} {
		if c.State != Unknown {
			t.Errorf("%s %v without a kernel config and without trying, want unknown", name, c)
		}
	}
}

func TestDockerEngine(t *testing.T) {
	r := Prober{ConfigGz: "/nonexistent", NoLive: true, DockerSocket: fakeDocker(t), Tshark: "getlab-no-such-tshark"}.Run(context.Background())
	if r.Docker.State != Yes || !strings.Contains(r.Docker.Detail, "26.1.5") {
		t.Errorf("docker %v, want yes, engine 26.1.5", r.Docker)
	}
}

func TestDiff(t *testing.T) {
	a := Result{Host: "ci", Kernel: "6.18.44", Arch: "amd64", CPUs: 8, Go: "go1.26.0", Root: true,
		Netem:            Check{State: No},
		Nftables:         Check{State: Yes},
		MulticastRouting: Check{State: No, Detail: "protocol not available"},
		Docker:           Check{State: Yes},
		Tshark:           Check{State: Yes, Detail: "TShark (Wireshark) 4.0.17"},
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("a machine differs from itself: %q", d)
	}
	b := a
	b.Host = "laptop" // not compared
	b.Netem = Check{State: Yes}
	b.MulticastRouting = Check{State: Yes}
	b.Tshark.Detail = "TShark (Wireshark) 4.2.2"
	b.Kernel = "6.1.0"
	d := Diff(a, b)
	want := []string{"netem: no in the bundle, yes here", "multicast routing: no (protocol not available) in the bundle, yes here",
		"kernel: 6.18.44 in the bundle, 6.1.0 here", "tshark version: TShark (Wireshark) 4.0.17 in the bundle, TShark (Wireshark) 4.2.2 here"}
	if len(d) != len(want) {
		t.Fatalf("diff %q, want %q", d, want)
	}
	for i := range want {
		if d[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, d[i], want[i])
		}
	}
}

// TestLive tries the kernel facilities in a throwaway namespace (root
// only) and checks the answers agree with the kernel's config where it
// has one: a facility the config leaves out cannot work, one built in
// must.
func TestLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the probe tries netem, nftables and MRT_INIT in a network namespace of its own")
	}
	r := Prober{DockerSocket: "/nonexistent", Tshark: "getlab-no-such-tshark"}.Run(context.Background())
	t.Logf("netem %v\nnftables %v\nmulticast routing %v", r.Netem, r.Nftables, r.MulticastRouting)
	cfg, cfgErr := readKernelConfig("/proc/config.gz")
	for _, c := range []struct {
		name   string
		check  Check
		option string
	}{{"netem", r.Netem, "CONFIG_NET_SCH_NETEM"}, {"nftables", r.Nftables, "CONFIG_NF_TABLES"}, {"multicast routing", r.MulticastRouting, "CONFIG_IP_MROUTE"}} {
		if !strings.Contains(c.check.Detail, "tried:") {
			t.Errorf("%s %v: not tried as root", c.name, c.check)
		}
		if cfgErr != nil {
			continue
		}
		switch cfg[c.option] {
		case "":
			if c.check.State != No {
				t.Errorf("%s %v, but the kernel config leaves %s out", c.name, c.check, c.option)
			}
		case "y":
			if c.check.State != Yes {
				t.Errorf("%s %v, but the kernel config builds %s in", c.name, c.check, c.option)
			}
		}
	}
}
