// Package pcap captures a running topology's links to pcapng and decodes
// what crossed them: ISAKMP/GDOI messages through the project's codecs, ESP
// decrypted with a key log, as a packet model the suites assert on.
//
// Capture works on any runtime: a capture point is a network namespace path
// and an interface name, and the AF_PACKET socket is opened inside that
// namespace (a named netns or /proc/PID/ns/net of a container alike).
package pcap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/getlab/getlab/harness/topo"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Point is where one link is captured: one end of it.
type Point struct {
	// Name is the pcapng interface name, "node:iface" of the captured end.
	Name string
	// Description names the whole link, e.g. "gm1:eth1 -- core:gm1-eth1".
	Description string
	// NetNS is the namespace holding the captured end, Iface its name there.
	NetNS string
	Iface string
}

// Points returns one capture point per link of t. A link is captured at
// its first end that is not a bridge port, so the frames are seen as the
// node on that end sends and receives them (both ends of a veth see the same
// frames; capturing one avoids duplicates). netNS maps a node to its
// namespace path.
func Points(t *topo.Topology, netNS func(node string) (string, error)) ([]Point, error) {
	var pts []Point
	for _, l := range t.Links {
		end := l.A
		if n := t.Node(l.A.Node); n != nil && n.Kind == topo.KindBridge {
			end = l.B
		}
		ns, err := netNS(end.Node)
		if err != nil {
			return nil, err
		}
		pts = append(pts, Point{
			Name:        end.Node + ":" + end.Iface,
			Description: l.A.Node + ":" + l.A.Iface + " -- " + l.B.Node + ":" + l.B.Iface,
			NetNS:       ns,
			Iface:       end.Iface,
		})
	}
	return pts, nil
}

// Capture writes every frame seen on its points into one pcapng file, one
// interface block per point.
type Capture struct {
	path    string
	file    *os.File
	w       *pcapgo.NgWriter
	handles []*pcapgo.EthernetHandle
	vnet    []bool // the handle's frames come after a virtio-net header (gso.go)
	points  []Point
	frames  chan frame
	readers sync.WaitGroup
	writer  chan error
	syncs   chan chan synced // Sync's requests to the writer
	counts  []uint64
	stopped bool
}

type frame struct {
	intf int
	ci   gopacket.CaptureInfo
	data []byte
}

