package events

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/show"
)

// DefaultRing is how many events a Log keeps for Since unless SetCapacity
// says otherwise.
const DefaultRing = 4096

// Facility and severity of an event whose name is not in the catalogue.
const (
	UnknownFacility = "GETVPND"
	UnknownSeverity = 5
)

// Levels, as New and Logf take them.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// TimeFormat is how log lines print the time (always UTC).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// DefaultRateLimit is how many events of one name a Log writes (and keeps in
// its ring) per second unless SetRateLimit says otherwise; it lets DefaultBurst
// of them through at once.
const (
	DefaultRateLimit = 10
	DefaultBurst     = 2 * DefaultRateLimit
)

// SuppressedField is the field an event carries when events of its name were
// suppressed since the last one logged: how many.
const SuppressedField = "suppressed"

// Log is the daemon's event log: it writes one line per event (JSON or
// text) to its writer, filtered by level, and keeps the last events in a
// ring for the control socket (GET /v1/events), unfiltered. A Log is safe
// for concurrent use.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	json   bool
	min    int // lowest level rank written
	now    func() time.Time
	seq    uint64
	ring   []show.Event // circular; ring[(head+i)%len] is the i-th oldest
	head   int
	n      int
	notify chan struct{} // closed by the next Emit; nil when nobody waits
	buf    []byte
	counts Counters

	// Rate limit per event name: a peer that sends garbage must not fill
	// the disk or push the ring's other events out.
	rate, burst float64 // events a second, bucket size; rate 0: no limit
	limits      map[string]*limiter
	suppressed  Counters  // per name, since the Log was made
	sink        *Counters // also counts log_suppressed_<name>, when set
}

// limiter is one event name's token bucket.
type limiter struct {
	tokens  float64
	last    time.Time
	pending uint64 // suppressed since the last event logged
}

// New returns a Log writing to w (nil: nowhere) in format "json" or "text"
// (anything else: text), writing events at level and above ("debug", "info",
// "warn", "error"; anything else: "info").
func New(w io.Writer, format string, level string) *Log {
	if w == nil {
		w = io.Discard
	}
	rank, ok := levelRank(level)
	if !ok {
		rank, _ = levelRank(LevelInfo)
	}
	return &Log{
		w:     w,
		json:  strings.EqualFold(format, "json"),
		min:   rank,
		now:   time.Now,
		ring:  make([]show.Event, DefaultRing),
		rate:  DefaultRateLimit,
		burst: DefaultBurst,
	}
}

// SetRateLimit makes the Log write, and keep in its ring, at most perSecond
// events of one name a second, burst at once (burst < 1: perSecond);
// perSecond 0 lifts the limit. Counts stay exact whatever is suppressed.
func (l *Log) SetRateLimit(perSecond, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.burst = float64(max(perSecond, 0)), float64(burst)
	if burst < 1 {
		l.burst = float64(perSecond)
	}
	l.limits = nil
}

// CountSuppressed makes the Log also count, in c, the events it suppresses
// as log_suppressed_<name in lower case> (the daemon's GET /v1/counters).
func (l *Log) CountSuppressed(c *Counters) {
	l.mu.Lock()
	l.sink = c
	l.mu.Unlock()
}

// Suppressed returns how many events of each name the rate limit has kept
// out of the log and the ring since the Log was made.
func (l *Log) Suppressed() map[string]uint64 { return l.suppressed.Snapshot() }

