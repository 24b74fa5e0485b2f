package benchmark

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// heapInterval is how often the sampler reads the heap during an operation.
const heapInterval = time.Millisecond

// heapMetrics add up to runtime.MemStats.HeapInuse; runtime/metrics reads
// them without stopping the world.
var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

// heapSampler records the peak of the client's in-use heap while an
// operation runs, in a goroutine of its own.
type heapSampler struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

// startHeapSampler collects garbage, takes the baseline and starts sampling.
func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	samples := newHeapSamples()
	h.base = readHeap(samples)
	h.peak.Store(h.base)
	go h.loop(samples)
	return h
}

func (h *heapSampler) loop(samples []metrics.Sample) {
	defer close(h.done)
	tick := time.NewTicker(heapInterval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			h.observe(readHeap(samples))
			return
		case <-tick.C:
			h.observe(readHeap(samples))
		}
	}
}

func (h *heapSampler) observe(v uint64) {
	if v > h.peak.Load() {
		h.peak.Store(v)
	}
}

// finish stops sampling and returns the peak growth over the baseline, in
// bytes.
func (h *heapSampler) finish() int64 {
	close(h.stop)
	<-h.done
	return int64(h.peak.Load() - h.base)
}

func newHeapSamples() []metrics.Sample {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	return s
}

func readHeap(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var sum uint64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			sum += x.Value.Uint64()
		}
	}
	return sum
}
