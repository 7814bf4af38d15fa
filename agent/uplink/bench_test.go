package uplink_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bali-rbdes/kiosk/agent/broker/brokertest"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/uplink"
)

// benchEnv returns an integer from the environment, or def.
func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// brokerURL starts mosquitto when it is installed (and UPLINK_BROKER is
// not "mochi"), else the embedded broker, both with mutual TLS on
// loopback. cpu reports the broker's CPU time when it is another process.
func (r *rig) brokerURL(t *testing.T) (url, which string, cpu func() time.Duration) {
	if brokertest.MosquittoBinary() != "" && os.Getenv("UPLINK_BROKER") != "mochi" {
		m := brokertest.StartMosquitto(t, r.pki, brokertest.MosquittoOptions{Nodes: []string{"node-idn-1"}})
		return m.URL(), "mosquitto", m.CPU
	}
	return r.mochi("").URL(), "mochi (in process)", func() time.Duration { return 0 }
}

// TestDrainBacklog measures how fast a backlog of sealed records (default
// 10,000 of 20 KB, post-quantum suite) drains to a node with a SQLite
// store over TLS on loopback, acknowledgements included. It runs only
// with UPLINK_BENCH=1 (make bench-uplink); UPLINK_RECORDS, UPLINK_SIZE and
// UPLINK_INFLIGHT change the workload; UPLINK_CPUPROFILE=FILE and
// UPLINK_TRACE=FILE write a CPU profile and an execution trace of the
// drain phase.
func TestDrainBacklog(t *testing.T) {
	if os.Getenv("UPLINK_BENCH") != "1" {
		t.Skip("a measurement, not a test: run it with make bench-uplink (UPLINK_BENCH=1)")
	}
	n, size, inflight := benchEnv("UPLINK_RECORDS", 10000), benchEnv("UPLINK_SIZE", 20000), benchEnv("UPLINK_INFLIGHT", 16)
	r := newRig(t, "kiosk-001")
	r.metrics = prometheus.NewRegistry()
	url, which, brokerCPU := r.brokerURL(t)
	node := r.startNode("node-idn-1", r.sqliteStore(), url)
	k := r.newKiosk("kiosk-001", inflight)
	start := time.Now()
	k.save(t, n, size)
	t.Logf("sealed and saved %d records of %d bytes in %v (%.0f records/s, fsync per record)", n, size, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	stopProfile := startProfile(t, os.Getenv("UPLINK_CPUPROFILE"), os.Getenv("UPLINK_TRACE"))
	start = time.Now()
	cpu0, bcpu0 := brokertest.SelfCPU(), brokerCPU()
	k.run(t, url, inflight, nil)
	k.drained(t, 10*time.Minute)
	took := time.Since(start)
	stopProfile()
	cpu, bcpu := brokertest.SelfCPU()-cpu0, brokerCPU()-bcpu0
	checkStored(t, node.store, "kiosk-001", n)
	t.Logf("DRAIN: %d records of %d bytes (%.1f MB) to the node over TLS (%s) in %v: %.0f records/s, %.1f MB/s (inflight %d, SQLite WAL synchronous=FULL)",
		n, size, float64(n*size)/1e6, which, took.Round(time.Millisecond), float64(n)/took.Seconds(), float64(n*size)/1e6/took.Seconds(), inflight)
	per := (cpu + bcpu) / time.Duration(n)
	t.Logf("DRAIN CPU: kiosk+node process %v (%v/record), broker process %v (%v/record): %v of CPU per record, so at most %.0f records/s on 2 idle cores",
		cpu.Round(time.Millisecond), (cpu / time.Duration(n)).Round(time.Microsecond), bcpu.Round(time.Millisecond), (bcpu / time.Duration(n)).Round(time.Microsecond),
		per.Round(time.Microsecond), 2/per.Seconds())
	t.Logf("DRAIN pipeline: %s", histogramMeans(t, r.metrics, "rbdes_node_commit_batch_size", "rbdes_node_commit_duration_seconds", "kiosk_uplink_ack_rtt_seconds"))
}

// histogramMeans gathers reg and returns the count and mean of each named
// histogram.
func histogramMeans(t *testing.T, reg *prometheus.Registry, names ...string) string {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		for _, mf := range mfs {
			if mf.GetName() != name || len(mf.GetMetric()) == 0 {
				continue
			}
			h := mf.GetMetric()[0].GetHistogram()
			mean := 0.0
			if h.GetSampleCount() > 0 {
				mean = h.GetSampleSum() / float64(h.GetSampleCount())
			}
			out = append(out, fmt.Sprintf("%s count %d mean %.4g", name, h.GetSampleCount(), mean))
		}
	}
	return strings.Join(out, "; ")
}

