package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/events"
)

type fake struct{}

var (
	reg  = time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)
	rin  = 81.5
	gdoi = control.GDOI{
		Role: "gm", Identity: "gm1", Version: "0.1.0", GDOIVersion: "1.0.27", Scale: 0.01,
		Groups: []control.GroupStatus{{
			Name: "GETVPN", ID: 1234,
			GM: &control.GMGroup{State: "registered", KeyServer: "192.0.2.1",
				KSList: []string{"192.0.2.1", "192.0.2.2"}, Registrations: 1, Attempts: 2,
				LastRegistered: &reg, ReregisterIn: &rin, Seq: 3},
			KEK:  &control.KEK{SPI: "00112233445566778899aabbccddeeff", Algorithm: "aes", KeyBits: 256, SigHash: "sha256", SigAlgorithm: "rsa", SigKeyBits: 2048, Lifetime: 86400, Remaining: 85000, Seq: 3},
			TEKs: []control.TEK{{SPI: "0x2d45c4e9", Transform: "aes256gcm16", Src: "198.51.100.0/24", Dst: "203.0.113.0/24", Lifetime: 3600, Remaining: 2228, AddressPreservation: "src-dst", Direction: "both"}},
			ACL:  []string{"permit ip 198.51.100.0/24 203.0.113.0/24"},
		}},
	}
	members = []control.Member{{Address: "192.0.2.11", Identity: "gm1", Group: "GETVPN", GroupID: 1234, Version: "1.0.27",
		KeyServer: "192.0.2.1", RegisteredAt: reg, Registrations: 1, RekeysSent: 2, SentSeq: []uint32{1, 2}, ReceivedSeq: []uint32{1, 2}}}
	ikesas = []control.IKESA{{Local: "192.0.2.11", Peer: "192.0.2.1", Cookies: "0102030405060708|1112131415161718",
		Initiator: true, State: "GDOI_IDLE", Suite: "aes256-sha256-g14", Lifetime: 86400, Remaining: 86000}}
	counters = map[string]uint64{"rx.esp": 10, "tx.esp": 12}
)

func (fake) GDOI() control.GDOI             { return gdoi }
func (fake) Members() []control.Member      { return members }
func (fake) IKESAs() []control.IKESA        { return ikesas }
func (fake) Counters() map[string]uint64    { return counters }
func (empty) GDOI() control.GDOI            { return control.GDOI{Role: "ks"} }
func (empty) Members() []control.Member     { return nil }
func (empty) IKESAs() []control.IKESA       { return nil }
func (empty) Counters() map[string]uint64   { return nil }
func (panicky) GDOI() control.GDOI          { panic("boom") }
func (panicky) Members() []control.Member   { return nil }
func (panicky) IKESAs() []control.IKESA     { return nil }
func (panicky) Counters() map[string]uint64 { return nil }

type empty struct{}
type panicky struct{}

