package diskspace

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the Guard's readings: free bytes of the data
// directory's filesystem, and 1 while below the floor.
func (g *Guard) Collector() prometheus.Collector { return collector{g} }

var (
	freeDesc = prometheus.NewDesc("engram_storage_free_bytes",
		"Free bytes (for unprivileged use) on the data directory's filesystem.", nil, nil)
	lowDesc = prometheus.NewDesc("engram_storage_below_floor",
		"1 while free space is below --min-free-space and new content is refused (507).", nil, nil)
)

type collector struct{ g *Guard }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- freeDesc; ch <- lowDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.g.State()
	if st.Err == nil {
		ch <- prometheus.MustNewConstMetric(freeDesc, prometheus.GaugeValue, float64(st.Avail))
	}
	low := 0.0
	if st.Low {
		low = 1
	}
	ch <- prometheus.MustNewConstMetric(lowDesc, prometheus.GaugeValue, low)
}
