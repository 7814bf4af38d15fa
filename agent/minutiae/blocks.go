package minutiae

// blocks computes per 8×8 block the grey mean and standard deviation and
// the gradient structure tensor from central differences at every pixel.
func (e *Extractor) blocks() {
	s := e.stride
	g := e.gray
	for by := 0; by < e.bh; by++ {
		y0, y1 := by*bs, min(by*bs+bs, e.h)
		for bx := 0; bx < e.bw; bx++ {
			x0, x1 := bx*bs, min(bx*bs+bs, e.w)
			var sum, sq, xx, yy, xy int32
			if x1-x0 == bs {
				for y := y0; y < y1; y++ {
					p := (y+pad)*s + pad + x0
					// Fixed-size views let the compiler drop bounds checks.
					up := (*[bs]uint8)(g[p-s : p-s+bs])
					mid := (*[bs + 2]uint8)(g[p-1 : p+bs+1])
					dn := (*[bs]uint8)(g[p+s : p+s+bs])
					for k := 0; k < bs; k++ {
						v := int32(mid[k+1])
						sum += v
						sq += v * v
						gx := int32(mid[k+2]) - int32(mid[k])
						gy := int32(dn[k]) - int32(up[k])
						xx += gx * gx
						yy += gy * gy
						xy += gx * gy
					}
				}
			} else {
				for y := y0; y < y1; y++ {
					row := (y+pad)*s + pad
					for x := x0; x < x1; x++ {
						p := row + x
						v := int32(g[p])
						sum += v
						sq += v * v
						gx := int32(g[p+1]) - int32(g[p-1])
						gy := int32(g[p+s]) - int32(g[p-s])
						xx += gx * gx
						yy += gy * gy
						xy += gx * gy
					}
				}
			}
			n := int32((y1 - y0) * (x1 - x0))
			b := by*e.bw + bx
			mean := (sum + n/2) / n
			v := sq/n - mean*mean
			e.bmean[b] = uint8(mean)
			e.bstd[b] = uint8(min(isqrt(int64(max(v, 0))), 255))
			e.sxx[b], e.syy[b], e.sxy[b] = xx, yy, xy
			e.energy[b] = (xx + yy) / n
		}
	}
}

// oriR is the radius in blocks of the smoothing of the orientation
// field (5×5 blocks).
const oriR = 2

// Segmentation constants.
const (
	// minEnergy is the least mean squared gradient of a foreground block,
	// whatever the rest of the image.
	minEnergy = 60
	// energyFrac (in 1/256) of the 90th percentile block energy is the
	// relative threshold.
	energyFrac = 40
)

// segment marks foreground blocks: gradient energy (averaged over 3×3
// blocks) above a threshold relative to the image's strongest blocks, then
// two majority votes, the largest 4-connected component, holes filled.
// It also computes the distance of each block to the background.
func (e *Extractor) segment() {
	bw, bh := e.bw, e.bh
	nb := bw * bh
	avg := e.tmp[:nb]
	e.box3(e.energy, avg)
	// 90th percentile by a histogram of sqrt(energy).
	var hist [512]int32
	for _, v := range avg {
		hist[min(isqrt(int64(v)), 511)]++
	}
	want, acc, p90 := int32(nb-nb*9/10), int32(0), 0
	for i := 511; i >= 0; i-- {
		acc += hist[i]
		if acc >= want {
			p90 = i
			break
		}
	}
	thr := max(int32(minEnergy), int32(p90*p90*energyFrac/256))
	m := e.mask
	for i, v := range avg {
		m[i] = b2u(v >= thr)
	}
	e.majority()
	e.majority()
	e.largestComponent()
	e.fillHoles()
	e.distance()
	// Dilation by one block: where the oriented filters must run.
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			var v uint8
			for dy := -1; dy <= 1 && v == 0; dy++ {
				for dx := -1; dx <= 1; dx++ {
					x, y := bx+dx, by+dy
					if x >= 0 && y >= 0 && x < bw && y < bh && m[y*bw+x] != 0 {
						v = 1
						break
					}
				}
			}
			e.dil[by*bw+bx] = v
		}
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// box3 writes to dst the mean of src over each block's 3×3 neighbourhood
// (clipped at the edges).
func (e *Extractor) box3(src, dst []int32) {
	bw, bh := e.bw, e.bh
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			var sum, n int32
			for y := max(by-1, 0); y <= min(by+1, bh-1); y++ {
				for x := max(bx-1, 0); x <= min(bx+1, bw-1); x++ {
					sum += src[y*bw+x]
					n++
				}
			}
			dst[by*bw+bx] = sum / n
		}
	}
}

// majority replaces each mask block by the majority of its 3×3
// neighbourhood (blocks outside the image count as background).
func (e *Extractor) majority() {
	bw, bh := e.bw, e.bh
	out := e.dist // scratch
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			n := 0
			for y := max(by-1, 0); y <= min(by+1, bh-1); y++ {
				for x := max(bx-1, 0); x <= min(bx+1, bw-1); x++ {
					n += int(e.mask[y*bw+x])
				}
			}
			out[by*bw+bx] = b2u(n >= 5)
		}
	}
	copy(e.mask, out)
}

