package node

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

type metrics struct {
	connected     prometheus.Gauge
	messages      *prometheus.CounterVec
	records       *prometheus.CounterVec
	acks          *prometheus.CounterVec
	storeErrors   prometheus.Counter
	batchSize     prometheus.Histogram
	commitSeconds prometheus.Histogram
	kiosks        *kioskCollector
	all           []prometheus.Collector
}

func newMetrics(s *Store, clk clock.Clock) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rbdes_node_connected", Help: "1 while connected and subscribed to the broker."}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rbdes_node_messages_total", Help: "Messages received by kind (capture, status, cmd_reply, unknown).",
		}, []string{"kind"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rbdes_node_records_total", Help: "Capture records by outcome (stored, duplicate, rejected, transient).",
		}, []string{"result"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rbdes_node_acks_published_total", Help: "Signed acks published, by status.",
		}, []string{"status"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "rbdes_node_store_errors_total", Help: "Store transactions that failed (records not acknowledged)."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rbdes_node_commit_batch_size", Help: "Messages committed per store transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rbdes_node_commit_duration_seconds", Help: "Time to store and commit one batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		kiosks: &kioskCollector{s: s, clk: clk},
	}
	m.all = []prometheus.Collector{m.connected, m.messages, m.records, m.acks, m.storeErrors, m.batchSize, m.commitSeconds, m.kiosks}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range m.all {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("node: cannot register metrics (two nodes on one registry?): %w", err)
		}
	}
	return nil
}

// kioskCollector exports the per-kiosk view at scrape time.
type kioskCollector struct {
	s   *Store
	clk clock.Clock
}

var (
	kioskOnline   = prometheus.NewDesc("rbdes_node_kiosk_online", "1 when the kiosk's latest status says online.", []string{"kiosk"}, nil)
	kioskLastSeen = prometheus.NewDesc("rbdes_node_kiosk_last_seen_age_seconds", "Seconds since the kiosk was last heard from.", []string{"kiosk"}, nil)
	kioskLag      = prometheus.NewDesc("rbdes_node_kiosk_lag_seconds", "Time the kiosk's newest stored record took from sealing to storage.", []string{"kiosk"}, nil)
	kioskRecords  = prometheus.NewDesc("rbdes_node_kiosk_records", "Records stored for the kiosk.", []string{"kiosk"}, nil)
	kioskGaps     = prometheus.NewDesc("rbdes_node_kiosk_chain_gaps", "Runs of sequence numbers missing from the kiosk's chain.", []string{"kiosk"}, nil)
	kioskQueue    = prometheus.NewDesc("rbdes_node_kiosk_queue_depth", "Records waiting in the kiosk's outbox (its latest status).", []string{"kiosk"}, nil)
)

func (k *kioskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{kioskOnline, kioskLastSeen, kioskLag, kioskRecords, kioskGaps, kioskQueue} {
		ch <- d
	}
}

func (k *kioskCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	views, err := k.s.Kiosks(ctx)
	if err != nil {
		return
	}
	now := k.clk.Now()
	for _, v := range views {
		online := 0.0
		if v.Online {
			online = 1
		}
		ch <- prometheus.MustNewConstMetric(kioskOnline, prometheus.GaugeValue, online, v.ID)
		if !v.LastSeen.IsZero() {
			ch <- prometheus.MustNewConstMetric(kioskLastSeen, prometheus.GaugeValue, now.Sub(v.LastSeen).Seconds(), v.ID)
		}
		ch <- prometheus.MustNewConstMetric(kioskLag, prometheus.GaugeValue, v.Lag.Seconds(), v.ID)
		ch <- prometheus.MustNewConstMetric(kioskRecords, prometheus.GaugeValue, float64(v.Records), v.ID)
		ch <- prometheus.MustNewConstMetric(kioskGaps, prometheus.GaugeValue, float64(len(v.Gaps)), v.ID)
		ch <- prometheus.MustNewConstMetric(kioskQueue, prometheus.GaugeValue, float64(v.QueueDepth), v.ID)
	}
}
