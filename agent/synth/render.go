package synth

import (
	"image"
	"math"
	"slices"
)

// gridStep is the spacing in image pixels of the grid on which the smooth
// parts of an impression (the warp, the contact distance, the background)
// are computed exactly; pixels in between interpolate bilinearly.
const gridStep = 8

// contactFade is the width in master pixels over which ridge contrast
// fades in at the edge of the contact area.
const contactFade = 10

// warp maps impression pixels to master pixels, with the fields that vary
// smoothly over the image.
type warp struct {
	m      *Master
	s      *sensorModel
	p      ImpressionParams
	scale  float64 // master pixels per image pixel
	cm     Point   // master point under the image centre
	cosR   float64
	sinR   float64
	ex, ey *valueNoise // elastic displacement fields
	// contact ellipse in master pixels
	ccx, ccy, ca, cb float64

	gw, gh int
	qx, qy []float64 // master position
	dist   []float64 // distance to the edge of contact, master pixels
}

// anchor returns the master point that lands on the image centre before
// displacement: the mean of the cores, or the middle of the fingertip.
func (m *Master) anchor() Point {
	if len(m.Cores) == 0 {
		return Point{m.tip.cx, m.tip.top + float64(0.45*m.tip.height)}
	}
	var p Point
	for _, c := range m.Cores {
		p.X += c.X
		p.Y += c.Y
	}
	n := float64(len(m.Cores))
	// Loops sit with the core a little above the image centre.
	return Point{p.X / n, p.Y/n + 25}
}

func newWarp(m *Master, s *sensorModel, p ImpressionParams, r *rng) *warp {
	w := &warp{m: m, s: s, p: p, scale: float64(masterPPI) / float64(s.ppi)}
	a := m.anchor()
	w.cm = Point{a.X + p.DX, a.Y + p.DY}
	w.sinR, w.cosR = sinCos(p.Rotation)
	w.ex = newValueNoise(r, s.width, s.height, 96)
	w.ey = newValueNoise(r, s.width, s.height, 96)
	size := p.ContactSize * (1 + float64(0.15*p.Pressure)) * s.contactScale
	w.ccx, w.ccy = a.X+p.ContactX, a.Y+p.ContactY
	w.ca = float64(m.tip.width*0.5) * size
	w.cb = float64(m.tip.height*0.5) * size
	w.gw = s.width/gridStep + 2
	w.gh = s.height/gridStep + 2
	n := w.gw * w.gh
	w.qx, w.qy, w.dist = make([]float64, n), make([]float64, n), make([]float64, n)
	for j := range w.gh {
		for i := range w.gw {
			qx, qy := w.exact(float64(i*gridStep), float64(j*gridStep))
			w.qx[j*w.gw+i], w.qy[j*w.gw+i] = qx, qy
			w.dist[j*w.gw+i] = w.contact(qx, qy)
		}
	}
	return w
}

// exact maps image pixel (px, py) to master coordinates.
func (w *warp) exact(px, py float64) (float64, float64) {
	u := float64((px - float64(float64(w.s.width)/2)) * w.scale)
	v := float64((py - float64(float64(w.s.height)/2)) * w.scale)
	qx := w.cm.X + float64(u*w.cosR) - float64(v*w.sinR)
	qy := w.cm.Y + float64(u*w.sinR) + float64(v*w.cosR)
	// Skin stretches more the further it is from the middle of the print.
	rad := sqrt(float64(u*u) + float64(v*v))
	k := float64(w.p.Distortion * math.Min(1, rad/140))
	qx += float64(k * w.ex.at(px, py))
	qy += float64(k * w.ey.at(px, py))
	return qx, qy
}

// contact returns the distance from master point (x, y) to the edge of the
// contact area, positive inside.
func (w *warp) contact(x, y float64) float64 {
	d := w.m.tip.dist(x, y)
	u, v := (x-w.ccx)/w.ca, (y-w.ccy)/w.cb
	rho := sqrt(float64(u*u) + float64(v*v))
	var e float64
	if rho == 0 {
		e = math.Min(w.ca, w.cb)
	} else {
		dx, dy := x-w.ccx, y-w.ccy
		e = float64((1 - rho) * (sqrt(float64(dx*dx)+float64(dy*dy)) / rho))
	}
	return math.Min(d, e)
}

