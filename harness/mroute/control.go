package mroute

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// NodeControlSocket is where a router node's control socket is (its
// node's private /run).
const NodeControlSocket = "/run/getlab-mrouter/control.sock"

// State is what the control socket shows: the routes with their
// counters, the multicast packets no route took and the frames an
// interface refused.
type State struct {
	Interfaces []string          `json:"interfaces"`
	Routes     []RouteStats      `json:"routes"`
	Unrouted   map[string]uint64 `json:"unrouted"`
	SendErrors map[string]uint64 `json:"send_errors"`
}

// Handler serves the control API of r:
//
//	GET  /v1/state          State
//	POST /v1/routes         add a Route (smcroutectl add)
//	POST /v1/routes/remove  remove the route of a Key (smcroutectl remove)
func Handler(r *Router) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, State{Interfaces: r.Interfaces(), Routes: r.Table.Routes(), Unrouted: r.Table.Unrouted(), SendErrors: r.SendErrors()})
	})
	mux.HandleFunc("POST /v1/routes", func(w http.ResponseWriter, req *http.Request) {
		var rt Route
		if err := readJSON(req, &rt); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := ParseRoute(append([]string{rt.In, prefixString(rt.Group)}, rt.Out...), false); err != nil || !rt.Group.IsValid() {
			http.Error(w, fmt.Sprintf("route %s: %v", rt, err), http.StatusBadRequest)
			return
		}
		for _, o := range append([]string{rt.In}, rt.Out...) {
			if r.ifs[o] == nil {
				http.Error(w, fmt.Sprintf("%s is not an interface of the router", o), http.StatusBadRequest)
				return
			}
		}
		r.Table.Add(rt)
		r.log("added %s", rt)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/routes/remove", func(w http.ResponseWriter, req *http.Request) {
		var k Key
		if err := readJSON(req, &k); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !r.Table.Remove(k) {
			http.Error(w, "no such route", http.StatusNotFound)
			return
		}
		r.log("removed (%v, %v) from %s", k.Source, k.Group, k.In)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func readJSON(req *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(req.Body, 1<<16))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Client talks to a router's control socket.
type Client struct {
	hc *http.Client
}

// NewClient reaches the control socket at path (from the host:
// /proc/<pid>/root + NodeControlSocket).
func NewClient(path string) *Client {
	return &Client{hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

// State reads the router's routes and counters.
func (c *Client) State(ctx context.Context) (*State, error) {
	var s State
	return &s, c.do(ctx, http.MethodGet, "/v1/state", nil, &s)
}

// Add installs a route.
func (c *Client) Add(ctx context.Context, r Route) error {
	return c.do(ctx, http.MethodPost, "/v1/routes", r, nil)
}

// Remove deletes the route of k.
func (c *Client) Remove(ctx context.Context, k Key) error {
	return c.do(ctx, http.MethodPost, "/v1/routes/remove", k, nil)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://mroute"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("mroute control: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("mroute control: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
