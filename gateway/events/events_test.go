package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/show"
	"github.com/getlab/getlab/internal/syncbuf"
)

var t0 = time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)

func fixedClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := t0.Add(time.Duration(n) * time.Millisecond)
		n++
		return t
	}
}

// The brief's list of events, each of which must be in the catalogue.
var required = []string{
	"GM_REGSTER", "GM_REGS_COMPL", "GM_INSTALL_POLICIES_SUCCESS", "GM_CONN_NEXT_SER",
	"GM_RE_REGISTER", "GM_REGSTER_IF_DOWN", "GM_INCOMPLETE_CFG", "GM_HASH_FAIL",
	"KS_HASH_FAIL", "SA_KEK_UPDATED", "SA_TEK_UPDATED", "GM_REKEY_TRANS_2_UNI",
	"GM_REKEY_TRANS_2_MULTI", "KS_REGS_COMPL", "KS_FIRST_GM", "KS_GROUP_ADD",
	"UNAUTHORIZED_IPADDR", "UNAUTHORIZED_IDENTITY", "KS_UNAUTHORIZED", "KS_BAD_ID",
	"KS_NO_RSA_KEYS", "KS_GM_REJECTS_SA_PAYLOAD", "GM_REJECTING_SA_PAYLOAD",
	"IKMP_MODE_FAILURE", "GM_RECV_REKEY", "KS_SEND_UNICAST_REKEY", "KS_SEND_MCAST_REKEY",
	"GM_DELETE", "GDOI_REKEY_SEQ_FAILURE", "GDOI_REKEY_FAILURE", "REPLAY_FAILED",
	"PKT_REPLAY_ERR", "GM_DELETE_EXPIRED_KEK", "POLICY_CHANGE",
	"COOP_KS_ELECTION", "COOP_KS_TRANS_TO_PRI", "COOP_KS_REACH", "COOP_KS_UNREACH",
	"COOP_KS_ADD", "COOP_KS_REMOVE", "COOP_KS_UNAUTH", "COOP_KS_VER_MISMATCH",
	"COOP_CONFIG_MISMATCH", "COOP_PACKET_DROPPED", "COOP_KS_BLOCK_NEW_GM_REGISTER",
	"COOP_KS_VALID_ANN_TIMER_EXPIRED",
	"REG_FAILED", "IKE_AUTH_FAILED", "IKE_NOTIFY_RECV", "MALFORMED_PACKET",
}

