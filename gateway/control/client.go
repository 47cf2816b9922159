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
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a Client request whose context has no deadline
// (for Events, on top of the wait).
const DefaultTimeout = 10 * time.Second

// Client talks to a daemon's control socket. The bench reaches a node's
// socket through /proc/<pid>/root/run/getvpnd/control.sock: the path is all
// a Client needs. A Client is safe for concurrent use.
type Client struct {
	path string
	hc   *http.Client
	// Timeout bounds each request whose context has no deadline
	// (DefaultTimeout when 0).
	Timeout time.Duration
}

// Dial returns a Client for the socket at path. It does not connect: each
// request dials (or reuses an idle connection), so a Client outlives daemon
// restarts.
func Dial(path string) *Client {
	c := &Client{path: path}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	c.hc = &http.Client{Transport: tr}
	return c
}

// Path returns the socket path.
func (c *Client) Path() string { return c.path }

// CloseIdleConnections closes the Client's idle connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// GDOI returns GET /v1/gdoi.
func (c *Client) GDOI(ctx context.Context) (GDOI, error) {
	var g GDOI
	err := c.Get(ctx, "/v1/gdoi", &g)
	return g, err
}

// Members returns GET /v1/ks/members.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var m []Member
	err := c.Get(ctx, "/v1/ks/members", &m)
	return m, err
}

// Rekey sends POST /v1/ks/rekey: a triggered rekey of group (every group
// when ""), replace "policy-replace" or "now".
func (c *Client) Rekey(ctx context.Context, group, replace string) (RekeyResult, error) {
	var r RekeyResult
	err := c.Post(ctx, "/v1/ks/rekey", RekeyRequest{Group: group, Replace: replace}, &r)
	return r, err
}

// Clear sends POST /v1/clear: "clear crypto gdoi" on a key server or a
// group member for group (every group when "").
func (c *Client) Clear(ctx context.Context, group string) (ClearResult, error) {
	var r ClearResult
	err := c.Post(ctx, "/v1/clear", GroupRequest{Group: group}, &r)
	return r, err
}

// SetDirection sends POST /v1/gm/direction: "crypto gdoi gm [group G]
// ipsec direction dir" on a group member.
func (c *Client) SetDirection(ctx context.Context, group, dir string) (DirectionResult, error) {
	var r DirectionResult
	err := c.Post(ctx, "/v1/gm/direction", GroupRequest{Group: group, Direction: dir}, &r)
	return r, err
}

// RemoveMembers sends POST /v1/ks/members/clear: "clear crypto gdoi [group
// G] ks members [now]" on a primary key server.
func (c *Client) RemoveMembers(ctx context.Context, group string, now bool) (RemovalResult, error) {
	var r RemovalResult
	err := c.Post(ctx, "/v1/ks/members/clear", GroupRequest{Group: group, Now: now}, &r)
	return r, err
}

// Reload sends POST /v1/reload: the daemon rereads its configuration.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var r ReloadResult
	err := c.Post(ctx, "/v1/reload", nil, &r)
	return r, err
}

// Features returns GET /v1/gdoi/feature.
func (c *Client) Features(ctx context.Context) (Features, error) {
	var f Features
	err := c.Get(ctx, "/v1/gdoi/feature", &f)
	return f, err
}

// COOP returns GET /v1/ks/coop.
func (c *Client) COOP(ctx context.Context) ([]COOP, error) {
	var s []COOP
	err := c.Get(ctx, "/v1/ks/coop", &s)
	return s, err
}

// IKESAs returns GET /v1/ike/sa.
func (c *Client) IKESAs(ctx context.Context) ([]IKESA, error) {
	var s []IKESA
	err := c.Get(ctx, "/v1/ike/sa", &s)
	return s, err
}

// Counters returns GET /v1/counters.
func (c *Client) Counters(ctx context.Context) (map[string]uint64, error) {
	var m map[string]uint64
	err := c.Get(ctx, "/v1/counters", &m)
	return m, err
}

// Events returns the events with Seq > since. With wait > 0 and no such
// event yet, the daemon holds the request until one is emitted or wait
// (at most MaxWait) has passed, and Events returns what there is then
// (possibly nothing).
func (c *Client) Events(ctx context.Context, since uint64, wait time.Duration) ([]Event, error) {
	p := "/v1/events?since=" + strconv.FormatUint(since, 10)
	if wait > 0 {
		if wait > MaxWait {
			wait = MaxWait
		}
		p += "&wait=" + strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)
	}
	var evs []Event
	err := c.do(ctx, http.MethodGet, p, nil, &evs, wait)
	return evs, err
}

// Health returns nil when the daemon answers GET /v1/health with ok.
func (c *Client) Health(ctx context.Context) error {
	var h struct {
		OK bool `json:"ok"`
	}
	if err := c.Get(ctx, "/v1/health", &h); err != nil {
		return err
	}
	if !h.OK {
		return fmt.Errorf("control %s: GET /v1/health: daemon reports not ok", c.path)
	}
	return nil
}

// Get does GET path (an API path, "/v1/gdoi", with any query) and decodes
// the JSON response into v (nil: discard it).
func (c *Client) Get(ctx context.Context, path string, v any) error {
	return c.do(ctx, http.MethodGet, path, nil, v, 0)
}

// Post does POST path with body as JSON (nil: no body) and decodes the JSON
// response into v (nil: discard it).
func (c *Client) Post(ctx context.Context, path string, body, v any) error {
	return c.do(ctx, http.MethodPost, path, body, v, 0)
}

// do runs one request; extra is added to the default timeout.
func (c *Client) do(ctx context.Context, method, path string, body, v any, extra time.Duration) error {
	fail := func(err error) error {
		return fmt.Errorf("control %s: %s %s: %w", c.path, method, path, err)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if _, ok := ctx.Deadline(); !ok {
		t := c.Timeout
		if t <= 0 {
			t = DefaultTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t+extra)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fail(err)
		}
		rd = bytes.NewReader(b)
	}
	u := &url.URL{Scheme: "http", Host: "getvpnd"}
	pth, q, _ := strings.Cut(path, "?")
	u.Path, u.RawQuery = pth, q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // "Get "http://getvpnd/...": " says nothing useful
		}
		return fail(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode/100 != 2 {
		var doc errorDoc
		if json.Unmarshal(data, &doc) != nil || doc.Error == "" {
			doc.Error = strings.TrimSpace(string(data))
			if doc.Error == "" {
				doc.Error = http.StatusText(resp.StatusCode)
			}
		}
		return fail(&Error{Status: resp.StatusCode, Message: doc.Error})
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fail(fmt.Errorf("decode response: %w", err))
	}
	return nil
}
