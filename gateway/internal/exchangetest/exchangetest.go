// Package exchangetest drives the two sides of an ISAKMP exchange (main
// mode, GROUPKEY-PULL) by hand in a test, message by message.
package exchangetest

import "testing"

// Step is one side's handling of a message: its reply, or an error.
type Step func(msg []byte) ([]byte, error)

// Run hands first to the first step, each reply to the next step, and
// returns the messages in order, first included: Run(t, m1, r.Handle,
// i.Handle) is m1, m2, m3. A step that fails fails the test.
func Run(t testing.TB, first []byte, steps ...Step) [][]byte {
	t.Helper()
	msgs := [][]byte{first}
	for i, step := range steps {
		reply, err := step(msgs[i])
		if err != nil {
			t.Fatalf("exchange step %d (message %d): %v", i+1, i+2, err)
		}
		msgs = append(msgs, reply)
	}
	return msgs
}
