package bench

import (
	"bufio"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Points []Point
}

// Point is one (x, y) value of a series.
type Point struct{ X, Y float64 }

// Chart geometry, in SVG user units.
const (
	chartW, chartH                       = 720.0, 440.0
	padLeft, padRight, padTop, padBottom = 80.0, 170.0, 56.0, 60.0
	// titleChars is about what fits across the chart at the title's size;
	// a longer title wraps onto a second line.
	titleChars = 88
)

// chartColors are told apart also by readers with the common forms of
// colour blindness (the Okabe–Ito palette).
var chartColors = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// WriteSVGChart writes a line chart of series: linear axes with ticks, the
// y axis from zero, one coloured line with markers per series and a legend.
func WriteSVGChart(w io.Writer, title, xLabel, yLabel string, series []Series) error {
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range series {
		for _, p := range s.Points {
			if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
				return fmt.Errorf("series %q has a point that is not a number", s.Name)
			}
			xmin, xmax, ymax = math.Min(xmin, p.X), math.Max(xmax, p.X), math.Max(ymax, p.Y)
		}
	}
	if math.IsInf(xmin, 1) {
		return errors.New("chart: no points to draw")
	}
	xTicks := niceTicks(xmin, xmax)
	yTicks := niceTicks(0, ymax)
	x0, x1 := xTicks[0], xTicks[len(xTicks)-1]
	y1 := yTicks[len(yTicks)-1]
	plotW, plotH := chartW-padLeft-padRight, chartH-padTop-padBottom
	px := func(x float64) float64 { return padLeft + (x-x0)/(x1-x0)*plotW }
	py := func(y float64) float64 { return padTop + plotH - y/y1*plotH }

	b := bufio.NewWriter(w)
	esc := html.EscapeString
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, line := range wrapTitle(title, titleChars) {
		fmt.Fprintf(b, `<text x="12" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", 20+17*i, esc(line))
	}
	for _, t := range yTicks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", padLeft, py(t), padLeft+plotW, py(t))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", padLeft-6, py(t), tickLabel(t))
	}
	for _, t := range xTicks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", px(t), padTop+plotH, px(t), padTop+plotH+5)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(t), padTop+plotH+18, tickLabel(t))
	}
	fmt.Fprintf(b, `<polyline points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" stroke="#333"/>`+"\n", padLeft, padTop, padLeft, padTop+plotH, padLeft+plotW, padTop+plotH)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", padLeft+plotW/2, chartH-16, esc(xLabel))
	fmt.Fprintf(b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", padTop+plotH/2, esc(yLabel))
	for i, s := range series {
		color := chartColors[i%len(chartColors)]
		fmt.Fprintf(b, `<g stroke="%s" fill="%s">`+"\n", color, color)
		if len(s.Points) > 1 {
			fmt.Fprint(b, `<polyline fill="none" stroke-width="2" points="`)
			for j, p := range s.Points {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(b, "%.1f,%.1f", px(p.X), py(p.Y))
			}
			fmt.Fprint(b, `"/>`+"\n")
		}
		for _, p := range s.Points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5"><title>%s: %s, %s</title></circle>`+"\n", px(p.X), py(p.Y), esc(s.Name), tickLabel(p.X), tickLabel(p.Y))
		}
		ly := padTop + 10 + float64(i)*20
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke-width="2"/>`+"\n", chartW-padRight+16, ly, chartW-padRight+40, ly)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" stroke="none" fill="#000" dominant-baseline="middle">%s</text>`+"\n", chartW-padRight+46, ly, esc(s.Name))
		fmt.Fprint(b, "</g>\n")
	}
	fmt.Fprint(b, "</svg>\n")
	return b.Flush()
}

// niceTicks returns evenly spaced round values (steps of 1, 2 or 5 times a
// power of ten) from at or below lo to at or above hi, about five of them.
func niceTicks(lo, hi float64) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for t := math.Floor(lo/step) * step; ; t += step {
		ticks = append(ticks, t)
		if t >= hi-step*1e-9 {
			return ticks
		}
	}
}

// tickLabel prints a value compactly: 12000 as 12k.
func tickLabel(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// wrapTitle breaks a title at spaces into at most two lines of about
// width characters; what does not fit in two ends with an ellipsis.
func wrapTitle(title string, width int) []string {
	words := strings.Fields(title)
	var lines []string
	cur := ""
	for i, w := range words {
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) <= width:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
			if len(lines) == 1 && len(strings.Join(words[i:], " ")) > width {
				rest := []rune(strings.Join(words[i:], " "))
				return append(lines, string(rest[:width-1])+"…")
			}
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
