package gdoi

import "time"

// TEKShortened is TEK_SLT = MIN(TEK_RLT, MAX(90 s, MIN(5% × TEK_CLT,
// 3600 s))): the lifetime a policy-replace rekey (RK-51) and a GM-removal
// message (RK-60) leave the old TEKs, from their remaining and configured
// lifetimes (S0 §3.16.1.1, §3.16.2).
func TEKShortened(remaining, configured time.Duration) time.Duration {
	return min(remaining, max(90*time.Second, min(configured/20, time.Hour)))
}

// ImmediateReregistrationBound is the longest a GM waits to register again
// after an immediate GM removal: MIN(TEK_RLT, MIN(2% × TEK_CLT, 3600 s))
// (S0 §3.16.1.2, RK-61).
func ImmediateReregistrationBound(remaining, configured time.Duration) time.Duration {
	return min(remaining, min(configured/50, time.Hour))
}