var (
	nameRE  = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	fieldRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

func TestCatalogue(t *testing.T) {
	for _, n := range required {
		if _, ok := Lookup(n); !ok {
			t.Errorf("Lookup(%s): not in the catalogue", n)
		}
	}
	for _, d := range All() {
		if !nameRE.MatchString(d.Name) {
			t.Errorf("%s: bad name", d.Name)
		}
		if d.Facility != "GDOI" && d.Facility != "CRYPTO" {
			t.Errorf("%s: facility %q", d.Name, d.Facility)
		}
		if d.Severity < 0 || d.Severity > 7 {
			t.Errorf("%s: severity %d", d.Name, d.Severity)
		}
		if d.Format == "" || strings.Count(d.Format, "{") != strings.Count(d.Format, "}") {
			t.Errorf("%s: format %q", d.Name, d.Format)
		}
		for _, f := range d.Fields() {
			if !fieldRE.MatchString(f) {
				t.Errorf("%s: field %q", d.Name, f)
			}
		}
	}
	if err := Check("GM_REGS_COMPL", "ks", "k", "group", "g", "gm", "m"); err != nil {
		t.Error(err)
	}
	if err := Check("KS_SEND_UNICAST_REKEY", "ks", "k", "group", "g", "seq", "1"); err != nil {
		t.Errorf("optional field required: %v", err)
	}
	if err := Check("GM_REGS_COMPL", "ks", "k"); err == nil || !strings.Contains(err.Error(), "group, gm") {
		t.Errorf("Check missing: %v", err)
	}
	if err := Check("NO_SUCH_EVENT"); err == nil {
		t.Error("Check unknown: nil")
	}
	if d, ok := Lookup("KS_SEND_MULTICAST_REKEY"); !ok || d.Name != "KS_SEND_MCAST_REKEY" {
		t.Errorf("alias KS_SEND_MULTICAST_REKEY: %+v %v", d, ok)
	}
}

// The seeds' example lines, rebuilt from the catalogue.
func TestSeedLines(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields []string
		want   string
	}{
		{"GM_REGSTER", []string{"ks", "172.16.4.2", "group", "dgvpn", "gm", "192.168.1.1"},
			"%CRYPTO-5-GM_REGSTER: Start registration to KS 172.16.4.2 for group dgvpn using address 192.168.1.1"},
		{"GM_REGS_COMPL", []string{"ks", "172.16.4.2", "group", "dgvpn", "gm", "192.168.1.1"},
			"%GDOI-5-GM_REGS_COMPL: Registration to KS 172.16.4.2 complete for group dgvpn using address 192.168.1.1"},
		{"GM_INSTALL_POLICIES_SUCCESS", []string{"ks", "10.1.11.2", "group", "G1", "gm", "10.1.13.2"},
			"%GDOI-5-GM_INSTALL_POLICIES_SUCCESS: SUCCESS: Installation of Reg/Rekey policies from KS 10.1.11.2 for group G1 & gm identity 10.1.13.2"},
		{"GM_RECV_REKEY", []string{"group", "dgvpn", "ks", "172.16.4.2", "gm", "192.168.1.1", "seq", "5"},
			"%GDOI-5-GM_RECV_REKEY: Received Rekey for group dgvpn from 172.16.4.2 to 192.168.1.1 with seq # 5"},
		{"KS_SEND_UNICAST_REKEY", []string{"group", "getvpn", "ks", "172.16.4.2", "seq", "1"},
			"%GDOI-5-KS_SEND_UNICAST_REKEY: Sending Unicast Rekey for group getvpn from address 172.16.4.2 with seq # 1"},
		{"KS_SEND_UNICAST_REKEY", []string{"group", "GET", "ks", "10.0.8.1", "seq", "2", "policy_replace", "true"},
			"%GDOI-5-KS_SEND_UNICAST_REKEY: Sending Unicast Rekey with policy-replace for group GET from address 10.0.8.1 with seq # 2"},
		{"GM_DELETE", []string{"gm", "10.1.1.9", "group", "getvpn"},
			"%GDOI-4-GM_DELETE: GM 10.1.1.9 deleted from group getvpn."},
		{"UNAUTHORIZED_IPADDR", []string{"group", "getvpn", "ip", "10.1.1.9"},
			"%GDOI-1-UNAUTHORIZED_IPADDR: Group getvpn received registration from unauthorized ip address: 10.1.1.9"},
		{"UNAUTHORIZED_IDENTITY", []string{"group", "getvpn", "identity", "Dist. name: hostname=GroupMember-1,ou=TEST"},
			"%GDOI-1-UNAUTHORIZED_IDENTITY: Group getvpn received registration from unauthorized identity: Dist. name: hostname=GroupMember-1,ou=TEST"},
		{"COOP_KS_TRANS_TO_PRI", []string{"ks", "172.18.5.2", "group", "getvpn", "previous", "172.16.4.2"},
			"%GDOI-5-COOP_KS_TRANS_TO_PRI: KS 172.18.5.2 in group getvpn transitioned to Primary (Previous Primary = 172.16.4.2)"},
		{"COOP_KS_UNREACH", []string{"ks", "172.18.5.2", "group", "getvpn"},
			"%GDOI-3-COOP_KS_UNREACH: Cooperative KS 172.18.5.2 Unreachable in group getvpn"},
		{"GDOI_REKEY_SEQ_FAILURE", []string{"seq", "2", "group", "get-group", "last_seq", "6"},
			"%GDOI-3-GDOI_REKEY_SEQ_FAILURE: Failed to process rekey seq # 2 in seq payload for group get-group, last seq # 6"},
		{"PKT_REPLAY_ERR", []string{"conn_id", "29", "seq", "11"},
			"%CRYPTO-4-PKT_REPLAY_ERR: decrypt: replay check failed connection id=29, sequence number=11"},
		{"TIMEBASED_REPLAY_FAILED", []string{"group", "GETVPN", "ip", "100.0.0.9", "my_pst", "600006.78", "peer_pst", "500033.34", "window", "100"},
			"%GDOI-4-TIMEBASED_REPLAY_FAILED: An anti replay check has failed in group GETVPN from sourceip-address 100.0.0.9. my_pseudotime is 600006.78 secs,peer_pseudotime is 500033.34 secs, replay_window is 100(second)"},
		{"IKMP_MODE_FAILURE", []string{"peer", "10.0.8.1"},
			"%CRYPTO-6-IKMP_MODE_FAILURE: Processing of GDOI mode failed with peer at 10.0.8.1"},
		{"GM_REKEY_TRANS_2_UNI", []string{"group", "G1"},
			"%GDOI-5-GM_REKEY_TRANS_2_UNI: Group G1 transitioned to Unicast Rekey."},
	} {
		l := New(nil, "text", "debug")
		ev := l.Emit(c.name, c.fields...)
		if got := Line(ev); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestRenderMissingField(t *testing.T) {
	d, _ := Lookup("GM_REGS_COMPL")
	got := d.Render(map[string]string{"ks": "192.0.2.1"})
	want := "Registration to KS 192.0.2.1 complete for group <group> using address <gm>"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	d, _ = Lookup("KS_SEND_UNICAST_REKEY")
	if f := strings.Join(d.Fields(), ","); f != "policy_replace,group,ks,seq" {
		t.Errorf("Fields() = %s", f)
	}
	for _, v := range []string{"", "0", "false"} {
		got := d.Render(map[string]string{"policy_replace": v, "group": "G", "ks": "k", "seq": "1"})
		if strings.Contains(got, "policy-replace") {
			t.Errorf("policy_replace=%q: %s", v, got)
		}
	}
}

func TestTextLine(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "text", "info")
	l.SetClock(fixedClock())
	l.Emit("GM_REGS_COMPL", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
	l.Emit("REG_FAILED", "ks", "192.0.2.1", "group", "GETVPN", "reason", "no proposal chosen")
	l.Emit("SOMETHING_NEW", "a", "1", "b", "x y")
	want := "2026-11-23T21:00:00.000Z %GDOI-5-GM_REGS_COMPL: Registration to KS 192.0.2.1 complete for group GETVPN using address 192.0.2.11 ks=192.0.2.1 group=GETVPN gm=192.0.2.11\n" +
		"2026-11-23T21:00:00.001Z %GDOI-4-REG_FAILED: Registration to KS 192.0.2.1 for group GETVPN failed: no proposal chosen ks=192.0.2.1 group=GETVPN reason=\"no proposal chosen\"\n" +
		"2026-11-23T21:00:00.002Z %GETVPND-5-SOMETHING_NEW: SOMETHING_NEW a=1 b=\"x y\"\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestJSONLine(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "json", "info")
	l.SetClock(fixedClock())
	ev := l.Emit("GM_INSTALL_POLICIES_SUCCESS", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11", "msg", "clash")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	if strings.Contains(lines[0], `\u0026`) {
		t.Errorf("HTML-escaped: %s", lines[0])
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time":      "2026-11-23T21:00:00.000Z",
		"level":     "info",
		"seq":       float64(1),
		"event":     "GM_INSTALL_POLICIES_SUCCESS",
		"facility":  "GDOI",
		"severity":  float64(5),
		"msg":       "%GDOI-5-GM_INSTALL_POLICIES_SUCCESS: SUCCESS: Installation of Reg/Rekey policies from KS 192.0.2.1 for group GETVPN & gm identity 192.0.2.11",
		"ks":        "192.0.2.1",
		"group":     "GETVPN",
		"gm":        "192.0.2.11",
		"field_msg": "clash",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("keys: %v", m)
	}
	if ev.Seq != 1 || ev.Name != "GM_INSTALL_POLICIES_SUCCESS" || ev.Fields["msg"] != "clash" || !ev.Time.Equal(t0) {
		t.Errorf("event: %+v", ev)
	}
}

func TestJSONEscaping(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "json", "debug")
	weird := "a\"b\\c\nd\te\x01f\xffg\u2028<&>"
	l.Emit("MALFORMED_PACKET", "proto", "isakmp", "peer", "192.0.2.9", "reason", weird)
	l.Logf("debug", "free %s", weird)
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		if i == 0 && m["reason"] != strings.ToValidUTF8(weird, "\ufffd") {
			t.Errorf("reason = %q", m["reason"])
		}
		if i == 1 && (m["event"] != "" || m["level"] != "debug" || m["msg"] != "free "+strings.ToValidUTF8(weird, "\ufffd")) {
			t.Errorf("logf line: %v", m)
		}
	}
}