func start(t *testing.T, p control.Provider, ev control.EventSource) (*control.Server, *control.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "getvpnd", "control.sock")
	s, err := control.Serve(context.Background(), path, p, ev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := control.Dial(path)
	t.Cleanup(c.CloseIdleConnections)
	return s, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRoundTrip(t *testing.T) {
	log := events.New(nil, "json", "info")
	log.Emit("GM_REGSTER", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	log.Emit("GM_REGS_COMPL", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	s, c := start(t, fake{}, log)

	fi, err := os.Stat(s.Path())
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %v %v", fi.Mode(), err)
	}
	if di, err := os.Stat(filepath.Dir(s.Path())); err != nil || di.Mode().Perm() != 0o755 {
		t.Fatalf("dir %v %v", di.Mode(), err)
	}

	if err := c.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	g, err := c.GDOI(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, gdoi) {
		t.Errorf("GDOI:\n got %+v\nwant %+v", g, gdoi)
	}
	m, err := c.Members(ctx(t))
	if err != nil || !reflect.DeepEqual(m, members) {
		t.Errorf("Members: %+v %v", m, err)
	}
	sas, err := c.IKESAs(ctx(t))
	if err != nil || !reflect.DeepEqual(sas, ikesas) {
		t.Errorf("IKESAs: %+v %v", sas, err)
	}
	cs, err := c.Counters(ctx(t))
	if err != nil || !reflect.DeepEqual(cs, counters) {
		t.Errorf("Counters: %+v %v", cs, err)
	}
	evs, err := c.Events(ctx(t), 0, 0)
	if err != nil || len(evs) != 2 || evs[1].Name != "GM_REGS_COMPL" || evs[1].Seq != 2 ||
		evs[1].Fields["ks"] != "192.0.2.1" || evs[1].Facility != "GDOI" || evs[1].Severity != 5 {
		t.Errorf("Events: %+v %v", evs, err)
	}
	evs, err = c.Events(ctx(t), 1, 0)
	if err != nil || len(evs) != 1 || evs[0].Seq != 2 {
		t.Errorf("Events(1): %+v %v", evs, err)
	}
	evs, err = c.Events(ctx(t), 2, 0)
	if err != nil || evs == nil || len(evs) != 0 {
		t.Errorf("Events(2): %#v %v", evs, err)
	}

	// The raw documents: the API's field names.
	var raw map[string]any
	if err := c.Get(ctx(t), "/v1/gdoi", &raw); err != nil {
		t.Fatal(err)
	}
	if raw["role"] != "gm" || raw["timer_scale"] != 0.01 {
		t.Errorf("raw gdoi: %v", raw)
	}
}

// Empty answers are [] and {}, never null.
func TestEmpty(t *testing.T) {
	_, c := start(t, empty{}, nil)
	for path, want := range map[string]string{
		"/v1/ks/members": "[]",
		"/v1/ike/sa":     "[]",
		"/v1/counters":   "{}",
		"/v1/events":     "[]",
	} {
		var raw json.RawMessage
		if err := c.Get(ctx(t), path, &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw) != want {
			t.Errorf("%s = %s, want %s", path, raw, want)
		}
	}
	var g map[string]any
	if err := c.Get(ctx(t), "/v1/gdoi", &g); err != nil {
		t.Fatal(err)
	}
	if gs, ok := g["groups"].([]any); !ok || len(gs) != 0 {
		t.Errorf("groups = %#v", g["groups"])
	}
}

func TestLongPoll(t *testing.T) {
	log := events.New(nil, "json", "info")
	log.Emit("GM_REGSTER")
	_, c := start(t, fake{}, log)

	go func() {
		time.Sleep(100 * time.Millisecond)
		log.Emit("GM_REGS_COMPL", "ks", "192.0.2.1")
	}()
	t0 := time.Now()
	evs, err := c.Events(ctx(t), 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("long poll took %v", d)
	}
	if len(evs) != 1 || evs[0].Name != "GM_REGS_COMPL" || evs[0].Seq != 2 {
		t.Errorf("events %+v", evs)
	}

	// Nothing new: it returns empty after the wait.
	t0 = time.Now()
	evs, err = c.Events(ctx(t), 2, 200*time.Millisecond)
	if err != nil || len(evs) != 0 {
		t.Errorf("%+v %v", evs, err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("empty wait took %v", d)
	}
}

// Close wakes a pending long poll and removes the socket.
func TestCloseDuringPoll(t *testing.T) {
	log := events.New(nil, "json", "info")
	s, c := start(t, fake{}, log)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Events(context.Background(), 0, 25*time.Second)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("poll still pending after Close")
	}
	if _, err := os.Lstat(s.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Health(ctx(t)); err == nil || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("Health after Close: %v (want an error naming the socket)", err)
	}
}

func TestContextCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	cx, cancel := context.WithCancel(context.Background())
	s, err := control.Serve(cx, path, fake{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket not removed after ctx cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	// A socket file nobody listens on, as a killed daemon leaves it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatal(err)
	}
	s, err := control.Serve(context.Background(), path, fake{}, nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	c := control.Dial(path)
	defer c.CloseIdleConnections()
	if err := c.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}

	// A live socket is not taken over.
	if _, err := control.Serve(context.Background(), path, fake{}, nil); err == nil {
		t.Error("second Serve on a live socket succeeded")
	}
	if err := c.Health(ctx(t)); err != nil {
		t.Errorf("first server broken by second Serve: %v", err)
	}
	s.Close()

	// A regular file is not removed.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := control.Serve(context.Background(), file, fake{}, nil); err == nil {
		t.Error("Serve over a regular file succeeded")
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("regular file removed: %v", err)
	}
}

// Close leaves alone a socket that another server has put at the path since.
func TestCloseKeepsOthersSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	s1, err := control.Serve(context.Background(), path, fake{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // as an operator would
	s2, err := control.Serve(context.Background(), path, empty{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s1.Close()
	c := control.Dial(path)
	defer c.CloseIdleConnections()
	if err := c.Health(ctx(t)); err != nil {
		t.Errorf("s1.Close removed s2's socket: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s, c := start(t, fake{}, nil)
	status := func(err error) int {
		var ae *control.Error
		if errors.As(err, &ae) {
			return ae.Status
		}
		return 0
	}

	err := c.Get(ctx(t), "/v1/nope", nil)
	if status(err) != http.StatusNotFound || !strings.Contains(err.Error(), "/v1/nope") {
		t.Errorf("unknown path: %v", err)
	}
	err = c.Post(ctx(t), "/v1/gdoi", nil, nil)
	if status(err) != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/gdoi: %v", err)
	}
	err = c.Get(ctx(t), "/v1/events?since=x", nil)
	if status(err) != http.StatusBadRequest {
		t.Errorf("since=x: %v", err)
	}
	err = c.Get(ctx(t), "/v1/events?wait=-1", nil)
	if status(err) != http.StatusBadRequest {
		t.Errorf("wait=-1: %v", err)
	}

	// The error documents themselves, over plain HTTP.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", s.Path())
	}}}
	defer hc.CloseIdleConnections()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v1/unknown", 404, ""},
		{"GET", "/", 404, ""},
		{"DELETE", "/v1/ks/members", 405, "GET"},
		{"POST", "/v1/health", 405, "GET"},
	} {
		req, _ := http.NewRequest(tc.method, "http://x"+tc.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]string
		json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if resp.StatusCode != tc.status || doc["error"] == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %v %s", tc.method, tc.path, resp.StatusCode, doc, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

func TestHandle(t *testing.T) {
	s, c := start(t, fake{}, nil)
	rekeys := 0
	s.Handle("POST", "/v1/ks/rekey", func(r *http.Request) (any, error) {
		var req struct {
			Group string `json:"group"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, control.Errorf(http.StatusBadRequest, "bad body: %v", err)
		}
		if req.Group != "GETVPN" {
			return nil, control.Errorf(http.StatusNotFound, "no group %q", req.Group)
		}
		rekeys++
		return map[string]any{"group": req.Group, "seq": 7}, nil
	})
	s.Handle("POST", "/v1/nothing", func(*http.Request) (any, error) { return nil, nil })
	s.Handle("GET", "/v1/fail", func(*http.Request) (any, error) { return nil, errors.New("plain failure") })

	var out struct {
		Group string `json:"group"`
		Seq   int    `json:"seq"`
	}
	if err := c.Post(ctx(t), "/v1/ks/rekey", map[string]string{"group": "GETVPN"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Group != "GETVPN" || out.Seq != 7 || rekeys != 1 {
		t.Errorf("%+v %d", out, rekeys)
	}
	err := c.Post(ctx(t), "/v1/ks/rekey", map[string]string{"group": "X"}, nil)
	var ae *control.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Message != `no group "X"` {
		t.Errorf("%v", err)
	}
	var ok map[string]bool
	if err := c.Post(ctx(t), "/v1/nothing", nil, &ok); err != nil || !ok["ok"] {
		t.Errorf("nil result: %v %v", ok, err)
	}
	err = c.Get(ctx(t), "/v1/fail", nil)
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "plain failure" {
		t.Errorf("%v", err)
	}
}

func TestPanicIsAnError(t *testing.T) {
	_, c := start(t, panicky{}, nil)
	_, err := c.GDOI(ctx(t))
	var ae *control.Error
	if !errors.As(err, &ae) || ae.Status != 500 || !strings.Contains(ae.Message, "boom") {
		t.Errorf("%v", err)
	}
	if err := c.Health(ctx(t)); err != nil {
		t.Errorf("server down after a panic: %v", err)
	}
}

func TestNoDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.sock")
	c := control.Dial(path)
	err := c.Health(ctx(t))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("%v", err)
	}
}
