package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/lucid-edge/lucid/bench"
)

// chartCmd draws results (the JSON lines of `run -json`) as one line per
// label: by default requests/s against concurrency.
func chartCmd(args []string) int {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	out := fs.String("o", "", "SVG file to write (required)")
	title := fs.String("title", "Requests per second by concurrency", "chart title")
	xField := fs.String("x", "concurrency", "result field for the x axis")
	yField := fs.String("y", "requests_per_sec", "result field for the y axis")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: edgebench chart -o out.svg [-x FIELD] [-y FIELD] results.jsonl...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	series, err := readSeries(fs.Args(), *xField, *yField)
	if err == nil {
		err = writeChart(*out, *title, *xField, *yField, series)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgebench chart:", err)
		return 1
	}
	return 0
}

// readSeries groups results by label (the workload if unlabelled), in the
// order labels first appear, each sorted by x.
func readSeries(files []string, xField, yField string) ([]bench.Series, error) {
	var series []bench.Series
	index := map[string]int{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bufio.NewReader(f))
		for {
			var r map[string]any
			err := dec.Decode(&r)
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			x, xok := r[xField].(float64)
			y, yok := r[yField].(float64)
			if !xok || !yok {
				f.Close()
				return nil, fmt.Errorf("%s: a result without numbers %q and %q", name, xField, yField)
			}
			label, _ := r["label"].(string)
			if label == "" {
				label, _ = r["workload"].(string)
			}
			i, ok := index[label]
			if !ok {
				i = len(series)
				index[label] = i
				series = append(series, bench.Series{Name: label})
			}
			series[i].Points = append(series[i].Points, bench.Point{X: x, Y: y})
		}
		f.Close()
	}
	if len(series) == 0 {
		return nil, errors.New("no results in the input")
	}
	for _, s := range series {
		slices.SortFunc(s.Points, func(a, b bench.Point) int { return cmp.Compare(a.X, b.X) })
	}
	return series, nil
}

func writeChart(path, title, xLabel, yLabel string, series []bench.Series) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteSVGChart(f, title, xLabel, yLabel, series); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
