package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/control"
)

func TestStatusCommand(t *testing.T) {
	sock, _ := daemon(t)
	code, out, errs := getctl(context.Background(), nil, "-s", sock, "status")
	want := `{"registered":true,"ks":"192.0.2.1","kek_spi":"8e5f3a0c9b2d4e1f00112233aabbccdd","tek_spis":["2d45c4e9","d835db99"],"seq":5}` + "\n"
	if code != 0 || out != want {
		t.Errorf("getctl status: exit %d\n got %s\nwant %s\nstderr: %s", code, out, want, errs)
	}
	// --json changes nothing: the output is JSON anyway.
	if _, out2, _ := getctl(context.Background(), nil, "-s", sock, "--json", "status"); out2 != want {
		t.Errorf("status --json: %s", out2)
	}
	// No daemon: exit 1.
	if code, _, errs := getctl(context.Background(), nil, "-s", sock+".none", "status"); code != 1 || !strings.Contains(errs, "getctl:") {
		t.Errorf("no daemon: %d %s", code, errs)
	}
}

func TestNormalize(t *testing.T) {
	ks, err := normalize(sampleKS())
	if err != nil {
		t.Fatal(err)
	}
	if want := (normalStatus{KS: "ks1", KEKSPI: "8e5f3a0c9b2d4e1f00112233aabbccdd", TEKSPIs: []string{"2d45c4e9"}}); !reflect.DeepEqual(ks, want) {
		t.Errorf("KS: %+v, want %+v", ks, want)
	}

	// A GM with a second group still registering is not registered; TEK
	// SPIs of every group come sorted and padded.
	g := sampleGM()
	g.Groups[0].TEKs[0].SPI, g.Groups[0].TEKs[1].SPI = "0xFF", "0x0000abcd"
	g.Groups = append(g.Groups, control.GroupStatus{Name: "B", ID: 2, GM: &control.GMGroup{State: "registering"},
		TEKs: []control.TEK{{SPI: "0x10"}}})
	s, err := normalize(g)
	if err != nil {
		t.Fatal(err)
	}
	if s.Registered || s.KS != "192.0.2.1" || s.Seq != 5 || !reflect.DeepEqual(s.TEKSPIs, []string{"00000010", "000000ff", "0000abcd"}) {
		t.Errorf("GM: %+v", s)
	}

	// Nothing known yet: empty values, an empty list (not null).
	s, err = normalize(control.GDOI{Role: "gm", Groups: []control.GroupStatus{{Name: "A", GM: &control.GMGroup{State: "idle"}}}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	if string(b) != `{"registered":false,"ks":"","kek_spi":"","tek_spis":[],"seq":0}` {
		t.Errorf("idle GM: %s", b)
	}

	g = sampleGM()
	g.Groups[0].TEKs[0].SPI = "spi?"
	if _, err := normalize(g); err == nil || !strings.Contains(err.Error(), `TEK SPI "spi?"`) {
		t.Errorf("bad SPI: %v", err)
	}
}