// admit applies the rate limit to one event of name at now, which stands
// for 1+carried events (an emitter that limits itself passes its own
// suppressed count on); it returns whether to log it and, if so, how many
// were suppressed before it. l.mu is held.
func (l *Log) admit(name string, now time.Time, carried uint64) (bool, uint64) {
	if l.rate <= 0 {
		return true, carried
	}
	lim := l.limits[name]
	if lim == nil {
		if l.limits == nil {
			l.limits = map[string]*limiter{}
		}
		lim = &limiter{tokens: l.burst, last: now}
		l.limits[name] = lim
	}
	if dt := now.Sub(lim.last).Seconds(); dt > 0 {
		lim.tokens = min(l.burst, lim.tokens+dt*l.rate)
	}
	lim.last = now
	if lim.tokens < 1 {
		lim.pending += 1 + carried
		l.suppressed.add(name, 1+carried)
		if l.sink != nil {
			l.sink.add("log_suppressed_"+strings.ToLower(name), 1+carried)
		}
		return false, 0
	}
	lim.tokens--
	n := lim.pending + carried
	lim.pending = 0
	return true, n
}

// SetClock makes the Log take event times from now (tests).
func (l *Log) SetClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

// SetLevel changes the level filter; it reports whether level is valid.
func (l *Log) SetLevel(level string) bool {
	rank, ok := levelRank(level)
	if ok {
		l.mu.Lock()
		l.min = rank
		l.mu.Unlock()
	}
	return ok
}

