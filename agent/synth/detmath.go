package synth

import "math"

// The functions in this file are the only transcendental functions the
// generator uses. They are written so that every architecture computes the
// same bits: Go may fuse x*y+z into one FMA instruction on arm64 (and other
// targets) but not on amd64, and the math package uses assembly on some
// targets, so its results are not guaranteed to match across machines. Every
// product that feeds a sum is wrapped in an explicit float64(...) conversion,
// which the Go spec defines as a rounding point that forbids fusion. Only
// +, -, *, /, math.Sqrt, math.Floor and math.Ldexp are used: all of them are
// correctly rounded (or exact) IEEE 754 operations on every target.

const (
	pi     = math.Pi
	twoPi  = 2 * math.Pi
	halfPi = math.Pi / 2
	// pio2hi + pio2lo is π/2 to about 2^-85, for argument reduction.
	pio2hi = 1.5707963267341256e+00
	pio2lo = 6.0771005065061922e-11
	ln2hi  = 6.93147180369123816490e-01
	ln2lo  = 1.90821492927058770002e-10
	log2e  = 1.44269504088896338700e+00
)

// sinCos returns sin(x) and cos(x) to within a few ulp for |x| < 1e6.
func sinCos(x float64) (s, c float64) {
	q := math.Floor(float64(x*(2/math.Pi)) + 0.5)
	r := x - float64(q*pio2hi)
	r -= float64(q * pio2lo)
	sr, cr := sinPoly(r), cosPoly(r)
	switch int64(q) & 3 {
	case 0:
		return sr, cr
	case 1:
		return cr, -sr
	case 2:
		return -sr, -cr
	default:
		return -cr, sr
	}
}

// sinPoly is the Taylor series of sin on |r| <= π/4 (error < 1e-17).
func sinPoly(r float64) float64 {
	r2 := float64(r * r)
	p := -1.0 / 6227020800.0 // -1/13!
	p = float64(p*r2) + 1.0/39916800.0
	p = float64(p*r2) - 1.0/362880.0
	p = float64(p*r2) + 1.0/5040.0
	p = float64(p*r2) - 1.0/120.0
	p = float64(p*r2) + 1.0/6.0
	// sin r = r - r^3 p' where p' = 1/6 - r^2/120 + ...
	return r - float64(float64(r*r2)*p)
}

// cosPoly is the Taylor series of cos on |r| <= π/4 (error < 1e-17).
func cosPoly(r float64) float64 {
	r2 := float64(r * r)
	p := 1.0 / 87178291200.0 // 1/14!
	p = float64(p*r2) - 1.0/479001600.0
	p = float64(p*r2) + 1.0/3628800.0
	p = float64(p*r2) - 1.0/40320.0
	p = float64(p*r2) + 1.0/720.0
	p = float64(p*r2) - 1.0/24.0
	p = float64(p*r2) + 0.5
	return 1 - float64(r2*p)
}

// sin returns sin(x); see sinCos.
func sin(x float64) float64 { s, _ := sinCos(x); return s }

// cos returns cos(x); see sinCos.
func cos(x float64) float64 { _, c := sinCos(x); return c }

// atan returns the arctangent of t in (-π/2, π/2).
func atan(t float64) float64 {
	neg := t < 0
	if neg {
		t = -t
	}
	var base float64
	switch {
	case t > 2.414213562373095: // tan(3π/8)
		base, t = halfPi, -1/t
	case t > 0.41421356237309503: // tan(π/8)
		base, t = pi/4, (t-1)/(t+1)
	}
	// Taylor series of atan on |t| <= tan(π/8): 22 terms keep the error
	// below 1e-17.
	t2 := float64(t * t)
	p := 1.0 / 45
	for k := 43; k >= 1; k -= 2 {
		p = 1/float64(k) - float64(t2*p)
	}
	r := base + float64(t*p)
	if neg {
		return -r
	}
	return r
}

// atan2 returns the angle of the vector (x, y) in (-π, π], like math.Atan2.
func atan2(y, x float64) float64 {
	switch {
	case x > 0:
		return atan(y / x)
	case x < 0:
		if y >= 0 {
			return atan(y/x) + pi
		}
		return atan(y/x) - pi
	case y > 0:
		return halfPi
	case y < 0:
		return -halfPi
	}
	return 0
}

// exp returns e^x for x in about [-700, 700]; it underflows to 0 below.
func exp(x float64) float64 {
	if x < -700 {
		return 0
	}
	k := math.Floor(float64(x*log2e) + 0.5)
	r := x - float64(k*ln2hi)
	r -= float64(k * ln2lo)
	// Taylor series on |r| <= ln2/2: Σ r^k/k! for k = 0..12.
	p := 1.0 / 479001600 // 1/12!
	for n := 11; n >= 0; n-- {
		p = float64(p*r) + 1/fact[n]
	}
	return math.Ldexp(p, int(k))
}

// fact holds n! for the exp series.
var fact = [...]float64{1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800}

// sqrt is math.Sqrt, correctly rounded on every target.
func sqrt(x float64) float64 { return math.Sqrt(x) }
