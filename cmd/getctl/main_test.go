package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/internal/syncbuf"
)

type provider struct{}

func (provider) GDOI() control.GDOI { return sampleGM() }
func (provider) Members() []control.Member {
	return []control.Member{{Address: "192.0.2.11", Group: "GETVPN", GroupID: 1234}}
}
func (provider) IKESAs() []control.IKESA {
	return []control.IKESA{{Local: "192.0.2.11", Peer: "192.0.2.1", State: "GDOI_IDLE"}}
}
func (provider) Counters() map[string]uint64 { return map[string]uint64{"esp.rx": 3} }

// daemon starts a control socket and returns its path and event log.
func daemon(t *testing.T) (string, *events.Log) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	log := events.New(nil, "json", "info")
	s, err := control.Serve(context.Background(), path, provider{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return path, log
}

func getctl(ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	var out, errb syncbuf.Buffer
	code := run(ctx, args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	sock, log := daemon(t)
	log.Emit("GM_REGSTER", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	log.Emit("GM_REGS_COMPL", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	ctx := context.Background()

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-s", sock, "show", "gdoi"}, "    Registration status   : Registered"},
		{[]string{"--socket=" + sock, "show", "crypto", "gdoi"}, "KEK POLICY:"},
		{[]string{"show", "ks", "members", "--socket", sock}, "Group Member ID    : 192.0.2.11"},
		{[]string{"-s", sock, "show", "ike", "sa"}, "GDOI_IDLE"},
		{[]string{"-s", sock, "show", "counters"}, "esp.rx  3"},
		{[]string{"-s", sock, "show", "events"}, "%GDOI-5-GM_REGS_COMPL: Registration to KS 192.0.2.1 complete"},
		{[]string{"-s", sock, "health"}, "ok"},
	} {
		code, out, errs := getctl(ctx, nil, c.args...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("getctl %v: exit %d, stdout:\n%s\nstderr: %s", c.args, code, out, errs)
		}
	}

	// --since: only later events.
	code, out, _ := getctl(ctx, nil, "-s", sock, "show", "events", "--since", "1")
	if code != 0 || strings.Contains(out, "GM_REGSTER:") || !strings.Contains(out, "GM_REGS_COMPL") {
		t.Errorf("--since 1: %d\n%s", code, out)
	}

	// $GETCTL_SOCKET.
	code, out, _ = getctl(ctx, map[string]string{"GETCTL_SOCKET": sock}, "health")
	if code != 0 || !strings.Contains(out, sock) {
		t.Errorf("GETCTL_SOCKET: %d %s", code, out)
	}
}

func TestJSON(t *testing.T) {
	sock, log := daemon(t)
	log.Emit("GM_REGS_COMPL", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	ctx := context.Background()

	code, out, _ := getctl(ctx, nil, "-s", sock, "show", "gdoi", "--json")
	var g control.GDOI
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.Role != "gm" || g.Groups[0].GM.KeyServer != "192.0.2.1" {
		t.Errorf("show gdoi --json: %d\n%s", code, out)
	}
	if !strings.Contains(out, "\n  \"role\": \"gm\",") {
		t.Errorf("not indented:\n%s", out)
	}
	code, out, _ = getctl(ctx, nil, "-s", sock, "-j", "show", "events")
	var evs []control.Event
	if code != 0 || json.Unmarshal([]byte(out), &evs) != nil || len(evs) != 1 || evs[0].Name != "GM_REGS_COMPL" {
		t.Errorf("show events --json: %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"show", "ks", "members"}, {"show", "ike", "sa"}, {"show", "counters"}, {"health"},
	} {
		code, out, _ := getctl(ctx, nil, append([]string{"-s", sock, "--json"}, args...)...)
		if code != 0 || !json.Valid([]byte(out)) {
			t.Errorf("%v --json: %d\n%s", args, code, out)
		}
	}
}

func TestFollow(t *testing.T) {
	sock, log := daemon(t)
	log.Emit("GM_REGSTER", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var out, errb syncbuf.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-s", sock, "show", "events", "--follow", "--json"}, &out, &errb, func(string) string { return "" })
	}()
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s\nstderr: %s", s, out.String(), errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(`"name":"GM_REGSTER"`)
	log.Emit("GM_REGS_COMPL", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	waitFor(`"name":"GM_REGS_COMPL"`)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("interrupted --follow: exit %d, %s", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("--follow did not stop on interrupt")
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not one JSON event per line: %q", line)
		}
	}
}

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	absent := filepath.Join(t.TempDir(), "absent.sock")
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "no command"},
		{[]string{"show"}, 2, "unknown command"},
		{[]string{"show", "bogus"}, 2, "usage: getctl"},
		{[]string{"--bogus", "health"}, 2, "unknown option --bogus"},
		{[]string{"health", "-s"}, 2, "needs a value"},
		{[]string{"show", "gdoi", "--follow"}, 2, "show events"},
		{[]string{"show", "events", "--since", "x"}, 2, "not a sequence number"},
		{[]string{"--json=1", "health"}, 2, "takes no value"},
		{[]string{"-s", absent, "show", "gdoi"}, 1, absent},
		{[]string{"-s", absent, "health"}, 1, absent},
	} {
		code, _, errs := getctl(ctx, nil, c.args...)
		if code != c.code || !strings.Contains(errs, c.stderr) {
			t.Errorf("getctl %v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errs, c.stderr)
		}
	}
	code, out, _ := getctl(ctx, nil, "--help")
	if code != 0 || !strings.HasPrefix(out, "usage: getctl") {
		t.Errorf("--help: %d %s", code, out)
	}
	// The default socket, when nothing else is said.
	o, _, err := parse([]string{"health"}, func(string) string { return "" })
	if err != nil || o.socket != "/run/getvpnd/control.sock" {
		t.Errorf("default socket %q %v", o.socket, err)
	}
}
