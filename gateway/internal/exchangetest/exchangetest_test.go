package exchangetest

import (
	"errors"
	"testing"
)

func TestRun(t *testing.T) {
	double := func(m []byte) ([]byte, error) { return append(m, m...), nil }
	got := Run(t, []byte("a"), double, double)
	if len(got) != 3 || string(got[1]) != "aa" || string(got[2]) != "aaaa" {
		t.Errorf("messages %q", got)
	}
}

// failing records Fatalf instead of stopping the test.
type failing struct {
	testing.TB
	failed bool
}

func (f *failing) Helper()               {}
func (f *failing) Fatalf(string, ...any) { f.failed = true }

func TestRunFails(t *testing.T) {
	f := &failing{TB: t}
	Run(f, []byte("a"), func([]byte) ([]byte, error) { return nil, errors.New("refused") })
	if !f.failed {
		t.Error("a failing step did not fail the test")
	}
}
