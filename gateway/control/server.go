package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultSocket is where getvpnd listens and getctl dials by default.
const DefaultSocket = "/run/getvpnd/control.sock"

// MaxWait is the longest GET /v1/events?wait= holds a request open.
const MaxWait = 30 * time.Second

// Provider is what the daemon exposes through the control socket. Its
// methods are called from the server's goroutines, concurrently.
type Provider interface {
	GDOI() GDOI
	Members() []Member
	IKESAs() []IKESA
	Counters() map[string]uint64
}

// COOPProvider is a provider with cooperative key servers (a KS): the
// server then serves GET /v1/ks/coop.
type COOPProvider interface {
	COOP() []COOP
}

// FeaturesProvider is a provider that shows GDOI versions and features:
// the server then serves GET /v1/gdoi/feature.
type FeaturesProvider interface {
	Features() Features
}

// RekeyProvider is a provider whose operator can trigger a rekey (a KS):
// the server then serves POST /v1/ks/rekey with {"group": "", "replace":
// "policy-replace" | "now"}. An error with a Refused() method is the
// operator's request refused (409), any other a bad request (400).
type RekeyProvider interface {
	Rekey(group, replace string) ([]string, error)
}

// ClearProvider is a provider whose operator can clear its registrations
// and policies ("clear crypto gdoi" on a KS or a GM): POST /v1/clear
// with {"group": ""}.
type ClearProvider interface {
	Clear(group string) ([]string, error)
}

// DirectionProvider is a GM whose operator can set its groups' SA
// direction ("crypto gdoi gm ipsec direction"): POST /v1/gm/direction
// with {"group": "", "direction": "both" | "inbound-only" |
// "inbound-optional"}.
type DirectionProvider interface {
	SetDirection(group, dir string) ([]string, error)
}

// RemovalProvider is a KS whose operator can remove GMs ("clear crypto
// gdoi ks members [now]"): POST /v1/ks/members/clear with {"group": "",
// "now": false}.
type RemovalProvider interface {
	RemoveMembers(group string, now bool) (RemovalResult, error)
}

// ReloadProvider is a daemon that rereads its configuration file without
// a restart: POST /v1/reload (and SIGHUP).
type ReloadProvider interface {
	Reload() (ReloadResult, error)
}

// GroupRequest is the body of the POST endpoints that act on every group
// or one.
type GroupRequest struct {
	Group     string `json:"group,omitempty"`
	Direction string `json:"direction,omitempty"`
	Now       bool   `json:"now,omitempty"`
}

// DirectionResult names the groups whose direction was set.
type DirectionResult struct {
	Set []string `json:"set"`
}

// ClearResult names the groups cleared.
type ClearResult struct {
	Cleared []string `json:"cleared"`
}

// RekeyRequest is POST /v1/ks/rekey's body; RekeyResult its answer.
type RekeyRequest struct {
	Group   string `json:"group,omitempty"`
	Replace string `json:"replace,omitempty"`
}

// RekeyResult names the groups rekeyed.
type RekeyResult struct {
	Rekeyed []string `json:"rekeyed"`
}

// providerAs finds T in p or, when p wraps another provider (an
// Unwrap() Provider method), in what it wraps.
func providerAs[T any](p Provider) (T, bool) {
	for {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(interface{ Unwrap() Provider })
		if !ok {
			var zero T
			return zero, false
		}
		p = u.Unwrap()
	}
}

// EventSource is the daemon's event log (*events.Log satisfies it).
type EventSource interface {
	// Since returns the events held with Seq > seq, oldest first.
	Since(seq uint64) []Event
	// Wait blocks until an event with Seq > seq exists or ctx is done.
	Wait(ctx context.Context, seq uint64)
}

// HandlerFunc serves one endpoint: the value it returns is written as the
// JSON response (nil: {"ok":true}); an error is written as {"error": ...}
// with the status of an *Error, or 500.
type HandlerFunc func(r *http.Request) (any, error)

// Error is an API error: the HTTP status and the message of the
// {"error": "..."} document. Handlers return it (see Errorf) to choose the
// status; Client methods return it (wrapped) for a non-2xx response.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Errorf returns an *Error with status and a formatted message.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Server is a running control socket.
type Server struct {
	path   string
	ln     *net.UnixListener
	hs     *http.Server
	p      Provider
	ev     EventSource
	sock   os.FileInfo // the socket file as created, to remove only ours
	cancel context.CancelFunc
	served chan struct{} // closed when hs.Serve returns

	mu     sync.RWMutex
	routes map[string]map[string]HandlerFunc // path -> method -> handler

	closeOnce sync.Once
	closeErr  error
}

