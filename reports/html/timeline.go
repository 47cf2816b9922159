package html

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/getlab/getlab/pcap"
)

// Row kinds: a CSS class each, and what the page's filter switches.
const (
	kindISAKMP = "isakmp" // one ISAKMP/GDOI message
	kindData   = "data"   // a run of ESP or other packets, aggregated
	kindBad    = "bad"    // a malformed frame
	kindEvent  = "event"  // a daemon's event (events.json)
	kindLog    = "log"    // a node log line that is not an event
	kindStep   = "step"   // the spec's own steps: nodes, By, report entries
	kindFail   = "fail"   // the spec's failure (or skip)
	kindCut    = "cut"    // rows left out by the cap
)

// row is one line of a timeline.
type row struct {
	T      time.Time
	Kind   string
	Where  string // link ("gm1:eth1"), node ("ks1") or "spec"
	What   string
	Detail string
	Hot    bool   // worth the eye: a PUSH, an error event, a decrypt failure
	ID     string // anchor ("failure")
	agg    *agg   // set while packets are still being added
	prio   bool   // never cut (the spec's own steps and failure)
}

// window is how long a run of packets is aggregated into one row:
// "per second or so".
const window = time.Second

// burst is how many ISAKMP messages (or malformed frames) of one kind, on
// one link, between one pair of addresses, get a row each in one window;
// more than that is a flood (the robustness suite sends hundreds of
// thousands), and the rest of the window's are counted in one row.
const burst = 20

// linkBurst is how many ISAKMP messages of one kind (exchange and
// position) on one link get a row each in one window, whatever their
// addresses.
const linkBurst = 50

// linkAllBurst is how many ISAKMP messages of any kind (and malformed
// frames) on one link get a row each in one window.
const linkAllBurst = 200

// agg accumulates a run of packets into its row.
type agg struct {
	first, last   time.Time
	n             int
	minSeq        uint32
	maxSeq        uint32
	decrypted     int
	undecrypted   int
	decryptErr    string
	inner         map[string]int // decrypted inner flows, "src→dst proto"
	probes        map[uint32]int // probe streams seen, by id
	label         string         // the row's What, without the count
	flood         bool           // the excess of a burst of individual rows
	ports         map[string]bool
	malformedText string
	srcs, dsts    map[netip.Addr]bool // a flood's addresses
	kinds         map[string]int      // a flood's messages by kind
}

// base is what a folder's timeline holds before a spec's own steps are
// added: its packets, its daemons' events and log lines, and what the
// charts draw.
type base struct {
	rows    []*row
	packets int
	chatter int       // ARP, neighbour discovery and MLD frames: charted, no rows
	first   time.Time // first and last frame of the capture
	last    time.Time
	links   []string
	perLink map[string][]time.Time // frame times by link, for the chart
	pushes  []time.Time            // first copies of GROUPKEY-PUSH messages
	probes  []*probeStream
	notes   []string // what could not be read, said on the page
	keys    *pcap.KeyLog
}

// readBase decodes the folder's capture with its key log and reads every
// node's events and log.
func readBase(dir string) *base {
	b := &base{perLink: map[string][]time.Time{}}
	keys := &pcap.KeyLog{}
	if raw, err := os.ReadFile(filepath.Join(dir, "keys.log")); err == nil {
		if err := keys.Read(bytes.NewReader(raw)); err != nil {
			b.notes = append(b.notes, "keys.log: "+err.Error()+" (capture decoded without the rest of it)")
		}
	}
	b.keys = keys
	capPath := filepath.Join(dir, "capture.pcapng")
	if _, err := os.Stat(capPath); err == nil {
		pkts, err := pcap.ReadFile(capPath, keys)
		if err != nil {
			// A capture cut short (a run that was killed) still tells
			// what it has.
			b.notes = append(b.notes, fmt.Sprintf("capture.pcapng: %v (%d frames read)", err, len(pkts)))
		}
		b.addPackets(pkts)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		node := e.Name()
		nd := filepath.Join(dir, node)
		haveEvents := b.addEvents(node, filepath.Join(nd, "events.json"))
		b.addLog(node, filepath.Join(nd, node+".log"), haveEvents)
	}
	sort.SliceStable(b.rows, func(i, j int) bool { return b.rows[i].T.Before(b.rows[j].T) })
	return b
}

// flowKey names a run of packets aggregated into one row.
type flowKey struct {
	link, proto string
	src, dst    netip.Addr
	spi         uint32
	port        uint16
	label       string
}

type open struct {
	r *row
	n int // individual rows given in this window (bursts)
}

