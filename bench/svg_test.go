package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestWriteSVGChartIsWellFormedAndScaled(t *testing.T) {
	series := []Series{
		{Name: "lucid <edge>", Points: []Point{{1, 9000}, {2, 17500}, {4, 31000}}},
		{Name: "squid", Points: []Point{{1, 1200}, {2, 2100}, {4, 2900}}},
	}
	var buf bytes.Buffer
	if err := WriteSVGChart(&buf, "Inspected connections/s", "concurrency", "requests/s", series); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, names escaped.
	d := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	polylines, circles := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, buf.String())
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "circle":
				circles++
			}
		}
	}
	if polylines != 3 || circles != 6 { // the axes + one line per series
		t.Fatalf("%d polylines and %d markers, want 3 and 6", polylines, circles)
	}
	for _, want := range []string{"lucid &lt;edge&gt;", "squid", "concurrency", ">30k<"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestNiceTicksCoverTheRange(t *testing.T) {
	for _, c := range []struct{ lo, hi float64 }{{0, 31000}, {1, 64}, {0, 0.37}, {5, 5}} {
		ticks := niceTicks(c.lo, c.hi)
		if ticks[0] > c.lo || ticks[len(ticks)-1] < c.hi || len(ticks) < 2 || len(ticks) > 12 {
			t.Errorf("niceTicks(%g, %g) = %v", c.lo, c.hi, ticks)
		}
	}
}

func TestWriteSVGChartRejectsNoPoints(t *testing.T) {
	if err := WriteSVGChart(io.Discard, "t", "x", "y", []Series{{Name: "empty"}}); err == nil {
		t.Fatal("a chart without points was written")
	}
}

func TestWrapTitle(t *testing.T) {
	for _, tc := range []struct {
		title string
		want  []string
	}{
		{"short", []string{"short"}},
		{"aaa bbb ccc", []string{"aaa bbb", "ccc"}},
		{"aaa bbb ccc ddd eee", []string{"aaa bbb", "ccc dd…"}},
	} {
		got := wrapTitle(tc.title, 7)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrapTitle(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
}
