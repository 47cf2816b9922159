package swarmreport

import (
	"path/filepath"
	"testing"
	"time"
)

func TestPercentilesOf(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := PercentilesOf(ds); p != (Percentiles{N: 100, P50: 50, P90: 90, P99: 99, Max: 100}) {
		t.Errorf("%+v", p)
	}
	if p := PercentilesOf([]time.Duration{3 * time.Millisecond}); p != (Percentiles{N: 1, P50: 3, P90: 3, P99: 3, Max: 3}) {
		t.Errorf("%+v", p)
	}
	if p := PercentilesOf(nil); p != (Percentiles{}) {
		t.Errorf("%+v", p)
	}
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "report.json")
	r := &Report{GMs: 2, Final: true, Rekeys: []Rekey{{Seq: 3, GMs: 2, Acked: 2}},
		Failures: map[string]int{"timeout: no main mode msg 2": 1}}
	if err := r.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.GMs != 2 || !got.Final || got.Rekey(3) == nil || got.Rekey(3).Acked != 2 || got.Rekey(4) != nil ||
		got.Failures["timeout: no main mode msg 2"] != 1 {
		t.Errorf("read back %+v", got)
	}
}