func (b *base) addPackets(pkts []pcap.Packet) {
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].Time.Before(pkts[j].Time) })
	runs := map[flowKey]*open{}
	seenLink := map[string]bool{}
	probes := newProbeTracker()
	for i := range pkts {
		p := &pkts[i]
		b.packets++
		if b.first.IsZero() {
			b.first = p.Time
		}
		b.last = p.Time
		if !seenLink[p.Link] {
			seenLink[p.Link] = true
			b.links = append(b.links, p.Link)
		}
		b.perLink[p.Link] = append(b.perLink[p.Link], p.Time)
		probes.add(p)
		switch {
		case p.ISAKMP != nil && p.Malformed == "":
			info := p.ISAKMP
			if info.Type == 33 && !info.Repeat { // GROUPKEY-PUSH (RFC 6407)
				b.pushes = append(b.pushes, p.Time)
			}
			k := flowKey{link: p.Link, proto: "ISAKMP", src: p.Src, dst: p.Dst, label: fmt.Sprintf("%s #%d", info.Exchange, info.Message)}
			if b.individual(runs, k, p) {
				b.rows = append(b.rows, isakmpRow(p))
			}
		case p.Malformed != "":
			k := flowKey{link: p.Link, proto: "malformed " + p.Proto, src: p.Src, dst: p.Dst}
			if b.individual(runs, k, p) {
				b.rows = append(b.rows, &row{T: p.Time, Kind: kindBad, Where: p.Link, Hot: true,
					What:   fmt.Sprintf("MALFORMED %s %s", p.Proto, addrs(p)),
					Detail: fmt.Sprintf("frame %d: %s", p.Index, p.Malformed)})
			}
		case p.ESP != nil:
			k := flowKey{link: p.Link, proto: "ESP", src: p.Src, dst: p.Dst, spi: p.ESP.SPI}
			b.aggregate(runs, k, p, fmt.Sprintf("ESP %s→%s spi 0x%08x", p.Src, p.Dst, p.ESP.SPI))
		case chatter(p):
			// In the chart, not in the rows: the kernel's own link
			// chatter on every link, which nobody asked to see (as
			// `getlab pcap` leaves it out).
			b.chatter++
		default:
			k := flowKey{link: p.Link, proto: p.Proto, src: p.Src, dst: p.Dst, port: p.DstPort}
			label := p.Proto
			if p.Src.IsValid() {
				label += " " + p.Src.String() + "→" + p.Dst.String()
				if p.DstPort != 0 {
					label += fmt.Sprintf(" port %d", p.DstPort)
				}
			}
			b.aggregate(runs, k, p, label)
		}
	}
	for _, r := range b.rows {
		if r.agg != nil {
			r.finish()
		}
	}
	b.probes = probes.result()
}

// chatter is ARP, IPv6 neighbour discovery and MLD: what the kernel says
// on every link by itself.
func chatter(p *pcap.Packet) bool {
	switch {
	case p.Proto == "ARP", p.Proto == "ICMPv6":
		return true
	case p.Dst.Is6() && p.Dst.IsLinkLocalMulticast():
		return true
	}
	return false
}

// individual reports whether p gets a row of its own: the first burst of
// its kind between its addresses in a window do, and the first linkBurst
// of its kind on its link whatever the addresses (a flood from spoofed
// sources, or a thousand GMs of the swarm); the rest of the window's are
// counted in one aggregate row per link and kind.
func (b *base) individual(runs map[flowKey]*open, k flowKey, p *pcap.Packet) bool {
	pair := counted(runs, k, p, burst)
	kind := counted(runs, flowKey{link: k.link, proto: k.proto + " any", label: k.label}, p, linkBurst)
	all := counted(runs, flowKey{link: k.link, proto: "all"}, p, linkAllBurst)
	if pair && kind && all {
		return true
	}
	fk := flowKey{link: k.link, proto: k.proto + " flood", label: k.label}
	label := "more " + k.label
	switch {
	case pair && kind:
		// Few of its kind, many of all kinds: a fuzzer's flood, every
		// exchange type there is and frames that are none, one row
		// for all of them.
		fk = flowKey{link: k.link, proto: "all flood"}
		label = "more ISAKMP messages and malformed frames"
	case p.Malformed != "":
		label = "more MALFORMED " + p.Proto
	}
	f := runs[fk]
	if f == nil || p.Time.Sub(f.r.T) >= window {
		rk := kindISAKMP
		if p.Malformed != "" && fk.proto != "all flood" {
			rk = kindBad
		}
		a := &agg{flood: true, label: label, srcs: map[netip.Addr]bool{}, dsts: map[netip.Addr]bool{}, kinds: map[string]int{}}
		f = &open{r: &row{T: p.Time, Kind: rk, Where: p.Link, Hot: true, agg: a}}
		runs[fk] = f
		b.rows = append(b.rows, f.r)
	}
	a := f.r.agg
	a.add(p)
	a.srcs[p.Src] = true
	a.dsts[p.Dst] = true
	switch {
	case p.Malformed != "":
		a.kinds["malformed"]++
		if a.malformedText == "" {
			a.malformedText = p.Malformed
		}
	default:
		a.kinds[k.label]++
	}
	return false
}