func TestLevels(t *testing.T) {
	for _, c := range []struct {
		sev  int
		want string
	}{{0, "error"}, {1, "error"}, {3, "error"}, {4, "warn"}, {5, "info"}, {6, "info"}, {7, "debug"}} {
		if got := Level(c.sev); got != c.want {
			t.Errorf("Level(%d) = %s, want %s", c.sev, got, c.want)
		}
	}
	var buf bytes.Buffer
	l := New(&buf, "text", "warn")
	l.Emit("GM_REGS_COMPL", "group", "G")       // 5: filtered
	l.Emit("GM_RE_REGISTER", "group", "G")      // 4: written
	l.Emit("UNAUTHORIZED_IPADDR", "group", "G") // 1: written
	l.Logf("info", "hidden")
	l.Logf("error", "shown %d", 1)
	out := buf.String()
	if strings.Contains(out, "GM_REGS_COMPL") || strings.Contains(out, "hidden") {
		t.Errorf("filtered line written:\n%s", out)
	}
	if !strings.Contains(out, "GM_RE_REGISTER") || !strings.Contains(out, "UNAUTHORIZED_IPADDR") || !strings.Contains(out, "error: shown 1") {
		t.Errorf("missing line:\n%s", out)
	}
	if n := len(l.Since(0)); n != 3 {
		t.Errorf("ring holds %d events, want 3 (it keeps filtered ones)", n)
	}
	if c := l.Counts(); c["GM_REGS_COMPL"] != 1 {
		t.Errorf("Counts = %v", c)
	}
	if !l.SetLevel("debug") || l.SetLevel("loud") {
		t.Error("SetLevel")
	}
}

