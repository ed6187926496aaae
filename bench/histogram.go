package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in log-linear buckets, the layout of an HDR
// histogram with two significant digits: values are counted in whole
// microseconds; below 256 µs every microsecond has its own bucket, above it
// each power of two is split into 128 equal buckets, so any recorded value
// is known to within 1/256 of itself. The range is 1 µs to 60 s (larger
// values land in the top bucket; Max stays exact) in a fixed 2560 counters.
//
// A Histogram is not safe for concurrent use: each worker records into its
// own and the run merges them at the end.
type Histogram struct {
	counts [histBuckets]int64
	total  int64
	max    time.Duration
	min    time.Duration
}

const (
	histSubBits   = 8
	histSub       = 1 << histSubBits // buckets below the first doubling
	histHalf      = histSub / 2      // buckets per doubling above it
	histHighestUS = 60_000_000       // 60 s in µs
	histTopShift  = 18               // bits.Len64(histHighestUS) - histSubBits
	histBuckets   = histSub + histTopShift*histHalf
	histUnit      = time.Microsecond
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{} }

// bucketOf maps a value in µs to its counter.
func bucketOf(v uint64) int {
	if v >= histHighestUS {
		v = histHighestUS - 1
	}
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // ≥ 1 here
	sub := int(v >> shift)               // in [histHalf, histSub)
	return histSub + (shift-1)*histHalf + (sub - histHalf)
}

// bucketRange is the smallest value of bucket i and its width, in µs.
func bucketRange(i int) (low, width uint64) {
	if i < histSub {
		return uint64(i), 1
	}
	j := i - histSub
	shift := j/histHalf + 1
	sub := uint64(j%histHalf + histHalf)
	return sub << shift, 1 << shift
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/histUnit))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
}

// Merge adds every count of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.total }

// Max is the largest recorded value, exact.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the value below or at which a fraction q (0..1] of the
// recorded values lie: the middle of the bucket holding that rank, kept
// within [Min, Max] so that the extreme quantiles are exact.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			v := time.Duration(low)*histUnit + time.Duration(width)*histUnit/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// histogramJSON is the wire form of a Histogram between edgebench
// processes: only the non-empty buckets, as [index, count] pairs.
type histogramJSON struct {
	Unit    string     `json:"unit"`
	Buckets [][2]int64 `json:"buckets"`
	Total   int64      `json:"total"`
	MinNs   int64      `json:"min_ns"`
	MaxNs   int64      `json:"max_ns"`
}

// MarshalJSON writes the non-empty buckets.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := histogramJSON{Unit: "us-log-linear-256", Total: h.total, MinNs: int64(h.min), MaxNs: int64(h.max), Buckets: [][2]int64{}}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]int64{int64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON wrote and checks that it adds up.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w histogramJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Unit != "us-log-linear-256" {
		return fmt.Errorf("histogram: unit %q, want us-log-linear-256 (edgebench versions differ?)", w.Unit)
	}
	*h = Histogram{min: time.Duration(w.MinNs), max: time.Duration(w.MaxNs)}
	for _, b := range w.Buckets {
		if b[0] < 0 || b[0] >= histBuckets || b[1] < 0 {
			return fmt.Errorf("histogram: bucket %d count %d out of range", b[0], b[1])
		}
		h.counts[b[0]] += b[1]
		h.total += b[1]
	}
	if h.total != w.Total {
		return errors.New("histogram: bucket counts do not add up to the total")
	}
	return nil
}
