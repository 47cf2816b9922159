package ikev1

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Table is the daemon's set of established phase-1 SAs, keyed by the
// cookie pair that heads every message protected by one (GROUPKEY-PULL,
// Informational). It is safe for concurrent use; the zero Table is empty
// and ready.
type Table struct {
	// Lifetime returns an SA's lifetime in the table's clock (the daemon
	// scales protocol time, see DESIGN "Time"); nil uses Suite.Lifetime.
	// Set it before the table is used.
	Lifetime func(*SA) time.Duration

	mu  sync.Mutex
	sas map[[16]byte]*SA
}

// Add inserts sa. Adding an SA whose cookies are already in the table is
// an error (cookies are random: a clash is a bug or a replay).
func (t *Table) Add(sa *SA) error {
	c := sa.Cookies()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sas == nil {
		t.sas = make(map[[16]byte]*SA)
	}
	if _, ok := t.sas[c]; ok {
		return fmt.Errorf("ikev1: SA %x already in the table", c)
	}
	t.sas[c] = sa
	return nil
}

// Get returns the SA with the given cookies (CKY-I | CKY-R).
func (t *Table) Get(cookies [16]byte) (*SA, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sa, ok := t.sas[cookies]
	return sa, ok
}

// Delete removes and returns the SA with the given cookies.
func (t *Table) Delete(cookies [16]byte) (*SA, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sa, ok := t.sas[cookies]
	delete(t.sas, cookies)
	return sa, ok
}

// Expire removes the SAs whose lifetime has run out at now and returns
// them, oldest first.
func (t *Table) Expire(now time.Time) []*SA {
	gone := t.expire(now)
	sortByAge(gone)
	return gone
}

func (t *Table) expire(now time.Time) []*SA {
	t.mu.Lock()
	defer t.mu.Unlock() // t.Lifetime is the caller's code
	var gone []*SA
	for c, sa := range t.sas {
		if sa.Expired(now, t.lifetime(sa)) {
			gone = append(gone, sa)
			delete(t.sas, c)
		}
	}
	return gone
}

// List returns the SAs, oldest first.
func (t *Table) List() []*SA {
	t.mu.Lock()
	l := make([]*SA, 0, len(t.sas))
	for _, sa := range t.sas {
		l = append(l, sa)
	}
	t.mu.Unlock()
	sortByAge(l)
	return l
}

// Len returns the number of SAs.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sas)
}

func (t *Table) lifetime(sa *SA) time.Duration {
	if t.Lifetime != nil {
		return t.Lifetime(sa)
	}
	return sa.Suite.Lifetime
}

// sortByAge orders SAs by establishment time, then cookies, so listings
// are stable.
func sortByAge(l []*SA) {
	slices.SortFunc(l, func(a, b *SA) int {
		if c := a.Established.Compare(b.Established); c != 0 {
			return c
		}
		ca, cb := a.Cookies(), b.Cookies()
		return slices.Compare(ca[:], cb[:])
	})
}
