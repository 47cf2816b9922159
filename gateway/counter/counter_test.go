package counter

import (
	"regexp"
	"testing"
)

// Every counter has a distinct snake_case name, and All has them all in
// the order declared.
func TestCatalogue(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]bool{}
	names := All()
	for _, n := range names {
		if !snake.MatchString(n.String()) {
			t.Errorf("%q is not snake_case", n)
		}
		if seen[n.String()] {
			t.Errorf("%q twice", n)
		}
		seen[n.String()] = true
	}
	if len(names) < 70 || names[0] != PacketsReceived || names[len(names)-1] != GMDeleted {
		t.Errorf("All() has %d counters, from %s to %s", len(names), names[0], names[len(names)-1])
	}
}
