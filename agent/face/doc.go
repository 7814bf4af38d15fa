// Package face is the kiosk's face capture pipeline: it finds the
// traveller's face in a camera frame, locates the eyes, judges the frame
// against ICAO-style portrait requirements with measures a traveller can act
// on, picks the best frame of a stream within a time budget, and cuts the
// ISO/IEC 19794-5 token frontal image that goes into the record (see package
// fac for the record itself).
//
// Everything here is pure: images in, results out. No file, device or
// network I/O, no logging and no clock beyond the one passed in Options.
// The models it needs are embedded:
//
//   - face detection: our own evaluator of the PICO cascade (pixel-intensity
//     comparisons in a boosted cascade of depth-6 trees; N. Markuš et al.,
//     arXiv:1305.4537) reading nenadmarkus/pico's "facefinder" file (MIT),
//     with pico's multi-scale scan and overlap clustering;
//   - eyes: our own evaluator of OpenCV's Haar eye cascade
//     (haarcascade_eye.xml, Intel licence) confirms and roughly places each
//     eye, then a means-of-gradients pupil locator (Timm and Barth, 2011)
//     finds the centre of the iris, to a pixel or two;
//   - quality: classical measures, each mapped to 0-100 (see Measure for the
//     mapping of each), inspired by the ISO/IEC 29794-5 (OFIQ) measures that
//     need no neural network, and an accept threshold per measure.
//
// The kiosk's frames are large faces in front of a plain backdrop; the
// defaults (DefaultOptions) assume that.
package face