func TestOddFields(t *testing.T) {
	l := New(nil, "text", "info")
	ev := l.Emit("GM_DELETE", "gm", "10.1.1.9", "group")
	if ev.Fields["!BADKEY"] != "group" || ev.Fields["gm"] != "10.1.1.9" {
		t.Errorf("fields %v", ev.Fields)
	}
	ev = l.Emit("GM_CONN_NEXT_SER")
	if ev.Fields != nil || ev.Message != "GM is connecting to next key server from the list" {
		t.Errorf("%+v", ev)
	}
}

func TestRing(t *testing.T) {
	l := New(nil, "text", "info")
	l.SetCapacity(5)
	if got := l.Since(0); got == nil || len(got) != 0 {
		t.Errorf("empty Since(0) = %#v", got)
	}
	for i := 1; i <= 12; i++ {
		l.Emit("GM_RECV_REKEY", "seq", fmt.Sprint(i))
	}
	seqs := func(evs []show.Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, fmt.Sprint(e.Seq))
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		since uint64
		want  string
	}{{0, "8,9,10,11,12"}, {7, "8,9,10,11,12"}, {9, "10,11,12"}, {11, "12"}, {12, ""}, {99, ""}} {
		if got := seqs(l.Since(c.since)); got != c.want {
			t.Errorf("Since(%d) = %s, want %s", c.since, got, c.want)
		}
	}
	l.SetCapacity(3)
	if got := seqs(l.Since(0)); got != "10,11,12" {
		t.Errorf("after shrink: %s", got)
	}
	l.SetCapacity(10)
	l.Emit("GM_RECV_REKEY")
	if got := seqs(l.Since(0)); got != "10,11,12,13" {
		t.Errorf("after grow: %s", got)
	}
	if l.Last() != 13 {
		t.Errorf("Last = %d", l.Last())
	}
}

