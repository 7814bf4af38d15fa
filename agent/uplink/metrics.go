package uplink

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	connected   prometheus.Gauge
	connects    *prometheus.CounterVec
	drops       prometheus.Counter
	publishes   prometheus.Counter
	resends     prometheus.Counter
	acks        *prometheus.CounterVec
	badAcks     *prometheus.CounterVec
	timeouts    *prometheus.CounterVec
	rtt         prometheus.Histogram
	deadLetters *prometheus.CounterVec
	commands    *prometheus.CounterVec
	inflight    prometheus.Gauge
	all         []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kiosk_uplink_connected", Help: "1 while connected to the broker, 0 otherwise.",
		}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_uplink_connect_attempts_total", Help: "Connection attempts by result (ok, failed).",
		}, []string{"result"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kiosk_uplink_connection_drops_total", Help: "Established connections that were lost.",
		}),
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kiosk_uplink_publishes_total", Help: "Sealed records published (resends included).",
		}),
		resends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kiosk_uplink_resends_total", Help: "Sealed records published again after a timeout or a reconnect.",
		}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_uplink_acks_total", Help: "Valid acks from the node by status (stored, duplicate, rejected) or stale.",
		}, []string{"status"}),
		badAcks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_uplink_bad_acks_total", Help: "Acks ignored by reason (malformed, unknown_key, bad_signature, wrong_kiosk, mismatch).",
		}, []string{"reason"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_uplink_ack_timeouts_total", Help: "Records without an ack in time, by kind (record: failed delivery; silent: nothing acknowledged).",
		}, []string{"kind"}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kiosk_uplink_ack_rtt_seconds", Help: "Time from publishing a record to its ack.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_uplink_dead_letters_total", Help: "Records the uplink moved to dead letters, by cause (rejected, poison, unreadable).",
		}, []string{"cause"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_uplink_commands_total", Help: "Commands received, by kind and result (ok, rejected, failed).",
		}, []string{"kind", "result"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kiosk_uplink_inflight", Help: "Records published and awaiting an ack.",
		}),
	}
	m.all = []prometheus.Collector{m.connected, m.connects, m.drops, m.publishes, m.resends, m.acks, m.badAcks, m.timeouts, m.rtt, m.deadLetters, m.commands, m.inflight}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range m.all {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("uplink: cannot register metrics (two uplinks on one registry?): %w", err)
		}
	}
	return nil
}