// counted counts p in the window of k and reports whether it is among its
// first max.
func counted(runs map[flowKey]*open, k flowKey, p *pcap.Packet, max int) bool {
	o := runs[k]
	if o == nil || p.Time.Sub(o.r.T) >= window {
		o = &open{r: &row{T: p.Time}}
		runs[k] = o
	}
	o.n++
	return o.n <= max
}

// aggregate counts p in the open run of its flow, or starts a run (a new
// row) when there is none or it began a window ago.
func (b *base) aggregate(runs map[flowKey]*open, k flowKey, p *pcap.Packet, label string) {
	o := runs[k]
	if o == nil || p.Time.Sub(o.r.T) >= window {
		kind := kindData
		o = &open{r: &row{T: p.Time, Kind: kind, Where: p.Link, agg: &agg{label: label}}}
		runs[k] = o
		b.rows = append(b.rows, o.r)
	}
	o.r.agg.add(p)
}

func (a *agg) add(p *pcap.Packet) {
	if a.n == 0 {
		a.first = p.Time
	}
	a.n++
	a.last = p.Time
	if p.ESP != nil {
		if a.n == 1 || p.ESP.Seq < a.minSeq {
			a.minSeq = p.ESP.Seq
		}
		if p.ESP.Seq > a.maxSeq {
			a.maxSeq = p.ESP.Seq
		}
		switch {
		case p.ESP.Decrypted:
			a.decrypted++
			if p.ESP.InnerSrc.IsValid() {
				if a.inner == nil {
					a.inner = map[string]int{}
				}
				a.inner[fmt.Sprintf("%s→%s %s", p.ESP.InnerSrc, p.ESP.InnerDst, protoName(p.ESP.InnerProto))]++
			}
		case p.ESP.DecryptError != "":
			a.undecrypted++
			if a.decryptErr == "" {
				a.decryptErr = p.ESP.DecryptError
			}
		}
	}
	if p.SrcPort != 0 && len(a.ports) < 4 {
		if a.ports == nil {
			a.ports = map[string]bool{}
		}
		a.ports[fmt.Sprintf("%d→%d", p.SrcPort, p.DstPort)] = true
	}
	if id, _, ok := probeHeader(p); ok {
		if a.probes == nil {
			a.probes = map[uint32]int{}
		}
		a.probes[id]++
	}
}

// finish writes an aggregate row's text once its run is complete.
func (r *row) finish() {
	a := r.agg
	r.agg = nil
	if a.flood {
		r.What = fmt.Sprintf("%s ×%d %s", a.label, a.n, addrSets(a.srcs, a.dsts))
		r.Detail = fmt.Sprintf("a flood: after the first of them in this window (%d of a kind between two addresses, %d of a kind or %d of any on the link), the rest counted here (%s)",
			burst, linkBurst, linkAllBurst, span(a))
		if len(a.kinds) > 1 {
			r.Detail += fmt.Sprintf("; %d kinds: %s", len(a.kinds), topCounts(a.kinds))
		}
		if a.malformedText != "" {
			r.Detail += "; first: " + a.malformedText
		}
		return
	}
	r.What = fmt.Sprintf("%s ×%d", a.label, a.n)
	var d []string
	d = append(d, span(a))
	if a.decrypted+a.undecrypted > 0 || strings.HasPrefix(a.label, "ESP") {
		d = append(d, fmt.Sprintf("seq %d–%d", a.minSeq, a.maxSeq))
		switch {
		case a.decrypted == a.n:
			d = append(d, "all decrypted")
		case a.decrypted > 0:
			d = append(d, fmt.Sprintf("%d decrypted", a.decrypted))
		}
		if a.undecrypted > 0 {
			d = append(d, fmt.Sprintf("%d NOT DECRYPTED: %s", a.undecrypted, a.decryptErr))
			r.Hot = true
		}
		if a.decrypted < a.n && a.undecrypted == 0 && a.decrypted == 0 {
			d = append(d, "no key in keys.log")
		}
		d = append(d, "inner "+topCounts(a.inner))
	} else if len(a.ports) > 0 && len(a.ports) < 4 {
		d = append(d, "ports "+strings.Join(sortedKeys(a.ports), ", "))
	}
	if len(a.probes) > 0 {
		var ps []string
		for id, n := range a.probes {
			ps = append(ps, fmt.Sprintf("0x%08x ×%d", id, n))
		}
		sort.Strings(ps)
		d = append(d, "probes "+strings.Join(ps, ", "))
	}
	var kept []string
	for _, s := range d {
		if s != "" && s != "inner " {
			kept = append(kept, s)
		}
	}
	r.Detail = strings.Join(kept, "; ")
}

