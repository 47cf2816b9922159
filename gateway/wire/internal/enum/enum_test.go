package enum

import "testing"

type color uint8

func TestName(t *testing.T) {
	names := map[color]string{1: "red"}
	if got := Name(names, 1, "COLOR-%d"); got != "red" {
		t.Errorf("Name(1) = %q", got)
	}
	if got := Name(names, 200, "COLOR-%d"); got != "COLOR-200" {
		t.Errorf("Name(200) = %q", got)
	}
}