func TestWait(t *testing.T) {
	l := New(nil, "json", "info")
	l.Emit("GM_REGSTER")
	// Already there: no wait.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.Wait(ctx, 0)
	if ctx.Err() != nil {
		t.Fatal("Wait(0) blocked")
	}
	done := make(chan struct{})
	go func() {
		l.Wait(ctx, 1)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Wait(1) returned before an event")
	case <-time.After(50 * time.Millisecond):
	}
	l.Emit("GM_REGS_COMPL")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait(1) did not return after an event")
	}
	// Context expiry ends a wait.
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	l.Wait(short, 99)
	if short.Err() == nil {
		t.Fatal("Wait returned early")
	}
}

func TestConcurrent(t *testing.T) {
	var buf syncbuf.Buffer
	l := New(&buf, "json", "debug")
	l.SetCapacity(64)
	l.SetRateLimit(0, 0) // every line, to check none interleave
	var c Counters
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Emit("GM_RECV_REKEY", "seq", fmt.Sprint(i))
				l.Logf("debug", "x %d", i)
				l.Since(uint64(i))
				c.add("rx", 1)
				c.add(fmt.Sprintf("k%d", i%3), 2)
				_ = c.Snapshot()
			}
		}()
	}
	wg.Wait()
	if l.Last() != 1600 {
		t.Errorf("Last = %d", l.Last())
	}
	if n := strings.Count(buf.String(), "\n"); n != 3200 {
		t.Errorf("%d lines", n)
	}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("interleaved line %q", line)
		}
	}
	s := c.Snapshot()
	if s["rx"] != 1600 || s["k0"]+s["k1"]+s["k2"] != 3200 || c.get("rx") != 1600 || c.get("none") != 0 {
		t.Errorf("counters %v", s)
	}
	if names := strings.Join(c.Names(), ","); names != "k0,k1,k2,rx" {
		t.Errorf("Names = %s", names)
	}
}

