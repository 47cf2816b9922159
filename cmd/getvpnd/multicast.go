package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"github.com/getlab/getlab/gateway/counter"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"golang.org/x/net/ipv4"
)

// Multicast rekeys (S0 §1.2.6.2, RK-15): the KS sends one GROUPKEY-PUSH to
// the group address; a GM joins the group on its registration interface
// (IGMP) as soon as a policy names it, and listens on a socket of its own,
// bound to the group address, because the GDOI socket is bound to the GM's
// unicast address and the kernel delivers a group's datagrams only to
// sockets bound to it or to the wildcard.

// rekeyGroups are the multicast groups a GM listens on.
type rekeyGroups struct {
	ctx     context.Context
	iface   func() (*net.Interface, error)
	handle  func(from netip.AddrPort, pkt []byte)
	ev      *events.Log
	counter *events.Counters

	mu     sync.Mutex
	joined map[netip.AddrPort]*net.UDPConn
}

// join listens on group (once): joins it on the registration interface and
// passes what arrives to handle until the daemon stops.
func (r *rekeyGroups) join(group netip.AddrPort) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.joined[group] != nil {
		return nil
	}
	ifi, err := r.iface()
	if err != nil {
		return err
	}
	conn, err := listenGroup(ifi, group)
	if err != nil {
		return fmt.Errorf("join %s on %s: %w", group, ifi.Name, err)
	}
	if r.joined == nil {
		r.joined = map[netip.AddrPort]*net.UDPConn{}
	}
	r.joined[group] = conn
	r.ev.Logf("info", "joined rekey group %s on %s", group, ifi.Name)
	go func() {
		<-r.ctx.Done()
		conn.Close()
	}()
	rx := &receiver{ev: r.ev, counters: r.counter, worker: "rekey-multicast", received: counter.MulticastPacketsReceived, handle: r.handle}
	go rx.serve(r.ctx, conn)
	return nil
}

// listenGroup opens a socket bound to the group address and port and joins
// the group on ifi. It binds with system calls: package net binds a
// multicast address as the wildcard, which collides with the GDOI socket on
// the same port.
func listenGroup(ifi *net.Interface, group netip.AddrPort) (*net.UDPConn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "rekey-group")
	defer f.Close()
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return nil, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(group.Port()), Addr: group.Addr().As4()}); err != nil {
		return nil, fmt.Errorf("bind %s: %w", group, err)
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	conn := c.(*net.UDPConn)
	if err := ipv4.NewPacketConn(conn).JoinGroup(ifi, &net.UDPAddr{IP: group.Addr().AsSlice()}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// interfaceOf returns the interface named name, or the one that holds
// addr when name is empty.
func interfaceOf(name string, addr netip.Addr) (*net.Interface, error) {
	if name != "" {
		return net.InterfaceByName(name)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no interface holds %s", addr)
}

// multicastSender sets a KS's GDOI socket up for multicast rekeys: a TTL
// that crosses a routed core (S0 §3.5.14.2 runs PIM between sites), and no
// copy looped back to the KS itself. The TTL is the interop profiles'
// (16 under rfc, gdoid's 64 under gdoid); the socket is shared by every
// group, so the largest wins.
// multicastTTL is the largest multicast TTL of the groups' interop
// profiles.
func multicastTTL(cfg *config.Config) int {
	ttl := gdoi.InteropRFC.MulticastTTL
	for _, g := range cfg.Groups {
		if ip, ok := gdoi.InteropByName(g.InteropProfile); ok {
			ttl = max(ttl, ip.MulticastTTL)
		}
	}
	return ttl
}

func multicastSender(conn *net.UDPConn, ttl int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, ttl); serr != nil {
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_LOOP, 0)
	})
	return errors.Join(err, serr)
}