// startProfile starts a CPU profile of the process (kiosk and node) into
// cpuPath and an execution trace into tracePath, each when set, and
// returns what stops them.
func startProfile(t *testing.T, cpuPath, tracePath string) (stop func()) {
	var stops []func()
	// record starts one recording into path when it is set.
	record := func(path string, start func(io.Writer) error, end func(), what, tool string) {
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := start(f); err != nil {
			t.Fatal(err)
		}
		stops = append(stops, func() {
			end()
			if err := f.Close(); err != nil {
				t.Error(err)
			}
			t.Logf("%s in %s: %s %s", what, path, tool, path)
		})
	}
	record(cpuPath, pprof.StartCPUProfile, pprof.StopCPUProfile, "CPU profile of the drain (kiosk and node)", "go tool pprof -top")
	record(tracePath, trace.Start, trace.Stop, "execution trace of the drain", "go tool trace")
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// ackTimes wraps the outbox to note when each record is acknowledged.
type ackTimes struct {
	*outbox.Outbox
	mu    sync.Mutex
	acked map[uint64]time.Time
}

func (a *ackTimes) Ack(seq uint64) error {
	a.mu.Lock()
	a.acked[seq] = time.Now()
	a.mu.Unlock()
	return a.Outbox.Ack(seq)
}

// TestCaptureToAckLatency measures, at a steady capture rate (default 10
// records/s of 20 KB for 30 s), the time from the start of Save (seal and
// durable append) to the node's ack reaching the kiosk. It runs only with
// UPLINK_BENCH=1 (make bench-uplink).
func TestCaptureToAckLatency(t *testing.T) {
	if os.Getenv("UPLINK_BENCH") != "1" {
		t.Skip("a measurement, not a test: run it with make bench-uplink (UPLINK_BENCH=1)")
	}
	rate, secs, size := benchEnv("UPLINK_RATE", 10), benchEnv("UPLINK_SECONDS", 30), benchEnv("UPLINK_SIZE", 20000)
	r := newRig(t, "kiosk-001")
	url, which, _ := r.brokerURL(t)
	r.startNode("node-idn-1", r.sqliteStore(), url)
	k := r.newKiosk("kiosk-001", 4)
	at := &ackTimes{Outbox: k.ob, acked: map[uint64]time.Time{}}
	k.run(t, url, 4, at)
	waitFor(t, 20*time.Second, "kiosk connected", k.up.Connected)
	started, saved := map[uint64]time.Time{}, map[uint64]time.Time{}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; i < rate*secs; i++ {
		<-tick.C
		rec := record("kiosk-001", size)
		t0 := time.Now()
		seq, err := k.ob.AppendWith(context.Background(), func(seq uint64, prev [32]byte) ([]byte, error) { return k.sealer.Seal(rec, seq, prev) })
		if err != nil {
			t.Fatal(err)
		}
		started[seq], saved[seq] = t0, time.Now()
	}
	k.drained(t, time.Minute)
	var lat, save, deliver []time.Duration
	at.mu.Lock()
	for seq, t0 := range started {
		lat = append(lat, at.acked[seq].Sub(t0))
		save = append(save, saved[seq].Sub(t0))
		deliver = append(deliver, at.acked[seq].Sub(saved[seq]))
	}
	at.mu.Unlock()
	pct := func(d []time.Duration) string {
		slices.Sort(d)
		p := func(q float64) time.Duration {
			return d[min(len(d)-1, int(q*float64(len(d))))].Round(10 * time.Microsecond)
		}
		return fmt.Sprintf("p50 %v, p90 %v, p99 %v, max %v", p(0.5), p(0.9), p(0.99), d[len(d)-1].Round(10*time.Microsecond))
	}
	t.Logf("LATENCY: %d records of %d bytes at %d/s over TLS (%s), capture (seal + fsync) to ack: %s", len(lat), size, rate, which, pct(lat))
	t.Logf("LATENCY split: seal + durable append %s; saved to ack %s", pct(save), pct(deliver))
}

var _ uplink.Queue = (*ackTimes)(nil)
