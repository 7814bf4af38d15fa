// Package synth generates synthetic fingerprints with ground truth, in the
// manner of SFinGe (Cappelli, Maio, Maltoni) and Anguli, in our own code:
// the kiosk's simulators and demo need fingers without real people, and the
// minutiae extractor needs minutiae ground truth that no public image set
// gives.
//
// # How a fingerprint is made
//
// A master fingerprint is the ridge pattern of one finger, independent of
// any sensor (500 ppi, 320 x 448 pixels):
//
//   - a class (arch, tented arch, left or right loop, whorl, drawn with
//     their frequencies in the population) and its cores and deltas;
//   - an orientation field from Sherlock and Monro's zero-pole model with a
//     Vizcaya-Gerhardt piecewise-linear correction around each singular
//     point (arches: a closed-form arch flow), bent by a smooth random
//     field so that no two fingers of a class flow alike;
//   - a ridge period map: a base period (7.6 to 11 pixels, drawn per
//     finger) varying smoothly over the finger, stretched where the flow
//     fans out and squeezed where it closes in, as skin does instead of
//     starting new ridges, within 7.5 to 12 pixels (0.38 to 0.61 mm);
//   - a fingertip outline (half-ellipses and a straight middle part);
//   - a ridge pattern grown from a few random seed patches by iterated
//     oriented Gabor filtering with a saturating gain until it stops
//     changing (at half resolution, then refined at full resolution);
//   - small islands and lakes removed, broken ridges mended;
//   - ground-truth minutiae read off the ridge skeleton (Zhang-Suen
//     thinning, crossing numbers), spurs and tangles dropped.
//
// An impression is one capture of a master by a sensor: the finger is
// displaced and rotated, the skin is stretched by a smooth non-linear
// distortion that grows away from the centre of contact, the contact area
// is an ellipse on the fingertip sized by pressure, ridges thicken with
// pressure and wet skin and break with dry skin, skin grain and plate
// residue, and the sensor adds its background, blur, noise and grey depth.
// The ground truth is carried through the same warp (Newton inversion of
// the map from image to master; directions through its Jacobian) and
// minutiae outside the image or the contact area are dropped.
//
// Sensors: Optical (388 x 374 at 500 ppi, like FVC2002 DB1), R30x
// (256 x 288 at 508 ppi, 4-bit grey as UpImage returns it) and FPC1020
// (192 x 192 at 508 ppi, 8-bit).
//
// # Identities and reproducibility
//
// A traveller is a seed: Generator.Traveller(seed).Finger(position) is
// always the same finger (positions 1-10 as ISO/IEC 19794-2 numbers them),
// so a returning traveller in the demo gives matching records.
// Finger.Impression(k) is always the same impression. The same seeds give
// byte-identical images and ground truth on every machine and
// architecture: all randomness comes from PCG streams (math/rand/v2) keyed
// by seed and purpose, and all floating point avoids fused multiply-add
// (an explicit float64(...) around every product that feeds a sum; the Go
// spec makes such a conversion a rounding point) and the math package's
// architecture-specific assembly (sin, cos, atan2 and exp are written
// here with plain IEEE operations). TestGolden pins hashes that must come
// out the same under qemu for arm64 and armv7 (make test-arm), and
// TestNoFusedMultiplyAdd disassembles the arm64 build to check that no
// fused instruction slipped in.
//
// # Using the ground truth to measure an extractor
//
// Impression.Truth holds the true minutiae in image pixels (sub-pixel
// positions; Direction in radians counter-clockwise from the x axis with y
// downwards, as ISO/IEC 19794-2 measures it); Impression.Minutiae gives
// them as []fmr.Minutia and Impression.Record as an ISO record. Directions
// follow ISO/IEC 19794-2, ANSI INCITS 378 and ANSI/NIST-ITL: a ridge ending
// points up its ridge (away from the free end), a bifurcation down the
// valley between its branches (away from the stem). FingerJetFX's ISO
// templates of the MINEX images in the test data follow the same
// convention. Positions are on the ridge skeleton: a ridge ending sits at
// the end of its skeleton, which is 2 to 3 pixels short of where ISO puts
// it (the valley fork), well within the usual tolerance.
//
// To measure precision and recall, extract from Impression.Image and
// compare one-to-one with Compare, which pairs found and true minutiae
// within a tolerance (DefaultTolerance: 12 pixels and 22.5 degrees, kind
// ignored), closest pairs first:
//
//	g, _ := synth.New(nil)
//	var total synth.Score
//	for seed := uint64(1); seed <= 20; seed++ {
//		f := g.Finger(seed)
//		for k := uint64(1); k <= 4; k++ {
//			im := f.Impression(k)
//			found := extract(im.Image, im.PPI) // []fmr.Minutia
//			total = total.Add(synth.Compare(im.TruthWithin(14), found, synth.DefaultTolerance()))
//		}
//	}
//	fmt.Println(total.Precision(), total.Recall(), total.F1())
//
// Extractors drop minutiae near the edge of the print on purpose; to leave
// those out of recall, compare with TruthWithin(margin) (true minutiae at
// least margin pixels inside the contact area and the image, see
// Impression.Edge) and drop found minutiae within the same margin of the
// edge of Impression.Foreground. The files `kioskctl synth` writes carry the
// same truth: DIR/F_I.json (TruthFile, read it with ParseTruthFile) and
// DIR/F_I.ist.
//
// # Cost
//
// A master takes some 100-150 ms of one core (mostly Gabor filtering); an
// impression some 5-30 ms depending on the sensor. Traveller keeps its
// masters, so a simulator pays for a finger once.
package synth