// addrSets says a flood's addresses: the one address, or how many.
func addrSets(srcs, dsts map[netip.Addr]bool) string {
	one := func(m map[netip.Addr]bool, what string) string {
		if len(m) == 1 {
			for a := range m {
				return a.String()
			}
		}
		return fmt.Sprintf("%d %s", len(m), what)
	}
	return one(srcs, "sources") + "→" + one(dsts, "destinations")
}

func span(a *agg) string {
	if a.n <= 1 {
		return ""
	}
	return fmt.Sprintf("over %.3f s", a.last.Sub(a.first).Seconds())
}

func topCounts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var out []string
	for i, k := range keys {
		if i == 3 {
			out = append(out, fmt.Sprintf("+%d more", len(keys)-3))
			break
		}
		out = append(out, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "ICMPv6"
	}
	return fmt.Sprintf("proto %d", p)
}

func addrs(p *pcap.Packet) string {
	if !p.Src.IsValid() {
		return ""
	}
	return p.Src.String() + "→" + p.Dst.String()
}

// isakmpRow is one ISAKMP/GDOI message: exchange, its position in the
// exchange, repeat, payload layout, SEQ.
func isakmpRow(p *pcap.Packet) *row {
	i := p.ISAKMP
	r := &row{T: p.Time, Kind: kindISAKMP, Where: p.Link}
	r.What = fmt.Sprintf("%s #%d %s", i.Exchange, i.Message, addrs(p))
	if i.Repeat {
		r.What += " (repeat)"
	}
	var d []string
	switch {
	case i.Layout != "":
		l := i.Layout
		if i.Decrypted {
			l += " [decrypted]"
		}
		d = append(d, l)
	case i.Encrypted:
		d = append(d, "<encrypted>")
	}
	if i.SEQ != nil {
		d = append(d, fmt.Sprintf("SEQ %d", *i.SEQ))
	}
	if i.GDOIVersion != "" {
		v := "GDOI " + i.GDOIVersion
		if len(i.GDOIFeatures) > 0 {
			v += " [" + strings.Join(i.GDOIFeatures, ",") + "]"
		}
		d = append(d, v)
	}
	if i.ANN != nil {
		d = append(d, fmt.Sprintf("ANN %+v, %d members", *i.ANN, i.Members))
	}
	if i.DecryptError != "" {
		d = append(d, "NOT DECRYPTED: "+i.DecryptError)
		r.Hot = true
	}
	if i.MessageID != 0 {
		d = append(d, fmt.Sprintf("id 0x%08x", i.MessageID))
	}
	d = append(d, fmt.Sprintf("frame %d", p.Index))
	r.Detail = strings.Join(d, "; ")
	// A PUSH, or an Informational (notifications, deletes), is what a
	// reviewer looks for between the registrations.
	if !i.Repeat && (i.Type == 33 || i.Type == 5) {
		r.Hot = true
	}
	return r
}

// event is one entry of events.json, as getvpnd's control socket serves
// it.
type event struct {
	Seq      int               `json:"seq"`
	Time     time.Time         `json:"time"`
	Name     string            `json:"name"`
	Facility string            `json:"facility"`
	Severity int               `json:"severity"`
	Message  string            `json:"message"`
	Fields   map[string]string `json:"fields"`
}

// addEvents adds a node's events; false when it has no events.json to read.
func (b *base) addEvents(node, path string) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var evs []event
	if err := json.Unmarshal(raw, &evs); err != nil {
		b.notes = append(b.notes, fmt.Sprintf("%s/events.json: %v", node, err))
		return false
	}
	for _, e := range evs {
		if e.Time.IsZero() {
			continue
		}
		what := e.Name
		if e.Facility != "" {
			what = fmt.Sprintf("%%%s-%d-%s", e.Facility, e.Severity, e.Name)
		}
		b.rows = append(b.rows, &row{T: e.Time, Kind: kindEvent, Where: node, What: what, Detail: e.Message, Hot: e.Severity <= 4})
	}
	return true
}

// logLine is one line of a node's JSON log (getvpnd's slog output).
type logLine struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Event string    `json:"event"`
	Msg   string    `json:"msg"`
}

// addLog adds a node's log lines that are not events already read from
// events.json (all of them when there was none). Lines that are not JSON
// (another implementation's log) carry no time and stay in the file.
func (b *base) addLog(node, path string, haveEvents bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var l logLine
		if json.Unmarshal(line, &l) != nil || l.Time.IsZero() {
			continue
		}
		if l.Event != "" && haveEvents {
			continue
		}
		kind := kindLog
		if l.Event != "" {
			kind = kindEvent
		}
		lvl := strings.ToLower(l.Level)
		b.rows = append(b.rows, &row{T: l.Time, Kind: kind, Where: node, What: lvl, Detail: l.Msg, Hot: lvl == "warn" || lvl == "error"})
	}
}
