package demo

import (
	"errors"
	"image"
	"math/rand/v2"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/synth"
	"github.com/bali-rbdes/kiosk/drivers/r30x/r30xsim"
)

// Crowd is the travellers who walk up to the kiosk, one at a time. It
// follows the kiosk's capture events (Handle): at each session that starts
// the next traveller steps up (a new identity, or one seen before); at each
// prompt for a finger they place that finger on the simulated sensor, a
// fresh impression of it each time, which the sensor takes once
// (NextFinger, its ImageSource) before the finger is lifted again. A
// traveller whose session does not end saved comes back for the next
// session. It is safe for concurrent use.
type Crowd struct {
	gen       *synth.Generator
	set       uint64
	returning float64
	limit     int

	builders sync.WaitGroup // goroutines building masters ahead

	mu sync.Mutex
	// arrivals draws who comes; impressions draws how fingers are placed
	// (two streams, so that one traveller's attempts do not change who
	// comes next).
	arrivals   *rand.Rand
	impression *rand.Rand
	sim        *r30xsim.Sim
	identities []*synth.Traveller
	visits     []*Visit
	bySession  map[string]*Visit
	current    *Visit
	again      *Visit // the traveller whose session failed
	placed     *synth.Impression
}

// Visit is one traveller at the kiosk, for one or more sessions.
type Visit struct {
	// N numbers the travellers served, from 1.
	N int
	// Identity numbers the distinct people, from 1, in order of first
	// appearance; Returning is set when this one was seen before.
	Identity  int
	Returning bool
	// Seed is the identity's synth seed.
	Seed      uint64
	Traveller *synth.Traveller
	// Sessions are the kiosk sessions this traveller went through (more
	// than one when a session failed); the last is the current one.
	Sessions []string
	// Placed holds every impression placed, by ISO finger position, in
	// order: the ground truth of what the sensor saw.
	Placed map[int][]*synth.Impression
	// Outcome is how the last session ended ("" while it runs).
	Outcome capture.Outcome
}

// NewCrowd returns the crowd of the identity set seed: a share returning
// of the arrivals are travellers seen before; after limit travellers
// (0: no limit) nobody comes any more.
func NewCrowd(seed uint64, returning float64, limit int) (*Crowd, error) {
	gen, err := synth.New(&synth.Options{Sensor: synth.R30x})
	if err != nil {
		return nil, err
	}
	return &Crowd{gen: gen, set: seed, returning: returning, limit: limit,
		arrivals:   rand.New(rand.NewPCG(seed, 0x61727269766573)),
		impression: rand.New(rand.NewPCG(seed, 0x696d7072657373)), bySession: map[string]*Visit{}}, nil
}

func (c *Crowd) attach(sim *r30xsim.Sim) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sim = sim
}

// Handle moves the crowd along with a capture event and returns the visit
// it concerns (nil for sessions nobody came to, and events of no session).
func (c *Crowd) Handle(e capture.Event) *Visit {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Kind == capture.KindStarted {
		return c.arrive(e)
	}
	v := c.bySession[e.Session]
	if v == nil {
		return nil
	}
	switch e.Kind {
	case capture.KindPrompt:
		if e.Finger != nil && v == c.current {
			c.place(v, e.Finger.Position)
		}
	case capture.KindEnded:
		if e.Ended != nil {
			v.Outcome = e.Ended.Outcome
			if v.Outcome != capture.OutcomeSaved {
				c.again = v
			}
		}
		if v == c.current {
			c.current, c.placed = nil, nil
		}
	}
	return v
}

// arrive picks who steps up for a new session.
func (c *Crowd) arrive(e capture.Event) *Visit {
	v := c.again
	c.again = nil
	if v == nil {
		if c.limit > 0 && len(c.visits) >= c.limit {
			return nil
		}
		v = &Visit{N: len(c.visits) + 1, Placed: map[int][]*synth.Impression{}}
		if len(c.identities) > 0 && c.arrivals.Float64() < c.returning {
			i := c.arrivals.IntN(len(c.identities))
			v.Identity, v.Returning, v.Traveller = i+1, true, c.identities[i]
		} else {
			t := c.gen.Traveller(synth.SetTraveller(c.set, len(c.identities)))
			c.identities = append(c.identities, t)
			v.Identity, v.Traveller = len(c.identities), t
		}
		v.Seed = v.Traveller.Seed()
		c.visits = append(c.visits, v)
	}
	v.Outcome = ""
	v.Sessions = append(v.Sessions, e.Session)
	c.bySession[e.Session] = v
	c.current = v
	// Build the masters of the fingers asked for while the portrait is
	// taken; a returning traveller has them already.
	if e.Started != nil {
		t, fingers := v.Traveller, e.Started.Fingers
		c.builders.Add(1)
		go func() {
			defer c.builders.Done()
			for _, name := range fingers {
				if f, err := capture.ParseFinger(name); err == nil {
					_, _ = t.Finger(int(f))
				}
			}
		}()
	}
	return v
}

// place puts a fresh impression of the finger on the sensor.
func (c *Crowd) place(v *Visit, name string) {
	f, err := capture.ParseFinger(name)
	if err != nil {
		return
	}
	finger, err := v.Traveller.Finger(int(f))
	if err != nil {
		return
	}
	im := finger.ImpressionRand(c.impression)
	v.Placed[int(f)] = append(v.Placed[int(f)], im)
	c.placed = im
	if c.sim != nil {
		c.sim.SetFinger(true)
	}
}

// errNoFinger is what the sensor gets when nothing was placed.
var errNoFinger = errors.New("demo: no finger placed")

// NextFinger gives the sensor the placed finger once, then lifts it; it
// implements r30xsim.ImageSource.
func (c *Crowd) NextFinger() (image.Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.placed
	c.placed = nil
	if c.sim != nil {
		c.sim.SetFinger(false)
	}
	if im == nil {
		return nil, errNoFinger
	}
	return im.Image, nil
}

// Wait waits for the masters being built ahead.
func (c *Crowd) Wait() { c.builders.Wait() }

// Visits returns the visits so far.
func (c *Crowd) Visits() []*Visit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Visit(nil), c.visits...)
}

// Visit returns the visit of a session, or nil.
func (c *Crowd) Visit(session string) *Visit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bySession[session]
}
