package bench

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the rank-ceil(q*n) value of sorted samples, the
// definition Histogram.Quantile approximates.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	r := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(r, 0)]
}

func TestHistogramQuantilesMatchSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	dists := []struct {
		name string
		gen  func() time.Duration
	}{
		// Loopback handshakes: around 200 µs with a long tail.
		{"lognormal-200us", func() time.Duration {
			return time.Duration(200e3 * math.Exp(rng.NormFloat64()))
		}},
		{"uniform-1us-60s", func() time.Duration { return time.Duration(rng.Int64N(int64(60*time.Second))) + time.Microsecond }},
		{"sub-256us", func() time.Duration { return time.Duration(rng.Int64N(256_000)) }},
	}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			h := NewHistogram()
			samples := make([]time.Duration, 100_000)
			for i := range samples {
				samples[i] = d.gen()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(samples, q)
				// Two significant digits: within 1/256 of the value, or
				// the 1 µs unit for small values.
				tol := max(time.Duration(float64(want)/256), time.Microsecond)
				if diff := got - want; diff < -tol || diff > tol {
					t.Errorf("q%.3f = %v, sorted samples say %v (tolerance %v)", q, got, want, tol)
				}
			}
			if h.Max() != samples[len(samples)-1] {
				t.Errorf("Max = %v, want exactly %v", h.Max(), samples[len(samples)-1])
			}
		})
	}
}

func TestHistogramMergeEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	all, a, b := NewHistogram(), NewHistogram(), NewHistogram()
	for i := range 50_000 {
		v := time.Duration(rng.Int64N(int64(2 * time.Second)))
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(b)
	if *a != *all {
		t.Fatal("merging two halves differs from recording everything in one histogram")
	}
}

func TestHistogramJSONRoundTrip(t *testing.T) {
	h := NewHistogram()
	for _, v := range []time.Duration{3 * time.Microsecond, 180 * time.Microsecond, 7 * time.Millisecond, 90 * time.Second} {
		h.Record(v)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != *h {
		t.Fatalf("round trip changed the histogram: %s", b)
	}
	if back.Max() != 90*time.Second {
		t.Fatalf("a value beyond 60 s keeps its exact max, got %v", back.Max())
	}
	bad := []byte(`{"unit":"us-log-linear-256","buckets":[[3,1]],"total":2}`)
	if err := json.Unmarshal(bad, &back); err == nil {
		t.Fatal("a histogram whose buckets do not add up to its total was accepted")
	}
}
