// Package simfault is the fault plan shared by the device simulators under
// drivers/: faults injected once on demand (a test says "the next capture
// is garbled") and faults that strike at random with a given probability
// (the demo's config says "faults: garbled=0.05,slow=0.01"), drawn from a
// seeded source so a run can be repeated.
package simfault

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Plan decides when faults strike. It is safe for concurrent use.
type Plan struct {
	mu      sync.Mutex
	known   []string
	pending map[string]int
	rates   map[string]float64
	rng     *rand.Rand
}

// New returns a plan for the fault names in known, striking at random with
// the given rates (probability per opportunity, 0 to 1), from a source
// seeded with seed.
func New(known []string, rates map[string]float64, seed uint64) (*Plan, error) {
	p := &Plan{
		known:   known,
		pending: map[string]int{},
		rates:   map[string]float64{},
		rng:     rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)),
	}
	for name, r := range rates {
		if err := p.check(name); err != nil {
			return nil, err
		}
		if !(r >= 0 && r <= 1) {
			return nil, fmt.Errorf("fault %q: rate %v is not between 0 and 1", name, r)
		}
		p.rates[name] = r
	}
	return p, nil
}

func (p *Plan) check(name string) error {
	if !slices.Contains(p.known, name) {
		return fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(p.known, ", "))
	}
	return nil
}

// Inject makes the named fault strike at its next opportunity (once per
// call).
func (p *Plan) Inject(name string) error {
	if err := p.check(name); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending[name]++
	return nil
}

// Strike reports whether the named fault strikes now: an injected one is
// consumed first, otherwise its rate decides.
func (p *Plan) Strike(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[name] > 0 {
		p.pending[name]--
		return true
	}
	r := p.rates[name]
	return r > 0 && p.rng.Float64() < r
}

// Intn returns a random int in [0, n) from the plan's source, for the
// shape of a fault (which rows are garbled); n must be positive.
func (p *Plan) Intn(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

// Fork returns a new random source seeded from the plan's, for filling a
// whole frame with noise without taking the plan's lock per byte.
func (p *Plan) Fork() *rand.Rand {
	p.mu.Lock()
	defer p.mu.Unlock()
	return rand.New(rand.NewPCG(p.rng.Uint64(), p.rng.Uint64()))
}

// Pending returns how many injected faults have not struck yet.
func (p *Plan) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.pending {
		n += c
	}
	return n
}

// Spec is a parsed fault spec.
type Spec struct {
	// Once are faults to inject once each, in order (a name may repeat).
	Once []string
	// Rates are faults that strike at random, with a probability per
	// opportunity.
	Rates map[string]float64
}

// Parse reads a fault spec such as "no-finger, garbled=0.05, slow=0.01":
// comma-separated names from known; a bare name is injected once (repeat
// it for more), name=rate strikes at random with that probability (0 to
// 1) at each opportunity. An empty spec means no faults.
func Parse(spec string, known []string) (Spec, error) {
	out := Spec{Rates: map[string]float64{}}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return out, nil
	}
	var errs []error
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		name, val, hasVal := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(known, ", ")))
			continue
		}
		if !hasVal {
			out.Once = append(out.Once, name)
			continue
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || !(r >= 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("fault %q: rate %q is not a number between 0 and 1", name, val))
			continue
		}
		if _, dup := out.Rates[name]; dup {
			errs = append(errs, fmt.Errorf("fault %q has two rates", name))
			continue
		}
		out.Rates[name] = r
	}
	if len(errs) > 0 {
		return Spec{}, errors.Join(errs...)
	}
	return out, nil
}