// Start opens a capture socket on every point and starts writing to path.
// When it returns, every socket is open: frames sent from then on are in
// the file.
func Start(path string, points []Point) (*Capture, error) {
	if len(points) == 0 {
		return nil, errors.New("pcap: nothing to capture")
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	c := &Capture{
		path:   path,
		file:   f,
		points: points,
		frames: make(chan frame, 4096),
		writer: make(chan error, 1),
		syncs:  make(chan chan synced),
		counts: make([]uint64, len(points)),
	}
	if err := c.open(); err != nil {
		c.closeHandles()
		f.Close()
		os.Remove(path)
		return nil, err
	}
	go func() { c.writer <- c.write() }()
	for i, h := range c.handles {
		c.readers.Add(1)
		go c.read(i, h)
	}
	return c, nil
}

func (c *Capture) open() error {
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "getlab"
	opts.SectionInfo.OS = runtime.GOOS
	for i, p := range c.points {
		intf := pcapgo.NgInterface{
			Name:                p.Name,
			Description:         p.Description,
			OS:                  runtime.GOOS,
			LinkType:            layers.LinkTypeEthernet,
			TimestampResolution: 9,
		}
		if i == 0 {
			w, err := pcapgo.NewNgWriterInterface(c.file, intf, opts)
			if err != nil {
				return fmt.Errorf("pcap: %w", err)
			}
			c.w = w
		} else if _, err := c.w.AddInterface(intf); err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		var h *pcapgo.EthernetHandle
		err := nsdo.Do(p.NetNS, func() (err error) {
			h, err = pcapgo.NewEthernetHandle(p.Iface)
			return err
		})
		if err != nil {
			return fmt.Errorf("pcap: capture %s: %w", p.Name, err)
		}
		c.handles = append(c.handles, h)
		// Best effort: with the default buffer the capture still works,
		// and Stop counts what it drops.
		_ = enlargeBuffer(h, captureBuffer)
		// Without the virtio-net headers superpackets are written whole.
		c.vnet = append(c.vnet, askVnetHdr(h) == nil)
	}
	return c.w.Flush()
}

// synced is the writer's answer to Sync.
type synced struct {
	size int64
	err  error
}

func (c *Capture) read(intf int, h *pcapgo.EthernetHandle) {
	defer c.readers.Done()
	for {
		data, ci, err := h.ReadPacketData()
		if err != nil {
			// The socket is non-blocking under Go's poller: the only error
			// is the one Stop causes by closing it.
			return
		}
		ci.InterfaceIndex = intf
		if !c.vnet[intf] {
			c.frames <- frame{intf: intf, ci: ci, data: data}
			continue
		}
		h, err := parseVnetHdr(data)
		if err != nil {
			// Not what the socket writes; kept as read, not lost.
			c.frames <- frame{intf: intf, ci: ci, data: data}
			continue
		}
		for _, f := range wireFrames(h, data[vnetHdrLen:]) {
			ci.CaptureLength, ci.Length = len(f), len(f)
			c.frames <- frame{intf: intf, ci: ci, data: f}
		}
	}
}

// reorderWindow is how long the writer holds frames back so that frames
// read from different sockets land in the file in timestamp order: a frame
// can reach us later than one stamped after it on another link, by the
// time its reader goroutine took to be scheduled.
const reorderWindow = 50 * time.Millisecond

func (c *Capture) write() error {
	var (
		first   error
		pending []frame
		newest  time.Time
		tick    = time.NewTicker(reorderWindow / 2)
	)
	defer tick.Stop()
	flush := func(upTo time.Time, all bool) {
		sort.SliceStable(pending, func(i, j int) bool { return pending[i].ci.Timestamp.Before(pending[j].ci.Timestamp) })
		n := 0
		for n < len(pending) && (all || pending[n].ci.Timestamp.Before(upTo)) {
			f := pending[n]
			c.counts[f.intf]++
			if err := c.w.WritePacket(f.ci, f.data); err != nil && first == nil {
				first = err
			}
			n++
		}
		pending = append(pending[:0], pending[n:]...)
	}
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				flush(time.Time{}, true)
				return first
			}
			pending = append(pending, f)
			if f.ci.Timestamp.After(newest) {
				newest = f.ci.Timestamp
			}
			if len(pending) >= 8192 {
				flush(newest.Add(-reorderWindow), false)
			}
		case <-tick.C:
			flush(time.Now().Add(-reorderWindow), false)
		case done := <-c.syncs:
			flush(time.Now().Add(-reorderWindow), false)
			if err := c.w.Flush(); err != nil {
				done <- synced{err: err}
				continue
			}
			// The file's offset after a flush is a block boundary: a reader
			// that stops there never meets the block the writer is in.
			size, err := c.file.Seek(0, io.SeekCurrent)
			done <- synced{size: size, err: err}
		}
	}
}

// Sync writes every frame older than the reorder window to the file and
// flushes it, so that the file can be read while the capture goes on: a
// spec waits for something to appear on the wire. It returns how many
// octets of the file are whole blocks at that point; the writer goes on
// after it, so a reader reads that many (ReadFilePrefix) and never a block
// half written. It must not be called after Stop.
func (c *Capture) Sync() (int64, error) {
	done := make(chan synced, 1)
	c.syncs <- done
	r := <-done
	if r.err != nil {
		return 0, fmt.Errorf("pcap: %s: %w", c.path, r.err)
	}
	return r.size, nil
}

// Stats is what a capture saw per point.
type Stats struct {
	Point   Point
	Frames  uint64 // written to the file
	Dropped uint64 // lost by the kernel socket buffer (the file misses them)
}

// Stop closes the sockets, writes each interface's statistics and closes
// the file. It is safe to call twice; the second call returns nil stats.
func (c *Capture) Stop() ([]Stats, error) {
	if c.stopped {
		return nil, nil
	}
	c.stopped = true
	// Let frames already queued in the sockets be read before closing.
	time.Sleep(20 * time.Millisecond)
	stats := make([]Stats, len(c.points))
	for i, h := range c.handles {
		stats[i].Point = c.points[i]
		if s, err := h.Stats(); err == nil {
			stats[i].Dropped = uint64(s.Drops)
		}
	}
	c.closeHandles()
	c.readers.Wait()
	close(c.frames)
	werr := <-c.writer
	var errs []error
	if werr != nil {
		errs = append(errs, werr)
	}
	now := time.Now()
	for i := range stats {
		stats[i].Frames = c.counts[i]
		err := c.w.WriteInterfaceStats(i, pcapgo.NgInterfaceStatistics{
			LastUpdate:      now,
			PacketsReceived: c.counts[i] + stats[i].Dropped,
			PacketsDropped:  stats[i].Dropped,
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.w.Flush(), c.file.Close())
	if err := errors.Join(errs...); err != nil {
		return stats, fmt.Errorf("pcap: %s: %w", c.path, err)
	}
	return stats, nil
}

func (c *Capture) closeHandles() {
	for _, h := range c.handles {
		h.Close()
	}
}

// Path is the pcapng file being written.
func (c *Capture) Path() string { return c.path }