// Serve listens on a unix socket at path and serves the control API until
// ctx is done or Close is called. It creates the socket's directory (0755),
// replaces a stale socket file (one nobody listens on; a live one is an
// error, and so is a file that is not a socket) and makes the socket 0660.
// ev may be nil (no events).
//
// Endpoints (all JSON):
//
//	GET /v1/health                 {"ok":true}
//	GET /v1/gdoi                   GDOI
//	GET /v1/ks/members             []Member
//	GET /v1/ike/sa                 []IKESA
//	GET /v1/counters               map[string]uint64
//	GET /v1/events?since=N&wait=S  []Event with Seq > N; with wait (seconds,
//	                               at most 30) and no such event yet, the
//	                               request waits for one that long
//
// An unknown path is 404 and a known path with another method 405, both with
// {"error": "..."}. Handle adds endpoints.
func Serve(ctx context.Context, path string, p Provider, ev EventSource) (*Server, error) {
	if p == nil {
		return nil, errors.New("control: serve: nil Provider")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control: serve: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, fmt.Errorf("control: serve: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: serve: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Close removes the file, if it is still ours
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("control: serve: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: serve: %w", err)
	}

	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		path:   path,
		ln:     ln,
		p:      p,
		ev:     ev,
		sock:   fi,
		cancel: cancel,
		served: make(chan struct{}),
		routes: map[string]map[string]HandlerFunc{},
	}
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	s.Handle(http.MethodGet, "/v1/health", func(*http.Request) (any, error) {
		return map[string]bool{"ok": true}, nil
	})
	s.Handle(http.MethodGet, "/v1/gdoi", func(*http.Request) (any, error) {
		g := s.p.GDOI()
		if g.Groups == nil {
			g.Groups = []GroupStatus{}
		}
		return g, nil
	})
	s.Handle(http.MethodGet, "/v1/ks/members", func(*http.Request) (any, error) {
		return nonNil(s.p.Members()), nil
	})
	s.Handle(http.MethodGet, "/v1/ike/sa", func(*http.Request) (any, error) {
		return nonNil(s.p.IKESAs()), nil
	})
	s.Handle(http.MethodGet, "/v1/counters", func(*http.Request) (any, error) {
		c := s.p.Counters()
		if c == nil {
			c = map[string]uint64{}
		}
		return c, nil
	})
	s.Handle(http.MethodGet, "/v1/events", s.events)
	if fp, ok := providerAs[FeaturesProvider](p); ok {
		s.Handle(http.MethodGet, "/v1/gdoi/feature", func(*http.Request) (any, error) {
			return fp.Features(), nil
		})
	}
	if rp, ok := providerAs[RekeyProvider](p); ok {
		s.Handle(http.MethodPost, "/v1/ks/rekey", func(r *http.Request) (any, error) {
			var req RekeyRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && err != io.EOF {
				return nil, Errorf(http.StatusBadRequest, "rekey request: %v", err)
			}
			if req.Replace == "" {
				req.Replace = "policy-replace"
			}
			done, err := rp.Rekey(req.Group, req.Replace)
			if err != nil {
				return nil, refusal(err)
			}
			return RekeyResult{Rekeyed: done}, nil
		})
	}
	if cp, ok := providerAs[ClearProvider](p); ok {
		s.Handle(http.MethodPost, "/v1/clear", func(r *http.Request) (any, error) {
			req, err := groupRequest(r)
			if err != nil {
				return nil, err
			}
			done, err := cp.Clear(req.Group)
			if err != nil {
				return nil, Errorf(http.StatusConflict, "%s", err)
			}
			return ClearResult{Cleared: done}, nil
		})
	}
	if dp, ok := providerAs[DirectionProvider](p); ok {
		s.Handle(http.MethodPost, "/v1/gm/direction", func(r *http.Request) (any, error) {
			req, err := groupRequest(r)
			if err != nil {
				return nil, err
			}
			done, err := dp.SetDirection(req.Group, req.Direction)
			if err != nil {
				return nil, refusal(err)
			}
			return DirectionResult{Set: done}, nil
		})
	}
	if rp, ok := providerAs[RemovalProvider](p); ok {
		s.Handle(http.MethodPost, "/v1/ks/members/clear", func(r *http.Request) (any, error) {
			req, err := groupRequest(r)
			if err != nil {
				return nil, err
			}
			res, err := rp.RemoveMembers(req.Group, req.Now)
			if err != nil {
				return nil, refusal(err)
			}
			return res, nil
		})
	}
	if rp, ok := providerAs[ReloadProvider](p); ok {
		s.Handle(http.MethodPost, "/v1/reload", func(r *http.Request) (any, error) {
			res, err := rp.Reload()
			if err != nil {
				return nil, refusal(err)
			}
			return res, nil
		})
	}
	if cp, ok := providerAs[COOPProvider](p); ok {
		s.Handle(http.MethodGet, "/v1/ks/coop", func(*http.Request) (any, error) {
			return nonNil(cp.COOP()), nil
		})
	}

	go func() {
		defer close(s.served)
		s.hs.Serve(ln)
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-base.Done():
		}
	}()
	return s, nil
}

