package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// NodeControlSocket is where a wire node serves its control API.
const NodeControlSocket = "/run/getlab-wire/control.sock"

// Client talks to a wire's control API over its unix socket (from the
// bench: /proc/<pid>/root/run/getlab-wire/control.sock).
type Client struct {
	hc *http.Client
}

// Dial returns a client of the socket at path (connections are made per
// call).
func Dial(path string) *Client {
	return &Client{hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

func (c *Client) do(ctx context.Context, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://wire"+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("wire control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		return fmt.Errorf("wire control %s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// SetRules replaces the wire's rules with rules (YAML or JSON).
func (c *Client) SetRules(ctx context.Context, rules string) error {
	return c.do(ctx, http.MethodPut, "/v1/rules", rules, nil)
}

// Rules reads the rules in force (GET /v1/rules): what the bench last set,
// with the seed its random choices come from.
func (c *Client) Rules(ctx context.Context) (Rules, error) {
	var r Rules
	err := c.do(ctx, http.MethodGet, "/v1/rules", "", &r)
	return r, err
}

// Stats reads the wire's counters.
func (c *Client) Stats(ctx context.Context) (StatsReply, error) {
	var s StatsReply
	err := c.do(ctx, http.MethodGet, "/v1/stats", "", &s)
	return s, err
}

// Release sends up to n frames of hold now (all when n ≤ 0) and says how
// many it sent.
func (c *Client) Release(ctx context.Context, hold string, n int) (int, error) {
	var r struct{ Released int }
	q := url.Values{"hold": {hold}}
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
	}
	err := c.do(ctx, http.MethodPost, "/v1/release?"+q.Encode(), "", &r)
	return r.Released, err
}

// Discard drops what hold holds and says how many frames that was.
func (c *Client) Discard(ctx context.Context, hold string) (int, error) {
	var r struct{ Discarded int }
	err := c.do(ctx, http.MethodPost, "/v1/discard?"+url.Values{"hold": {hold}}.Encode(), "", &r)
	return r.Discarded, err
}

// AddKeys gives the wire key log records, so that it reads the GDOI
// fields of the messages they open.
func (c *Client) AddKeys(ctx context.Context, keylog string) error {
	return c.do(ctx, http.MethodPost, "/v1/keys", keylog, nil)
}

// Flush has the wire write out its decision log.
func (c *Client) Flush(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/flush", "", nil)
}