// at interpolates the grid at image pixel (px, py), returning the master
// position and the contact distance.
func (w *warp) at(px, py float64) (qx, qy, d float64) {
	gx, gy := float64(px/gridStep), float64(py/gridStep)
	i, j := int(gx), int(gy)
	i = max(0, min(w.gw-2, i))
	j = max(0, min(w.gh-2, j))
	fx, fy := gx-float64(i), gy-float64(j)
	o := j*w.gw + i
	lerp2 := func(f []float64) float64 {
		top := f[o] + float64(fx*(f[o+1]-f[o]))
		bot := f[o+w.gw] + float64(fx*(f[o+w.gw+1]-f[o+w.gw]))
		return top + float64(fy*(bot-top))
	}
	return lerp2(w.qx), lerp2(w.qy), lerp2(w.dist)
}

// invert finds the image point that maps to master point (mx, my), by
// Newton steps on the interpolated warp.
func (w *warp) invert(mx, my float64) (float64, float64) {
	// Start from the inverse of the rigid part.
	u, v := mx-w.cm.X, my-w.cm.Y
	px := float64(float64(float64(u*w.cosR)+float64(v*w.sinR))/w.scale) + float64(float64(w.s.width)/2)
	py := float64(float64(float64(v*w.cosR)-float64(u*w.sinR))/w.scale) + float64(float64(w.s.height)/2)
	for range 8 {
		qx, qy, _ := w.at(px, py)
		ex, ey := mx-qx, my-qy
		if float64(ex*ex)+float64(ey*ey) < 1e-6 {
			break
		}
		a, b, c, d := w.jacobian(px, py)
		det := float64(a*d) - float64(b*c)
		if det == 0 {
			break
		}
		px += (float64(d*ex) - float64(b*ey)) / det
		py += (float64(a*ey) - float64(c*ex)) / det
	}
	return px, py
}

// jacobian returns the derivatives ∂q/∂p of the warp at (px, py) as the
// matrix [a b; c d] = [∂qx/∂px ∂qx/∂py; ∂qy/∂px ∂qy/∂py].
func (w *warp) jacobian(px, py float64) (a, b, c, d float64) {
	x1, y1, _ := w.at(px+1, py)
	x0, y0, _ := w.at(px-1, py)
	x3, y3, _ := w.at(px, py+1)
	x2, y2, _ := w.at(px, py-1)
	return (x1 - x0) / 2, (x3 - x2) / 2, (y1 - y0) / 2, (y3 - y2) / 2
}

