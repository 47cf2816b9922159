package wire

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Wire forwards frames between two interfaces of its node through an
// Engine: each frame read on one side is decided on and sent, now or at
// its time, out of the other.
type Wire struct {
	e       *Engine
	ports   [2]*port
	sched   [2]*scheduler
	index   atomic.Uint64
	refused [2]atomic.Uint64 // frames the kernel would not send, by output port

	logMu sync.Mutex
	logw  *bufio.Writer
}

// Options say where a wire sits and what it does.
type Options struct {
	// Ports are the interfaces of its two sides (eth1 and eth2 when
	// empty): frames from Ports[0] are "from eth1" in the rules.
	Ports [2]string
	Rules *Rules
	// Log receives the decision log, a JSON object a line (nil: none).
	Log io.Writer
}

// readBatch is how many frames a side reads before it sends what they
// gave.
const readBatch = 64

// Open opens the wire's interfaces; Run forwards.
func Open(o Options) (*Wire, error) {
	if o.Ports[0] == "" {
		o.Ports = [2]string{"eth1", "eth2"}
	}
	w := &Wire{}
	if o.Log != nil {
		w.logw = bufio.NewWriterSize(o.Log, 64<<10)
	}
	w.e = NewEngine(o.Rules, w.logDecision)
	for i, name := range o.Ports {
		p, err := openPort(name)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.ports[i] = p
		w.sched[i] = newScheduler()
	}
	return w, nil
}

// Engine is the wire's decision maker: its rules, holds, keys and counters.
func (w *Wire) Engine() *Engine { return w.e }

// Refused is how many frames the kernel refused to send, by output port.
func (w *Wire) Refused() [2]uint64 { return [2]uint64{w.refused[0].Load(), w.refused[1].Load()} }

// Release sends up to n frames held in hold (all when n ≤ 0) now and says
// how many.
func (w *Wire) Release(hold string, n int) int {
	ems := w.e.Release(hold, n, time.Now())
	w.send(ems)
	return len(ems)
}

func (w *Wire) logDecision(d Decision) {
	if w.logw == nil {
		return
	}
	b, _ := json.Marshal(d)
	w.logMu.Lock()
	w.logw.Write(append(b, '\n'))
	w.logMu.Unlock()
}

// FlushLog writes out what the decision log holds in its buffer.
func (w *Wire) FlushLog() error {
	if w.logw == nil {
		return nil
	}
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.logw.Flush()
}

// Run forwards until ctx is done or a side fails.
func (w *Wire) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 2 {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- w.forward(ctx, i) }()
		go func() { defer wg.Done(); w.sched[i].run(ctx, func(frames [][]byte) { w.write(i, frames) }) }()
	}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = w.FlushLog()
			}
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	w.closePorts() // wakes the readers
	wg.Wait()
	_ = w.FlushLog()
	return err
}

// forward reads side from and sends what the engine decides.
func (w *Wire) forward(ctx context.Context, from int) error {
	var now [2][][]byte
	for ctx.Err() == nil {
		err := w.ports[from].readBatch(func(frame []byte) {
			at := time.Now()
			for _, em := range w.e.decide(Frame{Index: w.index.Add(1), From: from, At: at, Data: frame}, true) {
				if em.At.After(at) {
					// Sent after this batch: off the port's buffer.
					em.Data = append([]byte(nil), em.Data...)
					w.sched[em.Out].push(em)
				} else {
					now[em.Out] = append(now[em.Out], em.Data)
				}
			}
		})
		for out := range 2 {
			if len(now[out]) > 0 {
				w.write(out, now[out])
				clear(now[out])
				now[out] = now[out][:0]
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func (w *Wire) send(ems []Emission) {
	for _, em := range ems {
		w.write(em.Out, [][]byte{em.Data})
	}
}

func (w *Wire) write(out int, frames [][]byte) {
	n, err := w.ports[out].write(frames)
	if err != nil {
		n = len(frames)
	}
	w.refused[out].Add(uint64(n))
}

func (w *Wire) closePorts() {
	for _, p := range w.ports {
		if p != nil {
			p.close()
		}
	}
}

// Close closes the interfaces' sockets (Run does when it ends).
func (w *Wire) Close() { w.closePorts() }

// scheduler sends a side's delayed frames at their time.
type scheduler struct {
	mu   sync.Mutex
	q    emissionHeap
	seq  uint64
	wake chan struct{}
}

func newScheduler() *scheduler { return &scheduler{wake: make(chan struct{}, 1)} }

func (s *scheduler) push(em Emission) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.q, queued{em: em, seq: s.seq})
	first := s.q[0].seq == s.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// run sends every frame whose time has come, a batch at a time, and sleeps
// until the next one's.
func (s *scheduler) run(ctx context.Context, send func([][]byte)) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due [][]byte
	for {
		now := time.Now()
		s.mu.Lock()
		for len(s.q) > 0 && !s.q[0].em.At.After(now) {
			due = append(due, heap.Pop(&s.q).(queued).em.Data)
		}
		next := time.Hour
		if len(s.q) > 0 {
			next = s.q[0].em.At.Sub(now)
		}
		s.mu.Unlock()
		if len(due) > 0 {
			send(due)
			clear(due)
			due = due[:0]
			continue // sending took time: look again
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// queued is a delayed frame; seq keeps frames of the same time in the
// order they were decided.
type queued struct {
	em  Emission
	seq uint64
}

type emissionHeap []queued

func (h emissionHeap) Len() int { return len(h) }
func (h emissionHeap) Less(i, j int) bool {
	if !h[i].em.At.Equal(h[j].em.At) {
		return h[i].em.At.Before(h[j].em.At)
	}
	return h[i].seq < h[j].seq
}
func (h emissionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *emissionHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *emissionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
