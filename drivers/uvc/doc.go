// Package uvc captures still frames from USB Video Class cameras through
// V4L2, choosing a pixel format (MJPEG preferred, YUYV as fallback) and a
// frame size among what the camera lists, and decoding each frame to an
// image.Image.
//
// The Camera works on a small FrameSource interface. On Linux, Open returns
// a Device that implements it with github.com/blackjack/webcam (pure Go
// ioctls); the simulator in uvcsim implements it too, so the rest of the
// agent and every test run without /dev/video*.
//
// # Protocol documents
//
//   - Linux Media Infrastructure userspace API, Part I "Video for Linux
//     API" (VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMESIZES, VIDIOC_S_FMT, memory
//     mapped streaming with VIDIOC_QBUF/DQBUF): the formats YUYV
//     (V4L2_PIX_FMT_YUYV, packed 4:2:2, Y0 U Y1 V) and MJPEG
//     (V4L2_PIX_FMT_MJPEG).
//   - USB Device Class Definition for Video Devices 1.5, Motion-JPEG
//     Payload: MJPEG frames may omit the Huffman tables and use those of
//     ITU-T T.81 Annex K.3.
//   - github.com/blackjack/webcam v0.6.1 (the only version on the module
//     proxy), read for its behaviour; see the quirks.
//
// # Quirks
//
//   - MJPEG frames usually carry no DHT segment. Go's image/jpeg then fails
//     with "uninitialized Huffman table", so CompleteMJPEG inserts the
//     Annex K tables before the first scan.
//   - Cameras send a few broken frames right after streaming starts, and
//     an occasional truncated one under USB load; Capture skips up to
//     Options.MaxBadFrames of them.
//   - YUYV at large sizes does not fit USB 2.0 bandwidth at useful frame
//     rates; that is why MJPEG is preferred.
//   - webcam v0.6.1: SetImageFormat returns the size asked for, not the
//     size the driver set (it reads the driver's answer and then returns
//     its arguments), so sizes are chosen from the camera's own list and
//     DecodeYUYV checks every frame's length; ReadFrame returns a slice of
//     a buffer it has already handed back to the kernel, so Device copies
//     each frame between GetFrame and ReleaseFrame; WaitForFrame takes
//     whole seconds, so frame timeouts are rounded up to a second; the
//     default of 256 mapped buffers is lowered to 4.
//   - A camera that is unplugged makes the next ioctl fail with ENODEV;
//     Device closes itself and reports ErrGone, and the Camera restarts the
//     stream (reopening the device) on its next read.
//   - The Camera does not own its FrameSource: Close stops streaming, and
//     whoever opened the Device closes it.
package uvc
