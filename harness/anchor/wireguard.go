// Package anchor runs the reference data plane the benchmarks measure
// getvpnd against: wireguard-go, the user-space WireGuard whose TUN
// offloads and batched I/O set the bar for a Go data plane (issue 19),
// between the two GMs of a lab, on the same namespaces and veths.
package anchor

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/netns"
)

// Peer is one end of the tunnel: a node of the lab, the address it is
// reached at on the WAN, and the site behind it.
type Peer struct {
	Node string
	WAN  netip.Addr
	Site netip.Prefix
}

// Port is the UDP port both ends listen on (WireGuard's usual).
const Port = 51820

// MTU is the tunnel interfaces' MTU, wireguard-go's default: 1500 less
// 80 octets of IPv6, UDP and WireGuard overhead.
const MTU = 1420

// WireGuard is a running pair of wireguard-go processes.
type WireGuard struct {
	cancel context.CancelFunc
	done   []chan error
}

// StartWireGuard runs bin (a wireguard-go binary) in a's and b's nodes,
// keys them for each other through wireguard-go's configuration socket
// (the UAPI protocol wg(8) speaks, so no wireguard-tools are needed) and
// routes each site to the other through the tunnel, replacing the lab's
// plain routes. Stop ends both.
func StartWireGuard(lab *netns.Lab, bin string, a, b Peer) (*WireGuard, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &WireGuard{cancel: cancel}
	keys := map[string]*ecdh.PrivateKey{}
	for _, p := range []Peer{a, b} {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			w.Stop()
			return nil, err
		}
		keys[p.Node] = k
		done := make(chan error, 1)
		w.done = append(w.done, done)
		go func() {
			done <- lab.Exec(ctx, p.Node, []string{bin, "-f", ifName(p)}, nil, io.Discard, io.Discard)
		}()
	}
	for _, pair := range [][2]Peer{{a, b}, {b, a}} {
		self, peer := pair[0], pair[1]
		if err := w.configure(lab, self, peer, keys[self.Node], keys[peer.Node].PublicKey()); err != nil {
			w.Stop()
			return nil, fmt.Errorf("anchor: wireguard-go in %s: %w", self.Node, err)
		}
	}
	return w, nil
}

// ifName is the tunnel interface of p's node: names differ per node so
// that the configuration sockets, in /var/run/wireguard, cannot clash.
func ifName(p Peer) string { return "wg-" + p.Node }

// configure keys self's wireguard-go for peer through its UAPI socket,
// then brings the interface up and routes peer's site through it.
func (w *WireGuard) configure(lab *netns.Lab, self, peer Peer, priv *ecdh.PrivateKey, peerPub *ecdh.PublicKey) error {
	n := lab.Node(self.Node)
	if n == nil {
		return errors.New("no such node")
	}
	// /run, not /var/run: /var/run is an absolute symlink, which the
	// kernel would resolve against this process's root, not the node's.
	sock := fmt.Sprintf("/proc/%d/root/run/wireguard/%s.sock", n.Holder, ifName(self))
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			conn = c
			break
		}
		for _, d := range w.done {
			select {
			case err := <-d:
				return fmt.Errorf("exited before its socket was there: %v", err)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no configuration socket %s: %w", sock, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	conf := strings.Join([]string{
		"set=1",
		"private_key=" + hex.EncodeToString(priv.Bytes()),
		fmt.Sprintf("listen_port=%d", Port),
		"replace_peers=true",
		"public_key=" + hex.EncodeToString(peerPub.Bytes()),
		fmt.Sprintf("endpoint=%s", netip.AddrPortFrom(peer.WAN, Port)),
		"replace_allowed_ips=true",
		"allowed_ip=" + peer.Site.String(),
	}, "\n") + "\n\n"
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, conf); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if strings.TrimSpace(line) != "errno=0" {
		return fmt.Errorf("configuration refused: %s", strings.TrimSpace(line))
	}
	for _, argv := range [][]string{
		{"ip", "link", "set", ifName(self), "mtu", fmt.Sprint(MTU), "up"},
		{"ip", "route", "replace", peer.Site.String(), "dev", ifName(self)},
	} {
		var errb strings.Builder
		if err := lab.Exec(context.Background(), self.Node, argv, nil, io.Discard, &errb); err != nil {
			return fmt.Errorf("%s: %v %s", strings.Join(argv, " "), err, errb.String())
		}
	}
	return nil
}

// Stop ends both wireguard-go processes (their interfaces, and the routes
// through them, go with them).
func (w *WireGuard) Stop() {
	w.cancel()
	for _, d := range w.done {
		select {
		case <-d:
		case <-time.After(5 * time.Second):
		}
	}
}

// Bin is where `make bench` builds wireguard-go, $GETLAB_BIN (or bin/
// under root) / wireguard-go, as an absolute path: nodes run it from their
// own folders.
func Bin(root string) string {
	dir := os.Getenv("GETLAB_BIN")
	if dir == "" {
		dir = filepath.Join(root, "bin")
	}
	abs, err := filepath.Abs(filepath.Join(dir, "wireguard-go"))
	if err != nil {
		return filepath.Join(dir, "wireguard-go")
	}
	return abs
}
