package events

import (
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"strconv"
)

// Bounds of what a recovered panic logs: an attacker who found a crash must
// not also get to write megabytes per packet.
const (
	MaxHexDump = 256  // octets of the input, in hex
	MaxStack   = 2048 // octets of the goroutine's stack
)

// Recover is deferred by a worker around the handling of one input from the
// wire, so that a bug the input triggers costs that input and nothing else:
//
//	defer events.Recover(log, count, "gdoi", from.String(), pkt)
//
// It must be deferred itself (not called from a deferred closure), or
// recover sees no panic. On a panic it calls count (the worker's
// internal_error counter), logs INTERNAL_ERROR (rate-limited as every event
// is) with the panic, the stack and the input's first MaxHexDump octets in
// hex, and returns normally: the worker's loop goes on with its next input.
// Locks the handler took must be released by defers of its own. l and count
// may be nil.
func Recover(l *Log, count func(), worker, peer string, input []byte) {
	r := recover()
	if r == nil {
		return
	}
	if count != nil {
		count()
	}
	if l == nil {
		return
	}
	dump := input[:min(len(input), MaxHexDump)]
	stack := debug.Stack()
	l.Emit("INTERNAL_ERROR", "worker", worker, "peer", peer, "size", strconv.Itoa(len(input)),
		"reason", fmt.Sprint(r), "packet", hex.EncodeToString(dump), "stack", string(stack[:min(len(stack), MaxStack)]))
}