// A flood of one bad-packet event writes a bounded number of lines: the
// burst, then the rate, with the number suppressed carried by the next line
// logged; Counts stay exact and the ring holds no more than the log.
func TestRateLimitFlood(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "text", "info")
	var sink Counters
	l.CountSuppressed(&sink)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.SetClock(func() time.Time { return now })
	const n = 100000
	for i := range n {
		// 100,000 packets over 10 seconds.
		now = now.Add(100 * time.Microsecond)
		l.Emit("MALFORMED_PACKET", "peer", "192.0.2.66:848", "reason", fmt.Sprintf("garbage %d", i))
	}
	// Burst 20, then 10 a second over the 10 s.
	lines := strings.Count(buf.String(), "\n")
	if lines < DefaultBurst || lines > DefaultBurst+10*DefaultRateLimit+1 {
		t.Fatalf("%d lines for %d events, want between %d and %d", lines, n, DefaultBurst, DefaultBurst+10*DefaultRateLimit+1)
	}
	if buf.Len() > 200*lines {
		t.Fatalf("%d bytes for %d lines", buf.Len(), lines)
	}
	if c := l.Counts()["MALFORMED_PACKET"]; c != n {
		t.Fatalf("Counts = %d, want %d", c, n)
	}
	if got := uint64(len(l.Since(0))); got != uint64(lines) {
		t.Fatalf("ring holds %d events, log %d lines", got, lines)
	}
	suppressed := l.Suppressed()["MALFORMED_PACKET"]
	if suppressed != uint64(n-lines) || sink.get("log_suppressed_malformed_packet") != suppressed {
		t.Fatalf("suppressed %d (counter %d), want %d", suppressed, sink.get("log_suppressed_malformed_packet"), n-lines)
	}
	// Every suppressed event is reported by a later line.
	var reported uint64
	for _, e := range l.Since(0) {
		if v := e.Fields[SuppressedField]; v != "" {
			k, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			reported += k
		}
	}
	now = now.Add(time.Second)
	last := l.Emit("MALFORMED_PACKET", "peer", "192.0.2.66:848", "reason", "last")
	reported += mustUint(t, last.Fields[SuppressedField])
	if reported != suppressed {
		t.Fatalf("lines report %d suppressed, %d were", reported, suppressed)
	}
	if !strings.Contains(buf.String(), "suppressed=") {
		t.Fatal("no line says how many were suppressed")
	}
	// Other names have their own budget.
	if e := l.Emit("GM_RECV_REKEY", "group", "g", "ks", "k", "gm", "m", "seq", "1"); e.Seq == 0 || e.Fields[SuppressedField] != "" {
		t.Fatalf("another event was limited: %+v", e)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("suppressed=%q: %v", s, err)
	}
	return v
}

// An emitter that limits itself (the data plane, once a second) passes its
// suppressed count in the event; the Log adds it to its own and loses none.
func TestRateLimitCarriesSuppressed(t *testing.T) {
	l := New(nil, "text", "info")
	l.SetRateLimit(1, 1)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.SetClock(func() time.Time { return now })
	if e := l.Emit("RECVD_PKT_INV_SPI", "suppressed", "5"); e.Fields[SuppressedField] != "5" {
		t.Fatalf("first event: %v", e.Fields)
	}
	if e := l.Emit("RECVD_PKT_INV_SPI", "suppressed", "7"); e.Seq != 0 {
		t.Fatalf("second event within the second was logged: %+v", e)
	}
	if got := l.Suppressed()["RECVD_PKT_INV_SPI"]; got != 8 {
		t.Fatalf("suppressed %d, want 8 (the event and the 7 it stood for)", got)
	}
	now = now.Add(time.Second)
	if e := l.Emit("RECVD_PKT_INV_SPI", "suppressed", "2"); e.Fields[SuppressedField] != "10" {
		t.Fatalf("third event says suppressed=%s, want 10", e.Fields[SuppressedField])
	}
	if e := l.Emit("GETVPND_NOT_IN_CATALOGUE"); e.Seq == 0 {
		t.Fatal("unknown name limited with the first")
	}
	now = now.Add(time.Second)
	l.Emit("GETVPND_NOT_IN_CATALOGUE")
	l.Emit("GETVPND_NOT_IN_CATALOGUE")
	now = now.Add(time.Second)
	if e := l.Emit("GETVPND_NOT_IN_CATALOGUE"); !strings.Contains(e.Message, "suppressed=1") {
		t.Fatalf("unknown event's message %q does not say suppressed=1", e.Message)
	}
	// No limit: everything logged.
	l.SetRateLimit(0, 0)
	for range 100 {
		if e := l.Emit("RECVD_PKT_INV_SPI"); e.Seq == 0 {
			t.Fatal("limited without a limit")
		}
	}
}
