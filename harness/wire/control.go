package wire

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// The control API, HTTP and JSON on the wire node's unix socket
// (/run/getlab-wire/control.sock), the way the bench drives a daemon:
//
//	GET  /v1/rules                 the rules in force (JSON)
//	PUT  /v1/rules                 replace them (YAML or JSON body)
//	GET  /v1/stats                 counters, holds, frames each rule took
//	POST /v1/release?hold=H&n=N    send N (all when absent) held frames now
//	POST /v1/discard?hold=H        drop what H holds
//	POST /v1/keys                  key log records (text), to read GDOI fields
//	POST /v1/flush                 write the decision log out
//
// Client is its Go client.

// Handler serves the control API.
func (w *Wire) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/rules", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, w.e.Rules())
	})
	mux.HandleFunc("PUT /v1/rules", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			fail(rw, http.StatusBadRequest, err)
			return
		}
		rules, err := ParseRules(body, "rules")
		if err != nil {
			fail(rw, http.StatusBadRequest, err)
			return
		}
		w.e.SetRules(rules)
		reply(rw, w.e.Rules())
	})
	mux.HandleFunc("GET /v1/stats", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, StatsReply{Stats: w.e.Stats(), Refused: w.Refused()})
	})
	mux.HandleFunc("POST /v1/release", func(rw http.ResponseWriter, r *http.Request) {
		n := 0
		if s := r.URL.Query().Get("n"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				fail(rw, http.StatusBadRequest, fmt.Errorf("n=%q: %w", s, err))
				return
			}
			n = v
		}
		reply(rw, map[string]int{"released": w.Release(r.URL.Query().Get("hold"), n)})
	})
	mux.HandleFunc("POST /v1/discard", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, map[string]int{"discarded": w.e.Discard(r.URL.Query().Get("hold"))})
	})
	mux.HandleFunc("POST /v1/keys", func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err == nil {
			err = w.e.AddKeys(string(body))
		}
		if err != nil {
			fail(rw, http.StatusBadRequest, err)
			return
		}
		reply(rw, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /v1/flush", func(rw http.ResponseWriter, r *http.Request) {
		if err := w.FlushLog(); err != nil {
			fail(rw, http.StatusInternalServerError, err)
			return
		}
		reply(rw, map[string]bool{"ok": true})
	})
	return mux
}

// StatsReply is GET /v1/stats: the engine's counters and the frames the
// kernel refused to send, by output port.
type StatsReply struct {
	Stats
	Refused [2]uint64 `json:"refused"`
}

func reply(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

func fail(rw http.ResponseWriter, code int, err error) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": err.Error()})
}