// ImpressionWith renders an impression of the finger under the given
// conditions.
func (f *Finger) ImpressionWith(p ImpressionParams) *Impression {
	s := f.g.sensor
	m := f.Master
	r := newRNG(p.Seed, "render", 0)
	w := newWarp(m, s, p, r)
	W, H := s.width, s.height
	im := &Impression{
		Image:      image.NewGray(image.Rect(0, 0, W, H)),
		Foreground: image.NewGray(image.Rect(0, 0, W, H)),
		Sensor:     s.id, Width: W, Height: H, PPI: s.ppi,
		Position: f.Position, Params: p, MasterSeed: m.Seed, Class: m.Class,
	}
	bgNoise := newValueNoise(r, W, H, 120)
	stain := newValueNoise(r, W, H, 22)
	contrast := newValueNoise(r, W, H, 70)
	dry := newValueNoise(r, masterW, masterH, 3.5)
	grain := newValueNoise(r, masterW, masterH, 2.2)
	specks := newValueNoise(r, W, H, 1.6)
	wet := newValueNoise(r, masterW, masterH, 6)
	dryness := math.Max(0, -p.Moisture)
	wetness := math.Max(0, p.Moisture)
	// Ridge threshold on the soft ridge field: heavy pressure and wet skin
	// widen ridges, dry skin thins them.
	thr := float64(-0.35*p.Pressure) - float64(0.3*wetness) + float64(0.25*dryness)
	noise := float64(s.noise * p.Noise)
	gthr := 0.9 - float64(1.3*p.Texture) // grain above this breaks a ridge
	buf := make([]float64, W*H)
	for y := range H {
		for x := range W {
			fx, fy := float64(x), float64(y)
			qx, qy, d := w.at(fx, fy)
			if d > 0 {
				im.Foreground.Pix[y*W+x] = 255
			}
			bg := s.background + float64(8*bgNoise.at(fx, fy)) + float64(s.stain*math.Min(0, stain.at(fx, fy)))
			strength := math.Max(0, math.Min(1, d/contactFade))
			val := bg
			if strength > 0 {
				v := float64(bilinear(m.soft, masterW, masterH, qx, qy))
				t := (v-thr)/0.5 + 0.5
				rd := smooth(math.Max(0, math.Min(1, t)))
				// Skin grain and pores break ridges into dashes.
				g := math.Max(0, math.Min(1, (grain.at(qx, qy)-gthr)/0.35))
				rd = float64(rd * (1 - g))
				if dryness > 0 {
					spot := math.Max(0, math.Min(1, float64((dry.at(qx, qy)-0.1)*2.5)))
					rd = float64(rd * (1 - float64(dryness*spot)))
				}
				if wetness > 0 {
					blot := math.Max(0, math.Min(1, float64((wet.at(qx, qy)-0.2)*2)))
					rd = math.Max(rd, float64(float64(wetness*blot)*0.8))
				}
				// Residue on the plate prints dark specks in the valleys.
				if sp := specks.at(fx, fy); sp > 0.55 {
					rd = math.Max(rd, float64(p.Texture*float64((sp-0.55)*2)))
				}
				c := 0.85 + float64(0.15*contrast.at(fx, fy))
				val = bg - float64(float64(float64((bg-s.ridge)*rd)*strength)*c)
			}
			buf[y*W+x] = val + float64(noise*r.norm())
		}
	}
	if s.blur {
		blur3(buf, W, H)
	}
	step := 1.0
	if s.levels == 16 {
		step = 17
	}
	for i, v := range buf {
		q := math.Floor(v/step+0.5) * step
		im.Image.Pix[i] = uint8(math.Max(0, math.Min(255, q)))
	}
	// Ground truth: carry every master minutia through the warp.
	for _, mm := range m.Minutiae {
		px, py := w.invert(mm.X, mm.Y)
		edge := math.Min(math.Min(px, float64(W-1)-px), math.Min(py, float64(H-1)-py))
		if edge < 0 {
			continue
		}
		d := w.contact(mm.X, mm.Y) / w.scale
		if d <= 0 {
			continue
		}
		im.Truth = append(im.Truth, Minutia{X: px, Y: py, Direction: w.direction(px, py, mm.Direction), Kind: mm.Kind})
		im.Edge = append(im.Edge, math.Min(edge, d))
	}
	for _, c := range m.Cores {
		if px, py := w.invert(c.X, c.Y); px >= 0 && py >= 0 && px < float64(W) && py < float64(H) {
			im.Cores = append(im.Cores, Core{X: px, Y: py, Direction: w.direction(px, py, c.Direction)})
		}
	}
	for _, d := range m.Deltas {
		if px, py := w.invert(d.X, d.Y); px >= 0 && py >= 0 && px < float64(W) && py < float64(H) {
			delta := Delta{X: px, Y: py}
			for i, dir := range d.Directions {
				delta.Directions[i] = w.direction(px, py, dir)
			}
			slices.Sort(delta.Directions[:])
			im.Deltas = append(im.Deltas, delta)
		}
	}
	return im
}

// direction carries a direction (radians, as Minutia.Direction) at a
// master point through the warp to the image point (px, py) it maps from:
// a direction vector in the master maps to J⁻¹ times it.
func (w *warp) direction(px, py, dir float64) float64 {
	dx, dy := cos(dir), -sin(dir)
	a, b, c, e := w.jacobian(px, py)
	det := float64(a*e) - float64(b*c)
	ix := (float64(e*dx) - float64(b*dy)) / det
	iy := (float64(a*dy) - float64(c*dx)) / det
	return isoAngle(ix, iy)
}

// blur3 applies a separable [1 2 1]/4 blur in place, the border replicated.
func blur3(f []float64, w, h int) {
	tmp := make([]float64, len(f))
	for y := range h {
		row := f[y*w : (y+1)*w]
		for x := range w {
			l, r := row[max(0, x-1)], row[min(w-1, x+1)]
			tmp[y*w+x] = (l + row[x] + row[x] + r) / 4
		}
	}
	for y := range h {
		up, dn := max(0, y-1)*w, min(h-1, y+1)*w
		for x := range w {
			f[y*w+x] = (tmp[up+x] + tmp[y*w+x] + tmp[y*w+x] + tmp[dn+x]) / 4
		}
	}
}
