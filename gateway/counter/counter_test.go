package counter

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// Every counter declared in counter.go is in All, once, with a distinct
// snake_case name.
func TestCatalogue(t *testing.T) {
	src, err := os.ReadFile("counter.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, m := range regexp.MustCompile(`= Name\{"([^"]*)"\}`).FindAllStringSubmatch(string(src), -1) {
		declared = append(declared, m[1])
	}
	var listed []string
	for _, n := range All() {
		listed = append(listed, n.String())
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if !slices.Equal(declared, listed) {
		t.Errorf("All() lists %d counters, counter.go declares %d:\nAll:      %v\ndeclared: %v", len(listed), len(declared), listed, declared)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for i, n := range listed {
		if !snake.MatchString(n) {
			t.Errorf("%q is not snake_case", n)
		}
		if i > 0 && listed[i-1] == n {
			t.Errorf("%q twice", n)
		}
	}
}
