package ikev1

import (
	"sync"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	var tab Table
	mk := func(n byte, est time.Time, life time.Duration) *SA {
		sa := &SA{ICookie: [8]byte{n}, RCookie: [8]byte{0, n}, Established: est}
		sa.Suite.Lifetime = life
		return sa
	}
	a := mk(1, epoch, time.Hour)
	b := mk(2, epoch.Add(time.Minute), 2*time.Hour)
	c := mk(3, epoch.Add(-time.Minute), 30*time.Minute)
	for _, sa := range []*SA{a, b, c} {
		if err := tab.Add(sa); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Add(mk(1, epoch, 0)); err == nil {
		t.Error("duplicate cookies accepted")
	}
	if got, ok := tab.Get(a.Cookies()); !ok || got != a {
		t.Error("Get a")
	}
	if l := tab.List(); len(l) != 3 || l[0] != c || l[1] != a || l[2] != b {
		t.Errorf("List %v", l)
	}
	if gone := tab.Expire(epoch.Add(30 * time.Minute)); len(gone) != 1 || gone[0] != c {
		t.Errorf("Expire at +30m: %v", gone)
	}
	if gone := tab.Expire(epoch.Add(90 * time.Minute)); len(gone) != 1 || gone[0] != a || tab.Len() != 1 {
		t.Errorf("Expire at +90m: %v", gone)
	}
	if sa, ok := tab.Delete(b.Cookies()); !ok || sa != b || tab.Len() != 0 {
		t.Error("Delete b")
	}
	if _, ok := tab.Delete(b.Cookies()); ok {
		t.Error("Delete twice")
	}

	// A scaled clock: lifetimes divided by 60.
	tab.Lifetime = func(sa *SA) time.Duration { return sa.Suite.Lifetime / 60 }
	tab.Add(a)
	if gone := tab.Expire(epoch.Add(time.Minute)); len(gone) != 1 {
		t.Errorf("scaled Expire: %v", gone)
	}
}

func TestTableConcurrent(t *testing.T) {
	var tab Table
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 100 {
				sa := &SA{ICookie: [8]byte{byte(g), byte(n)}, Established: epoch}
				sa.Suite.Lifetime = time.Duration(n+1) * time.Second
				tab.Add(sa)
				tab.Get(sa.Cookies())
				tab.List()
				tab.Expire(epoch.Add(50 * time.Second))
			}
		}()
	}
	wg.Wait()
	for _, sa := range tab.List() {
		if sa.Suite.Lifetime <= 50*time.Second {
			t.Fatalf("SA with lifetime %v not expired", sa.Suite.Lifetime)
		}
	}
}
