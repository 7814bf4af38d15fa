package minutiae

import "math/bits"

//go:generate go run gen_tables.go

// Angles inside the extractor are integers in units of 1/1024 turn
// (0.3515625°), counter-clockwise from the x axis with y pointing up, as
// ISO/IEC 19794-2 measures them. Ridge orientations (undirected) live in
// [0, 512); directions in [0, 1024). Every computation that can change the
// output is integer arithmetic, so templates are bit-identical on every
// architecture.
const (
	turn     = 1024
	halfTurn = turn / 2
)

// atan2 returns the angle of the vector (x, y), y up, in [0, turn). atan2(0,
// 0) is 0.
func atan2(y, x int64) int {
	ax, ay := x, y
	if ax < 0 {
		ax = -ax
	}
	if ay < 0 {
		ay = -ay
	}
	var a int
	switch {
	case ax == 0 && ay == 0:
		return 0
	case ax >= ay:
		a = int(atanTable[(ay*1024+ax/2)/ax])
	default:
		a = turn/4 - int(atanTable[(ax*1024+ay/2)/ay])
	}
	switch {
	case x >= 0 && y >= 0:
		return a & (turn - 1)
	case x < 0 && y >= 0:
		return turn/2 - a
	case x < 0:
		return turn/2 + a
	default:
		return (turn - a) & (turn - 1)
	}
}

// cosQ14 and sinQ14 return cos and sin of angle a (units of 1/1024 turn) in
// Q14 fixed point.
func cosQ14(a int) int { return int(cosTable[a&(turn-1)]) }
func sinQ14(a int) int { return int(cosTable[(a-turn/4)&(turn-1)]) }

// angleDiff returns the absolute difference of two directions in [0, turn/2].
func angleDiff(a, b int) int {
	d := (a - b) & (turn - 1)
	if d > turn/2 {
		d = turn - d
	}
	return d
}

// isqrt returns floor(sqrt(v)) for v >= 0, by integer Newton iteration.
func isqrt(v int64) int64 {
	if v <= 0 {
		return 0
	}
	x := int64(1) << ((bits.Len64(uint64(v)) + 1) / 2) // >= sqrt(v)
	y := (x + v/x) / 2
	for y < x {
		x = y
		y = (x + v/x) / 2
	}
	return x
}

// roundDiv returns n/d rounded half away from zero, for d > 0.
func roundDiv(n, d int) int {
	if n >= 0 {
		return (n + d/2) / d
	}
	return -((-n + d/2) / d)
}
