package trace

import (
	"os"
	"path/filepath"
	"testing"
)

// seedFeatures is the catalogue's source beside the repository (CI has
// ../shared next to the checkout).
var seedFeatures = filepath.Join("..", "..", "..", "shared", "spec", "seed-features.md")

// TestCatalogue checks catalogue.tsv against seed-features.md: the copy
// the reports use is the catalogue as published. GETLAB_WRITE_CATALOGUE=1
// rewrites it.
func TestCatalogue(t *testing.T) {
	md, err := os.ReadFile(seedFeatures)
	if err != nil {
		if fs := Catalogue(); len(fs) < 200 {
			t.Errorf("%d entries in catalogue.tsv", len(fs))
		}
		t.Skipf("%s not readable (the shared notes are not beside this checkout): %v", seedFeatures, err)
	}
	want := CatalogueTSV(ParseSeedFeatures(string(md)))
	if os.Getenv("GETLAB_WRITE_CATALOGUE") == "1" {
		if err := os.WriteFile("catalogue.tsv", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if fs := Catalogue(); len(fs) < 200 {
		t.Errorf("%d entries in catalogue.tsv", len(fs))
	}
	if want != catalogueTSV {
		t.Errorf("catalogue.tsv differs from %s: GETLAB_WRITE_CATALOGUE=1 go test ./reports/trace rewrites it", seedFeatures)
	}
}
