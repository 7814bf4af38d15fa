package capture

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the kiosk_capture_* metrics.
type metrics struct {
	sessions      *prometheus.CounterVec
	duration      prometheus.Histogram
	attempts      *prometheus.CounterVec
	fingerQuality prometheus.Histogram
	faceQuality   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	qualityBuckets := prometheus.LinearBuckets(10, 10, 9)
	m := &metrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_capture_sessions_total",
			Help: "Traveller sessions by outcome (saved, cancelled, timed_out, failed, refused).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kiosk_capture_session_seconds",
			Help:    "Duration of traveller sessions, start to end.",
			Buckets: []float64{2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180},
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_capture_finger_attempts_total",
			Help: "Finger attempts by result (good, low, no_image).",
		}, []string{"result"}),
		fingerQuality: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kiosk_capture_finger_quality",
			Help:    "Quality (0-100) of every finger attempt with an image.",
			Buckets: qualityBuckets,
		}),
		faceQuality: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kiosk_capture_face_quality",
			Help:    "Quality (0-100) of the portraits kept.",
			Buckets: qualityBuckets,
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessions, m.duration, m.attempts, m.fingerQuality, m.faceQuality} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("capture: metrics already registered (one Workflow per registry): %w", err)
			}
			return nil, fmt.Errorf("capture: registering metrics: %w", err)
		}
	}
	return m, nil
}
