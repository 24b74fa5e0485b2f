package benchmark

import (
	"math"
	"slices"
	"time"
)

// series is what one variant measured in one cell.
type series struct {
	v       Variant
	samples []time.Duration // one per measured operation, in round order
	heaps   []int64         // heap workloads: each operation's peak heap growth, bytes
	refused string          // why sqlaudit refused the workload; no samples then
}

// quantile is the q-quantile (nearest rank) of the samples.
func (s *series) quantile(q float64) time.Duration {
	if len(s.samples) == 0 {
		return 0
	}
	sorted := slices.Clone(s.samples)
	slices.Sort(sorted)
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (s *series) median() time.Duration { return s.quantile(0.5) }
func (s *series) p90() time.Duration    { return s.quantile(0.9) }

// heap is the largest peak heap growth of an operation, bytes.
func (s *series) heap() int64 { return slices.Max(append([]int64{0}, s.heaps...)) }

// chunks splits the samples into at most n consecutive groups and returns
// each group's size and mean, for benchstat lines. Samples were taken in
// interleaved rounds, so group k of every variant covers the same stretch
// of time.
func (s *series) chunks(n int) []chunk {
	total := len(s.samples)
	n = min(n, total)
	var out []chunk
	for k := range n {
		lo, hi := k*total/n, (k+1)*total/n
		c := chunk{n: hi - lo}
		var sum time.Duration
		for _, d := range s.samples[lo:hi] {
			sum += d
		}
		c.mean = sum / time.Duration(c.n)
		if len(s.heaps) == total {
			c.heap = slices.Max(s.heaps[lo:hi])
		}
		out = append(out, c)
	}
	return out
}

// chunk is a group of consecutive samples.
type chunk struct {
	n    int
	mean time.Duration
	heap int64 // the group's largest peak heap growth, bytes
}