// groupRequest reads a GroupRequest body (an empty body is every group).
func groupRequest(r *http.Request) (GroupRequest, error) {
	var req GroupRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && err != io.EOF {
		return req, Errorf(http.StatusBadRequest, "%s request: %v", r.URL.Path, err)
	}
	return req, nil
}

// refusal is an operator action's error as an HTTP error: refused (the
// error has a Refused method: 409) or a bad request (400).
func refusal(err error) error {
	if _, refused := err.(interface{ Refused() }); refused {
		return Errorf(http.StatusConflict, "%s", err)
	}
	return Errorf(http.StatusBadRequest, "%s", err)
}

// removeStale removes the socket file at path if nobody listens on it.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s: another process is listening on it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Handle adds (or replaces) the endpoint method path, for example
// Handle("POST", "/v1/ks/rekey", fn). It may be called while serving.
func (s *Server) Handle(method, path string, fn HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.routes[path]
	if m == nil {
		m = map[string]HandlerFunc{}
		s.routes[path] = m
	}
	m[strings.ToUpper(method)] = fn
}

// Close stops serving (waking long polls), and removes the socket file if it
// is still the one Serve created. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.hs.Shutdown(ctx); err != nil {
			s.hs.Close()
		}
		<-s.served
		if fi, err := os.Lstat(s.path); err == nil && os.SameFile(fi, s.sock) {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.closeErr = fmt.Errorf("control: close: %w", err)
			}
		}
	})
	return s.closeErr
}

// ServeHTTP routes a request to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	m, ok := s.routes[r.URL.Path]
	var fn HandlerFunc
	var allowed []string
	if ok {
		fn = m[r.Method]
		if fn == nil && r.Method == http.MethodHead {
			fn = m[http.MethodGet]
		}
		if fn == nil {
			for k := range m {
				allowed = append(allowed, k)
			}
		}
	}
	s.mu.RUnlock()
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, errorDoc{"no such endpoint: " + r.URL.Path})
		return
	case fn == nil:
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorDoc{fmt.Sprintf(
			"method %s not allowed for %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", "))})
		return
	}
	v, err := call(fn, r)
	if err != nil {
		status := http.StatusInternalServerError
		var ae *Error
		if errors.As(err, &ae) && ae.Status != 0 {
			status = ae.Status
			writeJSON(w, status, errorDoc{ae.Message})
			return
		}
		writeJSON(w, status, errorDoc{err.Error()})
		return
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	writeJSON(w, http.StatusOK, v)
}

// call runs fn, turning a panic into an error: a bad provider must not take
// the daemon down.
func call(fn HandlerFunc, r *http.Request) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn(r)
}

func (s *Server) events(r *http.Request) (any, error) {
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, "since: %q is not a sequence number", v)
		}
		since = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f != f {
			return nil, Errorf(http.StatusBadRequest, "wait: %q is not a number of seconds", v)
		}
		wait = MaxWait
		if f < MaxWait.Seconds() {
			wait = time.Duration(f * float64(time.Second))
		}
	}
	if s.ev == nil {
		return []Event{}, nil
	}
	evs := s.ev.Since(since)
	if len(evs) == 0 && wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		s.ev.Wait(ctx, since)
		cancel()
		evs = s.ev.Since(since)
	}
	return nonNil(evs), nil
}

type errorDoc struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = marshal(errorDoc{"encode response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