// largestComponent keeps the largest 4-connected foreground component.
func (e *Extractor) largestComponent() {
	bw, bh := e.bw, e.bh
	nb := bw * bh
	label := e.tmp[:nb]
	clear(label)
	stack := e.tmp[nb : 2*nb]
	best, bestSize := int32(0), 0
	next := int32(0)
	for i := range nb {
		if e.mask[i] == 0 || label[i] != 0 {
			continue
		}
		next++
		size := 0
		sp := 0
		stack[sp] = int32(i)
		sp++
		label[i] = next
		for sp > 0 {
			sp--
			b := int(stack[sp])
			size++
			x, y := b%bw, b/bw
			for k := 0; k < 4; k++ {
				nx, ny := x+dx4[k], y+dy4[k]
				if nx < 0 || ny < 0 || nx >= bw || ny >= bh {
					continue
				}
				nbi := ny*bw + nx
				if e.mask[nbi] != 0 && label[nbi] == 0 {
					label[nbi] = next
					stack[sp] = int32(nbi)
					sp++
				}
			}
		}
		if size > bestSize {
			best, bestSize = next, size
		}
	}
	for i := range nb {
		e.mask[i] = b2u(e.mask[i] != 0 && label[i] == best)
	}
}

var dx4 = [4]int{1, 0, -1, 0}
var dy4 = [4]int{0, -1, 0, 1}

// fillHoles turns background components that do not touch the image edge
// into foreground.
func (e *Extractor) fillHoles() {
	bw, bh := e.bw, e.bh
	nb := bw * bh
	outside := e.dist // scratch: 1 = background reachable from the edge
	clear(outside[:nb])
	stack := e.tmp[nb : 2*nb]
	sp := 0
	push := func(b int) {
		if e.mask[b] == 0 && outside[b] == 0 {
			outside[b] = 1
			stack[sp] = int32(b)
			sp++
		}
	}
	for x := 0; x < bw; x++ {
		push(x)
		push((bh-1)*bw + x)
	}
	for y := 0; y < bh; y++ {
		push(y * bw)
		push(y*bw + bw - 1)
	}
	for sp > 0 {
		sp--
		b := int(stack[sp])
		x, y := b%bw, b/bw
		for k := 0; k < 4; k++ {
			nx, ny := x+dx4[k], y+dy4[k]
			if nx >= 0 && ny >= 0 && nx < bw && ny < bh {
				push(ny*bw + nx)
			}
		}
	}
	for i := range nb {
		e.mask[i] = b2u(outside[i] == 0)
	}
}

// distance computes the chessboard distance in blocks from each block to
// the nearest background block (or the image edge), capped at 255.
func (e *Extractor) distance() {
	bw, bh := e.bw, e.bh
	d := e.dist
	const inf = 255
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			i := by*bw + bx
			if e.mask[i] == 0 {
				d[i] = 0
				continue
			}
			v := inf
			if bx == 0 || by == 0 || bx == bw-1 || by == bh-1 {
				v = 1
			}
			if bx > 0 {
				v = min(v, int(d[i-1])+1)
			}
			if by > 0 {
				v = min(v, int(d[i-bw])+1)
				if bx > 0 {
					v = min(v, int(d[i-bw-1])+1)
				}
				if bx < bw-1 {
					v = min(v, int(d[i-bw+1])+1)
				}
			}
			d[i] = uint8(v)
		}
	}
	for by := bh - 1; by >= 0; by-- {
		for bx := bw - 1; bx >= 0; bx-- {
			i := by*bw + bx
			if d[i] == 0 {
				continue
			}
			v := int(d[i])
			if bx < bw-1 {
				v = min(v, int(d[i+1])+1)
			}
			if by < bh-1 {
				v = min(v, int(d[i+bw])+1)
				if bx < bw-1 {
					v = min(v, int(d[i+bw+1])+1)
				}
				if bx > 0 {
					v = min(v, int(d[i+bw-1])+1)
				}
			}
			d[i] = uint8(v)
		}
	}
}

// orient computes the ridge orientation and its certainty per block: the
// structure tensor summed over 3×3 blocks gives a doubled gradient angle
// and a coherence; unit vectors weighted by coherence are then averaged
// over 5×5 blocks.
func (e *Extractor) orient() {
	bw, bh := e.bw, e.bh
	nb := bw * bh
	vc := e.tmp[:nb]       // cos of doubled angle × coherence, Q14
	vs := e.tmp[nb : 2*nb] // sin
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			i := by*bw + bx
			if e.dil[i] == 0 {
				vc[i], vs[i] = 0, 0
				continue
			}
			var xx, yy, xy int64
			for y := max(by-1, 0); y <= min(by+1, bh-1); y++ {
				for x := max(bx-1, 0); x <= min(bx+1, bw-1); x++ {
					j := y*bw + x
					xx += int64(e.sxx[j])
					yy += int64(e.syy[j])
					xy += int64(e.sxy[j])
				}
			}
			a, b, c := xx-yy, -2*xy, xx+yy // y up
			if c == 0 {
				vc[i], vs[i] = 0, 0
				continue
			}
			coh := isqrt(a*a+b*b) * 256 / c // Q8
			ang := atan2(b, a)
			vc[i] = int32(int64(cosQ14(ang)) * coh >> 8)
			vs[i] = int32(int64(sinQ14(ang)) * coh >> 8)
		}
	}
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			i := by*bw + bx
			if e.dil[i] == 0 {
				e.ori[i], e.coh[i] = 0, 0
				continue
			}
			var sc, ss int64
			for y := max(by-oriR, 0); y <= min(by+oriR, bh-1); y++ {
				for x := max(bx-oriR, 0); x <= min(bx+oriR, bw-1); x++ {
					j := y*bw + x
					sc += int64(vc[j])
					ss += int64(vs[j])
				}
			}
			// Gradient doubled angle → ridge orientation: halve, turn 90°.
			e.ori[i] = int16((atan2(ss, sc)/2 + turn/4) & (halfTurn - 1))
			e.coh[i] = uint8(min(isqrt(sc*sc+ss*ss)*255/(int64((2*oriR+1)*(2*oriR+1))*16384), 255))
		}
	}
}
