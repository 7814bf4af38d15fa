package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// NewMetrics returns a Prometheus registry with the Go runtime and process
// collectors, a build-info gauge (kiosk_build_info, or prefix_build_info)
// and a per-component readiness gauge computed from reg at scrape time.
func NewMetrics(prefix, version, commit string, reg *Registry) *prometheus.Registry {
	pr := prometheus.NewRegistry()
	pr.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        prefix + "_build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
	})
	bi.Set(1)
	pr.MustRegister(bi)
	pr.MustRegister(&readyCollector{
		reg:  reg,
		desc: prometheus.NewDesc(prefix+"_component_ready", "1 when the component is ready, 0 when not.", []string{"component"}, nil),
		all:  prometheus.NewDesc(prefix+"_ready", "1 when every component is ready.", nil, nil),
	})
	return pr
}

type readyCollector struct {
	reg       *Registry
	desc, all *prometheus.Desc
}

func (c *readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.all }

func (c *readyCollector) Collect(ch chan<- prometheus.Metric) {
	rep := c.reg.Check()
	for _, cs := range rep.Components {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, b2f(cs.Ready), cs.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.all, prometheus.GaugeValue, b2f(rep.Ready))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Mux returns an HTTP mux serving /healthz (the process is alive),
// /readyz (200 with a JSON report when every component is ready, 503 with
// the same report naming what is not) and /metrics from gatherer. Callers
// add their own routes (the officer API) to the returned mux.
func Mux(reg *Registry, gatherer prometheus.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		rep := reg.Check()
		w.Header().Set("Content-Type", "application/json")
		if !rep.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// ServerOptions configures a Server.
type ServerOptions struct {
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// ShutdownTimeout bounds the graceful shutdown; default 3s.
	ShutdownTimeout time.Duration
}

// Server is the daemon's local HTTP listener.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	log  *zap.Logger
	stop time.Duration
}

// NewServer listens on addr at once (so a port conflict is a start-up error
// and the bound address is known) and serves h once Run is called.
func NewServer(addr string, h http.Handler, opts *ServerOptions) (*Server, error) {
	if opts == nil {
		opts = &ServerOptions{}
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	stop := opts.ShutdownTimeout
	if stop <= 0 {
		stop = 3 * time.Second
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health: cannot listen on %s (is another kioskd running, or is the port taken? change http.listen): %w", addr, err)
	}
	return &Server{
		ln:   ln,
		log:  log,
		stop: stop,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          zap.NewStdLog(log.Named("http")),
		},
	}, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done, then shuts down gracefully within the
// shutdown timeout (closing long-lived streams after it).
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("http listening", zap.Stringer("addr", s.ln.Addr()))
	select {
	case err := <-errc:
		return fmt.Errorf("health: http server stopped: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.stop)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health: http server: %w", err)
	}
	return nil
}