// SetCapacity makes the ring keep the last n events (n < 1: 1), keeping the
// newest of those it holds.
func (l *Log) SetCapacity(n int) {
	if n < 1 {
		n = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := l.n
	if keep > n {
		keep = n
	}
	ring := make([]show.Event, n)
	for i := 0; i < keep; i++ {
		ring[i] = l.ring[(l.head+l.n-keep+i)%len(l.ring)]
	}
	l.ring, l.head, l.n = ring, 0, keep
}

// Emit logs the catalogue event name with fields, given as key, value pairs
// ("ks", "192.0.2.1", "group", "GETVPN"). The message comes from the
// catalogue; a name the catalogue does not know is still logged, with
// facility GETVPND, severity 5 and the name and fields as its message. Emit
// returns the event as the ring holds it; its Fields map is shared with the
// ring and must not be modified.
//
// Events of one name beyond the rate limit (SetRateLimit) are counted
// (Counts, Suppressed) but neither written nor kept in the ring; Emit then
// returns the event with Seq 0. The next one logged carries the field
// "suppressed" with how many were dropped in between. An event that already
// carries "suppressed" (an emitter that limits itself) stands for that many
// more.
func (l *Log) Emit(name string, fields ...string) show.Event {
	fm, order := pairs(fields)
	def, known := Lookup(name)
	ev := show.Event{Fields: fm}
	if known {
		ev.Name, ev.Facility, ev.Severity = def.Name, def.Facility, def.Severity
		ev.Message = def.Render(fm)
	} else {
		ev.Name, ev.Facility, ev.Severity = name, UnknownFacility, UnknownSeverity
		ev.Message = string(appendKV(append([]byte(nil), name...), order, fm))
	}
	l.counts.add(ev.Name, 1)
	var carried uint64
	if v, ok := fm[SuppressedField]; ok {
		carried, _ = strconv.ParseUint(v, 10, 64)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	ev.Time = l.now()
	ok, n := l.admit(ev.Name, ev.Time, carried)
	if !ok {
		return ev
	}
	if n > carried {
		if fm == nil {
			fm = map[string]string{}
			ev.Fields = fm
		}
		if _, had := fm[SuppressedField]; !had {
			order = append(order, SuppressedField)
		}
		fm[SuppressedField] = strconv.FormatUint(n, 10)
		if !known {
			ev.Message = string(appendKV(append([]byte(nil), name...), order, fm))
		}
	}
	l.seq++
	ev.Seq = l.seq
	if l.n < len(l.ring) {
		l.ring[(l.head+l.n)%len(l.ring)] = ev
		l.n++
	} else {
		l.ring[l.head] = ev
		l.head = (l.head + 1) % len(l.ring)
	}
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	if rank := severityRank(ev.Severity); rank >= l.min {
		l.writeEvent(ev, order, rank, known)
	}
	return ev
}

// Logf writes a free-text line that is not a catalogue event (level "debug",
// "info", "warn" or "error"), subject to the level filter. It does not go
// into the ring.
func (l *Log) Logf(level, format string, args ...any) {
	rank, ok := levelRank(level)
	if !ok {
		rank, _ = levelRank(LevelInfo)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if rank < l.min {
		return
	}
	msg := fmt.Sprintf(format, args...)
	t := l.now().UTC()
	b := l.buf[:0]
	if l.json {
		b = appendJSONHead(b, t, rank)
		b = append(b, `,"event":"","msg":`...)
		b = appendJSONString(b, msg)
		b = append(b, "}\n"...)
	} else {
		b = t.AppendFormat(b, TimeFormat)
		b = append(b, ' ')
		b = append(b, levelNames[rank]...)
		b = append(b, ": "...)
		b = append(b, strings.ReplaceAll(msg, "\n", " ")...)
		b = append(b, '\n')
	}
	l.w.Write(b)
	l.buf = b
}

// Since returns the events in the ring with Seq > seq, oldest first (an
// empty, non-nil slice when there are none).
func (l *Log) Since(seq uint64) []show.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := l.seq - uint64(l.n) + 1 // Seq of the oldest event held
	skip := 0
	if seq >= oldest {
		if seq >= l.seq {
			return []show.Event{}
		}
		skip = int(seq - oldest + 1)
	}
	out := make([]show.Event, 0, l.n-skip)
	for i := skip; i < l.n; i++ {
		out = append(out, l.ring[(l.head+i)%len(l.ring)])
	}
	return out
}

// Wait blocks until an event with Seq > seq has been emitted or ctx is done.
func (l *Log) Wait(ctx context.Context, seq uint64) {
	for {
		l.mu.Lock()
		if l.seq > seq {
			l.mu.Unlock()
			return
		}
		if l.notify == nil {
			l.notify = make(chan struct{})
		}
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Last returns the sequence number of the last event emitted (0: none).
func (l *Log) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Counts returns how many times each event name has been emitted since the
// Log was made (the ring forgets; these do not).
func (l *Log) Counts() map[string]uint64 { return l.counts.Snapshot() }

// Line returns an event as Cisco prints it:
// "%GDOI-5-GM_REGS_COMPL: Registration to KS 192.0.2.1 complete ...".
func Line(e show.Event) string {
	return "%" + e.Facility + "-" + strconv.Itoa(e.Severity) + "-" + e.Name + ": " + e.Message
}

// Level returns the log level of a Cisco severity: 0-3 error, 4 warn, 5-6
// info, 7 debug.
func Level(severity int) string { return levelNames[severityRank(severity)] }

var levelNames = [...]string{LevelDebug, LevelInfo, LevelWarn, LevelError}

func levelRank(level string) (int, bool) {
	switch strings.ToLower(level) {
	case LevelDebug:
		return 0, true
	case LevelInfo:
		return 1, true
	case LevelWarn, "warning":
		return 2, true
	case LevelError:
		return 3, true
	}
	return 0, false
}

func severityRank(sev int) int {
	switch {
	case sev <= 3:
		return 3
	case sev == 4:
		return 2
	case sev <= 6:
		return 1
	}
	return 0
}

// reserved are the JSON line's own keys; a field with one of these names is
// written as "field_<name>".
var reserved = map[string]bool{
	"time": true, "level": true, "seq": true, "event": true,
	"facility": true, "severity": true, "msg": true,
}

// appendJSONHead opens a JSON line with its time and level, the fields
// every line starts with.
func appendJSONHead(b []byte, t time.Time, rank int) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONString(b, t.Format(TimeFormat))
	b = append(b, `,"level":`...)
	return appendJSONString(b, levelNames[rank])
}

// writeEvent writes ev's line; l.mu is held.
func (l *Log) writeEvent(ev show.Event, order []string, rank int, known bool) {
	t := ev.Time.UTC()
	b := l.buf[:0]
	if l.json {
		b = appendJSONHead(b, t, rank)
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, ev.Seq, 10)
		b = append(b, `,"event":`...)
		b = appendJSONString(b, ev.Name)
		b = append(b, `,"facility":`...)
		b = appendJSONString(b, ev.Facility)
		b = append(b, `,"severity":`...)
		b = strconv.AppendInt(b, int64(ev.Severity), 10)
		b = append(b, `,"msg":`...)
		b = appendJSONString(b, Line(ev))
		for _, k := range order {
			b = append(b, ',')
			if reserved[k] {
				b = appendJSONString(b, "field_"+k)
			} else {
				b = appendJSONString(b, k)
			}
			b = append(b, ':')
			b = appendJSONString(b, ev.Fields[k])
		}
		b = append(b, "}\n"...)
	} else {
		b = t.AppendFormat(b, TimeFormat)
		b = append(b, ' ')
		b = append(b, strings.ReplaceAll(Line(ev), "\n", " ")...)
		if known {
			b = appendKV(b, order, ev.Fields)
		}
		b = append(b, '\n')
	}
	l.w.Write(b)
	l.buf = b
}

// pairs turns key, value pairs into a map and the keys in order of first
// appearance (a later value for a key replaces the earlier one). A trailing
// key without a value is kept as the value of "!BADKEY", as log/slog does.
func pairs(kv []string) (map[string]string, []string) {
	if len(kv) == 0 {
		return nil, nil
	}
	m := make(map[string]string, (len(kv)+1)/2)
	order := make([]string, 0, (len(kv)+1)/2)
	add := func(k, v string) {
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		add(kv[i], kv[i+1])
	}
	if len(kv)%2 == 1 {
		add("!BADKEY", kv[len(kv)-1])
	}
	return m, order
}

// appendKV appends " k=v" for each key, quoting values that need it.
func appendKV(b []byte, order []string, m map[string]string) []byte {
	for _, k := range order {
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		v := m[k]
		if needsQuote(v) {
			b = strconv.AppendQuote(b, v)
		} else {
			b = append(b, v...)
		}
	}
	return b
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '=' || r == '\\' || r == utf8.RuneError || r == 0x7f {
			return true
		}
	}
	return false
}

// appendJSONString appends s as a JSON string (invalid UTF-8 becomes
// U+FFFD; no HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// Counters is a set of named counters, safe for concurrent use. The zero
// value is an empty set; a Counters must not be copied after first use.
type Counters struct {
	mu sync.RWMutex
	m  map[string]*atomic.Uint64
}

// Add adds n to the counter.
func (c *Counters) Add(k counter.Name, n uint64) { c.add(k.String(), n) }

// add adds n to the counter name (creating it at 0): the event log's own
// counts, named after events.
func (c *Counters) add(name string, n uint64) {
	c.mu.RLock()
	v := c.m[name]
	c.mu.RUnlock()
	if v == nil {
		c.mu.Lock()
		if c.m == nil {
			c.m = make(map[string]*atomic.Uint64)
		}
		if v = c.m[name]; v == nil {
			v = new(atomic.Uint64)
			c.m[name] = v
		}
		c.mu.Unlock()
	}
	v.Add(n)
}

// Inc adds 1 to the counter.
func (c *Counters) Inc(k counter.Name) { c.add(k.String(), 1) }

// Get returns the counter (0 when it has never been added to).
func (c *Counters) Get(k counter.Name) uint64 { return c.get(k.String()) }

func (c *Counters) get(name string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if v := c.m[name]; v != nil {
		return v.Load()
	}
	return 0
}

// Snapshot returns a copy of every counter.
func (c *Counters) Snapshot() map[string]uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v.Load()
	}
	return out
}

// Names returns the counter names, sorted.
func (c *Counters) Names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.m))
	for k := range c.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
