package synth

import (
	"fmt"
	"sync"
)

// Options configure a Generator.
type Options struct {
	// Sensor is the sensor impressions are rendered for; zero means Optical.
	Sensor Sensor
}

// DefaultOptions returns the defaults: impressions as a 500-ppi optical
// plate (FVC2002 DB1 style) would take them.
func DefaultOptions() *Options { return &Options{Sensor: Optical} }

// Generator makes synthetic fingerprints. It holds only immutable tables
// (the Gabor kernel bank), so one Generator is safe for concurrent use.
type Generator struct {
	sensor      *sensorModel
	kernels     *kernelBank // full resolution
	halfKernels *kernelBank // half resolution, for growing
}

// New returns a Generator; opts nil means DefaultOptions.
func New(opts *Options) (*Generator, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	s := opts.Sensor
	if s == 0 {
		s = Optical
	}
	sm := s.model()
	if sm == nil {
		return nil, fmt.Errorf("synth: unknown sensor %d (use synth.Optical, synth.R30x or synth.FPC1020)", s)
	}
	return &Generator{
		sensor:      sm,
		kernels:     newKernelBank(6, 6.5, 0.25, 27),
		halfKernels: newKernelBank(3, 3.25, 0.125, 27),
	}, nil
}

// Sensor returns the sensor the Generator renders impressions for.
func (g *Generator) Sensor() Sensor { return g.sensor.id }

// Master returns the master fingerprint for a seed. Building one takes
// tens to a few hundred milliseconds; callers that take many impressions
// of a finger keep the Finger (or the Traveller) rather than call this
// again.
func (g *Generator) Master(seed uint64) *Master { return g.newMaster(seed) }

// Finger returns the finger whose master has the given seed.
func (g *Generator) Finger(seed uint64) *Finger {
	return &Finger{g: g, Master: g.newMaster(seed)}
}

// FingerOf returns the finger with master m as this Generator's sensor
// sees it. Masters do not depend on the sensor, so one master can serve
// Generators for several sensors.
func (g *Generator) FingerOf(m *Master, position int) *Finger {
	return &Finger{g: g, Master: m, Position: position}
}

// Traveller returns the identity with the given seed. A traveller always
// has the same ten fingers: Traveller(s).Finger(p) gives the same master on
// every call, in every process, on every machine.
func (g *Generator) Traveller(seed uint64) *Traveller {
	return &Traveller{g: g, seed: seed}
}

// Traveller is a synthetic identity with ten fingers. Its masters are built
// on first use and kept, so a Traveller is the thing to hold on to between
// captures. It is safe for concurrent use.
type Traveller struct {
	g    *Generator
	seed uint64
	mu   sync.Mutex
	fing [10]*Finger
}

// Seed returns the traveller's seed.
func (t *Traveller) Seed() uint64 { return t.seed }

// Finger returns the finger at an ISO/IEC 19794-2 finger position: 1 to 5
// right thumb to little finger, 6 to 10 left thumb to little finger.
func (t *Traveller) Finger(position int) (*Finger, error) {
	if position < 1 || position > 10 {
		return nil, fmt.Errorf("synth: finger position %d out of range (want 1 right thumb .. 10 left little)", position)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.fing[position-1]; f != nil {
		return f, nil
	}
	f := &Finger{g: t.g, Master: t.g.newMaster(FingerSeed(t.seed, position)), Position: position}
	t.fing[position-1] = f
	return f, nil
}

// FingerSeed returns the master seed of a traveller's finger.
func FingerSeed(traveller uint64, position int) uint64 {
	return mix(mix(traveller^0x74726176656c6c72) + uint64(position))
}

// Finger is one finger of a traveller as one sensor sees it: a master and
// the Generator that renders its impressions.
type Finger struct {
	g *Generator
	// Master is the finger's master fingerprint.
	Master *Master
	// Position is the ISO finger position (0 when the finger was made from
	// a bare seed).
	Position int
}

// SetTraveller returns the seed of traveller number index of the set with
// the given seed: the identities `kioskctl synth -seed S` draws (finger 101+i
// is position i%10+1 of traveller SetTraveller(S, i/10)). Different sets
// share no travellers, short of a 64-bit hash collision.
func SetTraveller(set uint64, index int) uint64 {
	return mix(mix(set^0x7365747365747365) + uint64(index))
}
