package minutiae

// smoothRidges replaces each pixel of the ridge bit image by the majority
// of its 3×3 neighbourhood (5 of 9), 64 pixels at a time: it removes
// isolated specks, fills pin holes and straightens jagged ridge edges so
// that thinning makes fewer spurs. Pixels outside the image stay clear.
func (e *Extractor) smoothRidges() {
	src, dst := e.bits, e.bits2
	wpr := e.wpr
	for y := 1; y <= e.h; y++ {
		up := src[(y-1)*wpr : y*wpr]
		cur := src[y*wpr : (y+1)*wpr]
		down := src[(y+1)*wpr : (y+2)*wpr]
		out := dst[y*wpr : (y+1)*wpr]
		for j := 1; j < wpr-1; j++ {
			u, c, d := up[j], cur[j], down[j]
			if u|c|d == 0 {
				out[j] = 0
				continue
			}
			// Bit-sliced counter s3 s2 s1 s0 of the 9 inputs.
			var s0, s1, s2, s3 uint64
			for _, x := range [9]uint64{
				u, u>>1 | up[j+1]<<63, u<<1 | up[j-1]>>63,
				c, c>>1 | cur[j+1]<<63, c<<1 | cur[j-1]>>63,
				d, d>>1 | down[j+1]<<63, d<<1 | down[j-1]>>63,
			} {
				c0 := s0 & x
				s0 ^= x
				c1 := s1 & c0
				s1 ^= c0
				s3 |= s2 & c1
				s2 ^= c1
			}
			out[j] = s3 | s2&(s1|s0)
		}
		// Clear what lies right of the image in the last word.
		if r := e.w & 63; r != 0 {
			out[wpr-2] &= 1<<r - 1
		}
	}
	e.bits, e.bits2 = dst, src
}
