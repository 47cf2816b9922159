package rekey

import (
	"testing"
	"time"
)

// The rekey points the suite expects, written from the seeds (not taken
// from the key server under test). N is the number of registered GMs; the
// seeds' "5 × N / 50" seconds is N × 100 ms.

// tekRekeyLead is how long before a TEK of lifetime t expires the KS sends
// its rekey (RK-40, S0 §3.5.3 L2076-2100):
// MAX(10 % of t, 90 s) + retransmissions × interval + 5 s × N / 50.
func tekRekeyLead(t time.Duration, retransmissions int, interval time.Duration, gms int) time.Duration {
	return max(t/10, 90*time.Second) + time.Duration(retransmissions)*interval + time.Duration(gms)*100*time.Millisecond
}

// kekRekeyLead is how long before the KEK expires the KS sends the KEK
// rekey (RK-35, S0 §3.6.6.1 L3374-3402): 200 s + retransmissions ×
// interval, plus 5 s × (1 + N / 50) for unicast rekeys.
func kekRekeyLead(retransmissions int, interval time.Duration, gms int, unicast bool) time.Duration {
	d := 200*time.Second + time.Duration(retransmissions)*interval
	if unicast {
		d += 5*time.Second + time.Duration(gms)*100*time.Millisecond
	}
	return d
}

// The formula gives the seeds' worked example (RK-40): 1,000 GMs,
// T = 7,200 s, two retransmissions 60 s apart: the TEK rekey at
// 7,200 − [720 + 120 + 100] = 6,260 s.
func TestTEKRekeyLeadWorkedExample(t *testing.T) {
	if got := 7200*time.Second - tekRekeyLead(7200*time.Second, 2, 60*time.Second, 1000); got != 6260*time.Second {
		t.Errorf("TEK rekey at %v, the seeds say 6260s", got)
	}
}
