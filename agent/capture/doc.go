// Package capture is the kiosk's capture workflow: the state machine that
// serves one traveller at a time, from arrival to "saved".
//
//	idle ──(presence edge, or the officer's start)──> present
//	present ──> face: the best portrait the camera gives within
//	            capture.face_budget (kept even when not every check passed)
//	face ──> fingers: each finger of the policy in order, one at a time;
//	         up to capture.max_attempts attempts, the best by quality kept,
//	         stopping early at capture.good_finger_quality; a finger whose
//	         best stays below capture.min_finger_quality, or that gives no
//	         usable image, or that the officer skips, is recorded missing
//	         with its ISO reason instead of blocking the traveller
//	fingers ──> saving: the CaptureRecord is assembled in memory, sealed and
//	            appended to the outbox (Saver); only when that returns is
//	            the officer told "saved"
//	saving ──> saved ──> idle
//
// Any step may end the session instead, and then nothing of it is saved:
// the officer cancels; the traveller does not place a finger within
// capture.step_timeout; the session exceeds capture.session_timeout; the
// sensor or the camera fails (the reason says which and what to check);
// the kiosk stops. A record is handed to the Saver only whole, and once
// saving has begun it is not interrupted, so the outbox holds complete
// records or nothing. When the outbox is full (records.ErrOutboxFull),
// new sessions are refused with a clear message until it has room again.
//
// Everything the workflow does is published on its event Stream as typed
// Events (prompts such as "Place your right index finger on the sensor",
// face progress with what to change, each finger attempt's quality and
// reason, results, the saved record's place, the outcome), which the
// status LED (RunLight), the logs (LogEvents), the officer API and
// simulated travellers follow. Events and session Summaries carry
// qualities, counts, reasons and timings only, never biometric data.
//
// The workflow knows its devices and pipelines only through the small
// interfaces of Deps; cmd/kioskd binds the drivers, the minutiae and face
// pipelines and the records Saver to them. Time comes from an injected
// clock, so every timeout is tested with clock.Fake.
//
// The capture policy comes from the config's capture section; the node may
// change allow-listed values at run time (SetCapturePolicy, the uplink's
// set_capture_policy command), which apply to sessions that start later
// and are kept durably in Options.PolicyFile.
package capture
