package fvc

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/fingerimage"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/matcher"
)

// Extractor turns a fingerprint image into a minutiae record whose
// coordinates are pixels of that image at ppi pixels per inch. It need not
// be safe for concurrent use: Evaluate makes one per worker.
type Extractor interface {
	Extract(img *image.Gray, ppi int) (*fmr.Record, error)
}

// Options configure Evaluate.
type Options struct {
	// NewExtractor makes an extractor for a worker; it is needed only when
	// the database holds images.
	NewExtractor func() (Extractor, error)
	// Matcher compares templates; nil means matcher.Default().
	Matcher *matcher.Matcher
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
	// Clock times extraction and matching; nil means the real clock.
	Clock clock.Clock
	// ThreadCPUTime, when set, returns the CPU time the calling OS thread
	// has used; workers then lock themselves to their thread and time
	// extraction and matching in CPU time rather than by Clock, so that
	// other load on the machine does not inflate the figures.
	ThreadCPUTime func() time.Duration
}

// Failure is a sample that gave no usable template.
type Failure struct {
	Sample int
	Err    error
}

// Comparison is a scored pair of samples.
type Comparison struct {
	Pair
	Score float64
}

// Result is the outcome of evaluating one database.
type Result struct {
	Database *Database
	// Minutiae is the number of minutiae of each sample's template (0 for a
	// failure).
	Minutiae []int
	// Failures lists the samples that could not be read or extracted, or
	// whose template has no minutia; their comparisons score 0.
	Failures []Failure
	// Genuine and Impostor are the scored comparisons of the protocol.
	Genuine, Impostor []Comparison
	Rates             Rates
	// ExtractTimes holds the extraction time of each image extracted
	// (decoding excluded).
	ExtractTimes []time.Duration
	// PrepareTime is the total time spent preparing matcher templates,
	// MatchTime the total busy time of the workers comparing them; divide
	// by the counts for per-item figures.
	PrepareTime time.Duration
	MatchTime   time.Duration
}

// MsPerImage returns the mean and median extraction time per image in
// milliseconds (0, 0 for a database of templates).
func (r *Result) MsPerImage() (mean, median float64) {
	if len(r.ExtractTimes) == 0 {
		return 0, 0
	}
	var sum time.Duration
	for _, d := range r.ExtractTimes {
		sum += d
	}
	s := slices.Clone(r.ExtractTimes)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return ms(sum) / float64(len(s)), ms(med)
}

// MsPerMatch returns the mean time of one comparison in milliseconds, on
// one worker (template preparation excluded).
func (r *Result) MsPerMatch() float64 {
	n := len(r.Genuine) + len(r.Impostor)
	if n == 0 {
		return 0
	}
	return ms(r.MatchTime) / float64(n)
}

// MsPerPrepare returns the mean time to prepare one matcher template in
// milliseconds.
func (r *Result) MsPerPrepare() float64 {
	if len(r.Minutiae) == 0 {
		return 0
	}
	return ms(r.PrepareTime) / float64(len(r.Minutiae))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ErrNoExtractor means a database holds images but Options.NewExtractor is
// nil.
var ErrNoExtractor = errors.New("fvc: database holds images but no extractor was given")

// Evaluate runs the FVC protocol on db. A sample that cannot be read or
// extracted counts as a failure to extract and scores 0 in all its
// comparisons, as in FVC; only a cancelled context or a missing extractor
// stops the evaluation.
func Evaluate(ctx context.Context, db *Database, opts *Options) (*Result, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Matcher == nil {
		o.Matcher = matcher.Default()
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	clk := clock.OrReal(o.Clock)
	now := func() time.Duration { return time.Duration(clk.Now().UnixNano()) }
	if o.ThreadCPUTime != nil {
		now = o.ThreadCPUTime
	}
	lockThread := func() func() {
		if o.ThreadCPUTime == nil {
			return func() {}
		}
		runtime.LockOSThread()
		return runtime.UnlockOSThread
	}
	for _, s := range db.Samples {
		if !s.Template && o.NewExtractor == nil {
			return nil, fmt.Errorf("%w (sample %s)", ErrNoExtractor, s.Path)
		}
	}
	n := len(db.Samples)
	res := &Result{Database: db, Minutiae: make([]int, n)}
	templates := make([]*matcher.Template, n)
	errs := make([]error, n)
	extractTimes := make([]time.Duration, n)
	prepareTimes := make([]time.Duration, n)

	// Stage 1: templates, one sample per task.
	next := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range o.Workers {
		g.Go(func() error {
			defer lockThread()()
			var ex Extractor
			for i := range next {
				s := db.Samples[i]
				var rec *fmr.Record
				var err error
				if s.Template {
					rec, err = readTemplate(s.Path)
				} else {
					if ex == nil {
						if ex, err = o.NewExtractor(); err != nil {
							return fmt.Errorf("fvc: making an extractor: %w", err)
						}
					}
					var img *fingerimage.Image
					if img, err = fingerimage.DecodeFile(s.Path); err == nil {
						ppi := db.PPI
						if img.PPI > 0 {
							ppi = img.PPI
						}
						start := now()
						rec, err = ex.Extract(img.Gray, ppi)
						extractTimes[i] = now() - start
						if err != nil {
							err = fmt.Errorf("extracting %s: %w", s.Path, err)
						}
					}
				}
				if err == nil && (rec == nil || len(rec.Views) == 0 || len(rec.Views[0].Minutiae) == 0) {
					err = fmt.Errorf("%s: template has no minutiae", s.Path)
				}
				if err != nil {
					errs[i] = err
					continue
				}
				start := now()
				t, err := o.Matcher.PrepareRecord(rec, 0)
				prepareTimes[i] = now() - start
				if err != nil {
					errs[i] = err
					continue
				}
				templates[i] = t
				res.Minutiae[i] = len(rec.Views[0].Minutiae)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			res.Failures = append(res.Failures, Failure{Sample: i, Err: err})
		}
		if !db.Samples[i].Template {
			res.ExtractTimes = append(res.ExtractTimes, extractTimes[i])
		}
		res.PrepareTime += prepareTimes[i]
	}

	// Stage 2: comparisons, in chunks, each worker timing its own busy time.
	genuine, impostor := db.Pairs()
	all := make([]Comparison, 0, len(genuine)+len(impostor))
	for _, p := range genuine {
		all = append(all, Comparison{Pair: p})
	}
	for _, p := range impostor {
		all = append(all, Comparison{Pair: p})
	}
	const chunk = 256
	chunks := make(chan []Comparison)
	var mu sync.Mutex
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		for lo := 0; lo < len(all); lo += chunk {
			select {
			case chunks <- all[lo:min(lo+chunk, len(all))]:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range o.Workers {
		g.Go(func() error {
			defer lockThread()()
			var busy time.Duration
			for c := range chunks {
				start := now()
				for k := range c {
					a, b := templates[c[k].A], templates[c[k].B]
					if a != nil && b != nil {
						c[k].Score = o.Matcher.Score(a, b)
					}
				}
				busy += now() - start
			}
			mu.Lock()
			res.MatchTime += busy
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Genuine = all[:len(genuine):len(genuine)]
	res.Impostor = all[len(genuine):]
	res.Rates = ComputeRates(scores(res.Genuine), scores(res.Impostor))
	return res, nil
}

func readTemplate(path string) (*fmr.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rec, err := fmr.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

func scores(cs []Comparison) []float64 {
	out := make([]float64, len(cs))
	for i, c := range cs {
		out[i] = c.Score
	}
	return out
}
