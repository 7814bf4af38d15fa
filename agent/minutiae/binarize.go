package minutiae

// Oriented filter geometry.
const (
	// nDirs is the number of quantised ridge orientations of the filters
	// (5.625° apart).
	nDirs = 32
	// alongR is the half-length of the smoothing along the ridge.
	alongR = 7
	// acrossR is the half-length of the average across the ridge: 9 pixels,
	// about one ridge period at 500 ppi.
	acrossR = 4
)

// newTables builds the lookup tables.
func newTables() *tables {
	t := &tables{}
	for c := 0; c < 256; c++ {
		var x [8]int
		n := 0
		for i := range 8 {
			x[i] = c >> i & 1
			n += x[i]
		}
		t.count[c] = uint8(n)
		// Yokoi's 8-connectivity number over the 4-neighbours E, N, W, S
		// (even indices) with complemented values.
		k8 := 0
		for k := 0; k < 8; k += 2 {
			a, b, d := 1-x[k], 1-x[(k+1)&7], 1-x[(k+2)&7]
			k8 += a - a*b*d
		}
		t.yokoi[c] = uint8(k8)
	}
	for d := range nDirs {
		a := d * halfTurn / nDirs
		for k := -alongR; k <= alongR; k++ {
			t.alongX[d][k+alongR] = int8(roundDiv(k*cosQ14(a), 1<<14))
			t.alongY[d][k+alongR] = int8(-roundDiv(k*sinQ14(a), 1<<14))
		}
		for k := -acrossR; k <= acrossR; k++ {
			t.acrX[d][k+acrossR] = int8(roundDiv(k*cosQ14(a+turn/4), 1<<14))
			t.acrY[d][k+acrossR] = int8(-roundDiv(k*sinQ14(a+turn/4), 1<<14))
		}
	}
	return t
}

// filterDir returns the quantised filter direction of block b.
func (e *Extractor) filterDir(b int) int {
	return (int(e.ori[b]) + halfTurn/nDirs/2) * nDirs / halfTurn & (nDirs - 1)
}

// binarize smooths the image along the ridges (15 pixels) in the dilated
// foreground, then marks as ridge each foreground pixel darker than the
// 9-pixel average of the smoothed image across the ridge.
func (e *Extractor) binarize() {
	s := e.stride
	t := e.tables
	var offA [2*alongR + 1]int
	var offC [2*acrossR + 1]int
	g, al, bin := e.gray, e.along, e.bin
	for by := 0; by < e.bh; by++ {
		y0, y1 := by*bs, min(by*bs+bs, e.h)
		for bx := 0; bx < e.bw; bx++ {
			b := by*e.bw + bx
			if e.dil[b] == 0 {
				continue
			}
			d := e.filterDir(b)
			for k := range offA {
				offA[k] = int(t.alongY[d][k])*s + int(t.alongX[d][k])
			}
			x0, x1 := bx*bs, min(bx*bs+bs, e.w)
			for y := y0; y < y1; y++ {
				row := (y+pad)*s + pad
				for p := row + x0; p < row+x1; p++ {
					var sum uint32
					for _, o := range offA {
						sum += uint32(g[p+o])
					}
					al[p] = uint16(sum)
				}
			}
		}
	}
	e.clarSum, e.clarN = 0, 0
	for by := 0; by < e.bh; by++ {
		y0, y1 := by*bs, min(by*bs+bs, e.h)
		for bx := 0; bx < e.bw; bx++ {
			b := by*e.bw + bx
			if e.mask[b] == 0 {
				continue
			}
			var sumR, nR, sumAll int32
			d := e.filterDir(b)
			for k := range offC {
				offC[k] = int(t.acrY[d][k])*s + int(t.acrX[d][k])
			}
			x0, x1 := bx*bs, min(bx*bs+bs, e.w)
			for y := y0; y < y1; y++ {
				row := (y+pad)*s + pad
				for p := row + x0; p < row+x1; p++ {
					var sum uint32
					for _, o := range offC {
						sum += uint32(al[p+o])
					}
					r := b2u(uint32(al[p])*(2*acrossR+1) < sum)
					bin[p] = r
					v := int32(g[p])
					sumAll += v
					sumR += v * int32(r)
					nR += int32(r)
				}
			}
			n := int32((y1 - y0) * (x1 - x0))
			if e.dist[b] >= 2 && nR > 0 && nR < n {
				// Ridge-valley separation relative to the block's spread.
				diff := (sumAll-sumR)*nR - sumR*(n-nR) // (meanV-meanR)·nR·nV
				std := max(int32(e.bstd[b]), 1)
				c := int64(diff) * 50 / (int64(nR) * int64(n-nR) * int64(std))
				e.clarSum += max(0, min(c, 100))
				e.clarN++
			}
		}
	}
}
