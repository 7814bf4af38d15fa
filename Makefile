# The Makefile is the contract: every entry point of the project is a target
# here, and `make help` (the default) lists them all.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
MODULE   := github.com/bali-rbdes/kiosk
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -buildid= -X $(MODULE)/agent/buildinfo.Version=$(VERSION) -X $(MODULE)/agent/buildinfo.Commit=$(COMMIT)
BINARIES := kioskd kioskctl rbdes-node
export CGO_ENABLED := 0

# Test data (FVC2002, MINEX, faces) lives beside the project in CI and dev
# checkouts; tests look for it there or in $KIOSK_TESTDATA.
KIOSK_TESTDATA ?= $(abspath ../shared/data)
export KIOSK_TESTDATA

TEST_TIMEOUT ?= 18m
BENCHTIME    ?= 1s

##@ Build

.PHONY: build
build: ## Build kioskd, kioskctl and rbdes-node for this machine into bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

.PHONY: build-arm64
build-arm64: ## Static linux/arm64 binaries into bin/linux-arm64/
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-arm64/ ./cmd/...

.PHONY: build-armv7
build-armv7: ## Static linux/arm (GOARM=7) binaries into bin/linux-armv7/
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-armv7/ ./cmd/...

.PHONY: proto
proto: ## Regenerate proto/ Go code with protoc and the pinned protoc-gen-go
	@command -v protoc >/dev/null || { echo "make proto: protoc not found; run: sudo apt-get install -y protobuf-compiler" >&2; exit 1; }
	$(GO) build -o .bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	protoc --plugin=protoc-gen-go=.bin/protoc-gen-go --go_out=. --go_opt=module=$(MODULE) -I proto proto/rbdes/v1/*.proto

##@ Test

.PHONY: deps
deps: ## Install what the tests need (apt-get on Debian-family machines)
	@.ci/deps

.PHONY: test
# The race detector needs cgo, so the tests (only) build with CGO_ENABLED=1;
# every shipped binary is CGO_ENABLED=0.
test: deps ## Run every test with the race detector, integration tests included
	CGO_ENABLED=1 $(GO) test -race -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-short
test-short: ## Quick unit tests without the race detector
	$(GO) test -short ./...

.PHONY: test-arm
test-arm: deps ## Cross-compile the unit tests and run them under qemu-user (arm64, armv7)
	GOOS=linux GOARCH=arm64 $(GO) test -short -timeout $(TEST_TIMEOUT) -exec qemu-aarch64-static ./...
	GOOS=linux GOARCH=arm GOARM=7 $(GO) test -short -timeout $(TEST_TIMEOUT) -exec qemu-arm-static ./...

.PHONY: check
check: ## gofmt, go vet, staticcheck, ARM builds, and no drift from go mod tidy or make proto
	@out=$$(gofmt -l cmd agent drivers firmware proto 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o /dev/null ./cmd/...
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -o /dev/null ./cmd/...
	@mkdir -p .bin && cp go.mod .bin/go.mod.check && cp go.sum .bin/go.sum.check
	@$(GO) mod tidy
	@if ! cmp -s go.mod .bin/go.mod.check || ! cmp -s go.sum .bin/go.sum.check; then \
		cp .bin/go.mod.check go.mod; cp .bin/go.sum.check go.sum; \
		echo "make check: go mod tidy would change go.mod/go.sum; run go mod tidy and commit"; exit 1; fi
	@$(MAKE) -s proto
	@if [ -n "$$(git status --porcelain -- proto)" ]; then git --no-pager diff --stat -- proto; \
		echo "make check: make proto changed proto/; commit the regenerated code"; exit 1; fi

.PHONY: bench
bench: ## Run the benchmarks of the hot paths with -benchmem
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

.PHONY: fuzz
fuzz: ## Run every fuzz test for FUZZTIME each (default 30s)
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $${FUZZTIME:-30s} -fuzzminimizetime 2s $$pkg; \
		done; done

##@ Face pipeline

FACE_FUZZTIME ?= 5m

.PHONY: face-bench
face-bench: ## Face detection/assessment/token benchmarks on a 640x480 frame, one core, 5 runs (cpu-ms/op = CPU time)
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -count 5 ./agent/face/

.PHONY: face-fuzz
face-fuzz: ## Fuzz the PICO and Haar cascade readers, the assessment and the ISO/IEC 19794-5 decoder, FACE_FUZZTIME each (default 5m)
	@for f in FuzzParseCascade FuzzParseHaarCascade FuzzAssess; do \
		echo "== agent/face $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FACE_FUZZTIME) ./agent/face/; \
	done
	@echo "== agent/fac FuzzUnmarshal"; $(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FACE_FUZZTIME) ./agent/fac/

##@ Records: sealing, signing, node verification

SEAL_FUZZTIME ?= 5m
SEAL_FUZZ := ./agent/nodeverify:FuzzOpen ./agent/command:FuzzVerify ./agent/seal:FuzzParse ./agent/nodeverify:FuzzParseRegistry ./agent/keys:FuzzParseKeyFiles

.PHONY: bench-seal
bench-seal: ## Seal+sign and verify+open benchmarks of a 50 KB record (-cpu 1 -count 5; see cpu-ns/op)
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -count 5 ./agent/seal/ ./agent/nodeverify/

.PHONY: fuzz-seal
fuzz-seal: ## Fuzz the node's verify-and-open, command verification and key/registry parsers, SEAL_FUZZTIME each (default 5m)
	@for t in $(SEAL_FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$pkg $$fn"; $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(SEAL_FUZZTIME) $$pkg || exit 1; done

##@ Fingerprint records, matcher and evaluation

FMR_FUZZTIME ?= 5m
# FVC2002 B sets; DB2 is 569 ppi (kioskctl eval also knows it by name).
EVAL_DBS   ?= $(KIOSK_TESTDATA)/fvc2002/DB1_B $(KIOSK_TESTDATA)/fvc2002/DB2_B:569 $(KIOSK_TESTDATA)/fvc2002/DB3_B $(KIOSK_TESTDATA)/fvc2002/DB4_B
EVAL_FLAGS ?=

.PHONY: eval
eval: ## FVC2002 B sets through extractor and matcher: EER, FNMR at FMR 1%/0.1%, failures, ms/image, ms/match (EVAL_FLAGS=-details)
	@test -d $(KIOSK_TESTDATA)/fvc2002 || { echo "make eval: no FVC2002 data in $(KIOSK_TESTDATA)/fvc2002 (set KIOSK_TESTDATA)" >&2; exit 1; }
	$(GO) build -o .bin/kioskctl ./cmd/kioskctl
	.bin/kioskctl eval $(EVAL_FLAGS) $(EVAL_DBS)

.PHONY: bench-matcher
bench-matcher: ## Matcher and record codec benchmarks, one core, 5 runs (cpu-ns/op = thread CPU time)
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -count 5 ./agent/matcher/ ./agent/fmr/

.PHONY: fuzz-fmr
fuzz-fmr: ## Fuzz the ISO/IEC 19794-2 and ANSI 378 decoders, the extended-data parsers and the matcher, FMR_FUZZTIME each (default 5m)
	@for f in FuzzUnmarshal FuzzDecodeISO FuzzDecodeANSI FuzzParseExtended; do \
		echo "== agent/fmr $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FMR_FUZZTIME) ./agent/fmr/ || exit 1; done
	@echo "== agent/matcher FuzzPrepareScore"; $(GO) test -run '^$$' -fuzz '^FuzzPrepareScore$$' -fuzztime $(FMR_FUZZTIME) ./agent/matcher/

##@ Outbox

CYCLES           ?= 1000
OUTBOX_FUZZTIME  ?= 5m
OUTBOX_BENCH_DIR ?= $(CURDIR)/.bin/bench-outbox

.PHONY: soak-outbox
soak-outbox: ## SIGKILL soak of the outbox, CYCLES kills (default 1000); ends "N cycles, A appended, 0 lost, 0 damaged"
	@mkdir -p .bin
	@$(GO) build -o .bin/outbox-soak ./agent/outbox/internal/soak
	@.bin/outbox-soak -cycles $(CYCLES)

.PHONY: bench-outbox
bench-outbox: ## Outbox appends vs bbolt (one Update per record) on this disk, 1 and 8 appenders, 1/16/50 KB, with the ratio; 1 GiB torn-tail open
	@mkdir -p .bin
	OUTBOX_BENCH_DIR=$(OUTBOX_BENCH_DIR) $(GO) test -run '^$$' -bench '^(BenchmarkAppend|BenchmarkBboltUpdate)$$' -benchtime 400x -count 5 ./agent/outbox/ | tee .bin/bench-outbox.txt
	@awk -f agent/outbox/bench-ratio.awk .bin/bench-outbox.txt
	OUTBOX_BENCH_DIR=$(OUTBOX_BENCH_DIR) OUTBOX_BENCH_BIG=1 $(GO) test -run '^$$' -bench '^BenchmarkOpen1GiBTornTail$$' -benchtime 5x ./agent/outbox/

.PHONY: fuzz-outbox
fuzz-outbox: ## Fuzz the outbox's frame scanner and its recovery from arbitrary files, OUTBOX_FUZZTIME each (default 5m; short minimization, as long inputs otherwise stall it)
	@for f in FuzzScanFrames FuzzOpen; do \
		echo "== agent/outbox $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(OUTBOX_FUZZTIME) -fuzzminimizetime 2s ./agent/outbox/ || exit 1; done

##@ UART fingerprint sensors (R30x, GT-521F52)

UART_FUZZTIME ?= 5m

.PHONY: test-uart
test-uart: ## UART sensors end to end over pseudo-terminals at real wire speed: full uploads at 57600/115200, every fault, wire times
	CGO_ENABLED=1 $(GO) test -race -count 1 -v -run 'OverPTY|Example' ./drivers/r30x/... ./drivers/gt521/... | grep -E '^ *--- FAIL|^(--- |ok|FAIL)|_test.go:'

.PHONY: fuzz-uart
fuzz-uart: ## Fuzz the R30x and GT-521 frame and packet parsers, UART_FUZZTIME each (default 5m)
	@for p in "drivers/r30x FuzzParsePacket FuzzReadPacket FuzzParseSysParams FuzzUploadImage" \
		"drivers/gt521 FuzzParsePacket FuzzParseData FuzzParseInfo FuzzReply"; do \
		set -- $$p; pkg=$$1; shift; for f in "$$@"; do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(UART_FUZZTIME) ./$$pkg/ || exit 1; done; done

.PHONY: probe-sim
probe-sim: ## kioskctl probe and capture finger on simulated R30x and GT-521F52 sensors (no hardware); image in .bin/
	@mkdir -p .bin
	@printf 'kiosk: {id: sim-kiosk, country: IDN}\ndevices:\n  - {name: fingerprint, driver: sim-r30x, baud: 57600, options: {link_baud: "115200", model: R503}}\n' > .bin/sim-r30x.yaml
	@printf 'kiosk: {id: sim-kiosk, country: IDN}\ndevices:\n  - {name: fingerprint, driver: sim-gt521, baud: 9600, options: {link_baud: "115200"}}\n' > .bin/sim-gt521.yaml
	$(GO) run ./cmd/kioskctl probe -config .bin/sim-r30x.yaml
	$(GO) run ./cmd/kioskctl probe -config .bin/sim-gt521.yaml
	$(GO) run ./cmd/kioskctl capture finger -config .bin/sim-r30x.yaml -o .bin/finger-r30x.png
	$(GO) run ./cmd/kioskctl capture finger -config .bin/sim-gt521.yaml -o .bin/finger-gt521.png

##@ Synthetic fingerprints

SYNTH_FINGERS ?= 100
SYNTH_SENSOR  ?= optical
SYNTH_SEED    ?= 1
SYNTH_DIR     ?= .bin/synth

.PHONY: synth
synth: ## Write SYNTH_FINGERS fingers x 8 impressions (FVC layout, JSON truth, ISO records) for SYNTH_SENSOR into SYNTH_DIR
	$(GO) run ./cmd/kioskctl synth -n $(SYNTH_FINGERS) -impressions 8 -seed $(SYNTH_SEED) -sensor $(SYNTH_SENSOR) -o $(SYNTH_DIR)

.PHONY: synth-realism
synth-realism: ## Compare SYNTH_FINGERS synthetic fingers x 8 with FVC2002 DB4: EERs, score histograms, extractor precision/recall
	SYNTH_REALISM=$(SYNTH_FINGERS) SYNTH_REALISM_SENSOR=$(SYNTH_SENSOR) $(GO) test -count=1 -timeout 60m -run '^TestRealism$$' -v ./agent/synth/

.PHONY: bench-synth
bench-synth: ## Benchmark master and impression generation on one core (reports CPU ms per op beside wall time)
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -count 5 ./agent/synth/

.PHONY: fuzz-synth
fuzz-synth: ## Fuzz the synthetic ground-truth file parser for FUZZTIME (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzParseTruthFile$$' -fuzztime $${FUZZTIME:-30s} ./agent/synth/

##@ SPI, I2C, GPIO and video devices (FPC1020, ArduCAM, UVC, presence, LED, illumination, tamper)

PERIPH_FUZZTIME ?= 5m
PERIPH_PKGS := ./drivers/fpc1020/... ./drivers/arducam/... ./drivers/uvc/... ./drivers/presence/ ./drivers/tamper/ \
	./drivers/statusled/ ./drivers/illumination/ ./drivers/gpiosim/ ./drivers/internal/... ./cmd/internal/devices/
PERIPH_FUZZ := drivers/fpc1020:FuzzReadImage drivers/fpc1020:FuzzDriverReplies drivers/arducam:FuzzFIFOFrame \
	drivers/arducam:FuzzDriverReplies drivers/arducam:FuzzParseRegs drivers/internal/jpegseg:FuzzFind \
	drivers/uvc:FuzzDecodeMJPEG drivers/uvc:FuzzDecodeYUYV drivers/internal/simfault:FuzzParse

.PHONY: test-periph
test-periph: ## SPI/I2C/GPIO/video drivers, their simulators and device openers, with the race detector (playback tests, faults, examples)
	CGO_ENABLED=1 $(GO) test -race -count 1 $(PERIPH_PKGS)

.PHONY: fuzz-periph
fuzz-periph: ## Fuzz FPC1020 image reads, ArduCAM FIFO/JPEG framing, register tables, UVC MJPEG/YUYV decoding, PERIPH_FUZZTIME each (default 5m)
	@# A run that ends in "context deadline exceeded" without writing a failing input is
	@# Go's fuzz-coordinator race (go.dev/issue/75804, fixed in Go 1.27): reported, not fatal.
	@mkdir -p .bin; for spec in $(PERIPH_FUZZ); do pkg=$${spec%%:*}; fn=$${spec#*:}; dir=$$pkg/testdata/fuzz/$$fn; \
		before=$$(ls $$dir 2>/dev/null | wc -l); echo "== $$pkg $$fn"; \
		if ! $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(PERIPH_FUZZTIME) -fuzzminimizetime 5s ./$$pkg/ > .bin/fuzz-$$fn.log 2>&1; then \
			after=$$(ls $$dir 2>/dev/null | wc -l); tail -5 .bin/fuzz-$$fn.log; \
			if [ "$$after" = "$$before" ] && grep -q 'context deadline exceeded' .bin/fuzz-$$fn.log; then \
				echo "   fuzz-coordinator deadline flake (no failing input written): ignored"; \
			else echo "   FAILED: failing input in $$dir"; exit 1; fi; \
		else tail -1 .bin/fuzz-$$fn.log; fi; done

.PHONY: probe-sim-periph
probe-sim-periph: ## kioskctl probe and capture on simulated FPC1020, ArduCAM and UVC devices and GPIO peripherals (no hardware); images in .bin/
	@mkdir -p .bin
	@printf 'kiosk: {id: sim-kiosk, country: IDN}\ndevices:\n  - {name: fingerprint, driver: sim-fpc1020, options: {fingers: pattern}}\n  - {name: camera, driver: sim-arducam, options: {size: 800x600}}\n  - {name: presence, driver: sim-presence}\n  - {name: status, driver: sim-led}\n  - {name: light, driver: sim-illumination}\n  - {name: tamper, driver: sim-tamper}\n' > .bin/sim-periph.yaml
	@printf 'kiosk: {id: sim-kiosk, country: IDN}\ndevices:\n  - {name: camera, driver: sim-uvc, options: {width: "1280", height: "720"}}\n' > .bin/sim-uvc.yaml
	$(GO) run ./cmd/kioskctl probe -config .bin/sim-periph.yaml
	$(GO) run ./cmd/kioskctl probe -config .bin/sim-uvc.yaml
	$(GO) run ./cmd/kioskctl capture finger -config .bin/sim-periph.yaml -o .bin/finger-fpc1020.png
	$(GO) run ./cmd/kioskctl capture face -config .bin/sim-periph.yaml -o .bin/face-arducam.jpg
	$(GO) run ./cmd/kioskctl capture face -config .bin/sim-uvc.yaml -o .bin/face-uvc.jpg

.PHONY: test-uvc-device
test-uvc-device: ## Capture from a real V4L2 camera (UVC, or the vivid test driver): make test-uvc-device UVC_DEVICE=/dev/video0
	@test -n "$(UVC_DEVICE)" || { echo "make test-uvc-device: set UVC_DEVICE=/dev/videoN (ls /dev/video*)" >&2; exit 2; }
	KIOSK_UVC_DEVICE=$(UVC_DEVICE) $(GO) test -count 1 -v -run 'TestV4L2Device' ./drivers/uvc/

##@ Fingerprint extraction (minutiae pipeline, image decoding)

MINUTIAE_FUZZTIME ?= 5m

.PHONY: bench-minutiae fuzz-minutiae extract-time

bench-minutiae: ## Minutiae pipeline benchmarks, whole and per stage (-benchmem, one core, BENCH_COUNT runs, default 5)
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 -count $${BENCH_COUNT:-5} ./agent/minutiae

fuzz-minutiae: ## Fuzz extraction and PGM/PNG/TIFF decoding, MINUTIAE_FUZZTIME each (default 5m)
	$(GO) test -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $(MINUTIAE_FUZZTIME) ./agent/minutiae
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(MINUTIAE_FUZZTIME) ./agent/fingerimage

extract-time: ## GOMAXPROCS=1 kioskctl extract over the 80 FVC2002 DB1 images: median and mean ms per image
	@test -d "$(KIOSK_TESTDATA)/fvc2002/DB1_B" || { echo "extract-time: no FVC2002 under $(KIOSK_TESTDATA) (set KIOSK_TESTDATA)" >&2; exit 1; }
	@mkdir -p .bin && $(GO) build -o .bin/kioskctl ./cmd/kioskctl
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	GOMAXPROCS=1 .bin/kioskctl extract -v -o "$$out" "$(KIOSK_TESTDATA)"/fvc2002/DB1_B/*.tif | \
	awk '{for (i = 1; i < NF; i++) if ($$i == "extract") print $$(i+1)}' | sort -n | \
	awk '{v[NR] = $$1; s += $$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; \
	printf "kioskctl extract, GOMAXPROCS=1, %d FVC2002 DB1 images: median %.2f ms, mean %.2f ms per image (extraction; decoding and writing excluded)\n", NR, m, s / NR}'

##@ Firmware: bundles, disk images, flashing, OTA updates, provisioning

BOARD        ?= generic-arm64
DIST         ?= dist
# Ed25519 firmware signing key (kioskctl firmware keygen); empty: a
# development key $(DIST)/firmware-dev.key, created when missing.
FIRMWARE_KEY ?=
MIN_PREVIOUS ?= 0
SEQUENCE     ?= $(shell git rev-list --count HEAD 2>/dev/null || echo 1)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 1)
BOARD_DIR    := firmware/boards/$(BOARD)
IMAGE_CACHE  ?= .bin/image-cache
IMAGE        ?= $(firstword $(shell ls -t $(DIST)/kiosk-*-$(BOARD).img 2>/dev/null))
DEVICE       ?=
CONFIRM      ?=
HOST         ?=
BUNDLE       ?= $(firstword $(shell ls -t $(DIST)/kiosk-*-$(BOARD).bundle 2>/dev/null))
KIOSK_ID     ?=
SITE_CONFIG  ?=
NODE_KEYS    ?=
KIOSK_KEYS   ?=
SSH_KEYS     ?=
IMAGE_TEST_TIMEOUT ?= 1500

.PHONY: firmware image image-test flash ota provision

# One git describe per run, so the bundle's name, manifest and binaries agree.
firmware image: VERSION := $(VERSION)

firmware: ## Signed bundle dist/kiosk-<version>-<board>.bundle for BOARD (generic-arm64, rpi4, generic-armv7); FIRMWARE_KEY=release.key
	@test -f $(BOARD_DIR)/board.conf || { echo "make firmware: no board profile $(BOARD_DIR)/board.conf; boards: $$(ls firmware/boards | tr '\n' ' ')" >&2; exit 2; }
	@mkdir -p $(DIST) .bin/firmware/$(BOARD)
	@$(GO) build -o .bin/kioskctl-host ./cmd/kioskctl
	@. $(BOARD_DIR)/board.conf && GOOS=linux GOARCH=$$GOARCH GOARM=$$GOARM $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o .bin/firmware/$(BOARD)/ ./cmd/kioskd ./cmd/kioskctl
	@key='$(FIRMWARE_KEY)'; \
	if [ -z "$$key" ]; then key=$(DIST)/firmware-dev.key; \
		[ -f $$key ] || .bin/kioskctl-host firmware keygen -key $$key >/dev/null; \
		echo "" >&2; \
		echo "##########################################################################" >&2; \
		echo "## make firmware: WARNING: signed with the DEVELOPMENT key $$key" >&2; \
		echo "## Devices that trust it accept anything built on this machine. For a release," >&2; \
		echo "## make a key offline (kioskctl firmware keygen -key release.key), install" >&2; \
		echo "## release.pub in the image, and run make firmware FIRMWARE_KEY=release.key" >&2; \
		echo "## (or re-sign: kioskctl firmware sign -key release.key BUNDLE)." >&2; \
		echo "##########################################################################" >&2; \
		echo "" >&2; \
	fi; \
	.bin/kioskctl-host firmware build -board $(BOARD) -bin .bin/firmware/$(BOARD) -version '$(VERSION)' \
		-sequence $(SEQUENCE) -min-previous $(MIN_PREVIOUS) -commit $(COMMIT) -created $(SOURCE_DATE_EPOCH) \
		-key $$key -o $(DIST)/kiosk-$(VERSION)-$(BOARD).bundle

image: firmware ## Raw disk image + .bmap for BOARD (boot, root A, root B, data) around a Debian root (mmdebstrap in a user namespace, or debootstrap as root); slow, needs Debian's mirror
	@firmware/scripts/deps.sh image
	@t0=$$(date +%s); \
	rootfs=$$(firmware/scripts/rootfs.sh $(BOARD_DIR) $(IMAGE_CACHE)); \
	key='$(FIRMWARE_KEY)'; [ -n "$$key" ] || key=$(DIST)/firmware-dev.key; \
	firmware/scripts/image.sh .bin/kioskctl-host $(BOARD_DIR) $(DIST)/kiosk-$(VERSION)-$(BOARD).bundle $${key%.key}.pub \
		"$$rootfs" $(DIST)/kiosk-$(VERSION)-$(BOARD).img; \
	echo "make image: $$(( $$(date +%s) - t0 ))s in all"

image-test: ## Boot the generic-arm64 (or BOARD=generic-armv7) image in QEMU -M virt, wait for kioskd's READY=1, then make ota a good and a crash-looping bundle (OTA=0: boot only); slow
	@. $(BOARD_DIR)/board.conf && test -n "$$QEMU_MACHINE" || { echo "make image-test: BOARD=$(BOARD) does not boot in QEMU (its profile names no QEMU_MACHINE); generic-arm64 and generic-armv7 do" >&2; exit 2; }
	@test -n "$(IMAGE)" || { echo "make image-test: no image; run make image BOARD=generic-arm64 first" >&2; exit 1; }
	@$(GO) build -o .bin/kioskctl-host ./cmd/kioskctl
	@key='$(FIRMWARE_KEY)'; [ -n "$$key" ] || key=$(DIST)/firmware-dev.key; \
	BOARD=$(BOARD) firmware/scripts/image-test.sh .bin/kioskctl-host $(IMAGE) .bin/image-test $(IMAGE_TEST_TIMEOUT) .bin/firmware/$(BOARD) $$key

flash: ## Write IMAGE to DEVICE=/dev/sdX with bmaptool and read it back; refuses without CONFIRM=yes (CM4 eMMC: rpiboot first)
	@firmware/scripts/flash.sh '$(DEVICE)' '$(IMAGE)' '$(CONFIRM)'

ota: ## Push BUNDLE to HOST=root@kiosk over SSH and follow the update until it commits or rolls back
	@$(GO) build -o .bin/kioskctl-host ./cmd/kioskctl
	@firmware/scripts/ota.sh .bin/kioskctl-host '$(HOST)' '$(BUNDLE)'

provision: ## Write KIOSK_ID's identity, NODE_KEYS and SITE_CONFIG to DEVICE's data partition (KIOSK_KEYS, SSH_KEYS optional); CONFIRM=yes
	@$(GO) build -o .bin/kioskctl-host ./cmd/kioskctl
	@DIST='$(DIST)' firmware/scripts/provision.sh .bin/kioskctl-host '$(DEVICE)' '$(KIOSK_ID)' '$(SITE_CONFIG)' '$(NODE_KEYS)' '$(KIOSK_KEYS)' '$(SSH_KEYS)' '$(CONFIRM)'

##@ MQTT uplink and national node

UPLINK_FUZZTIME ?= 5m
UPLINK_FUZZ := ./agent/wire:FuzzParseAck ./agent/wire:FuzzParseStatus ./agent/wire:FuzzParseCommandReply ./agent/uplink:FuzzHandleAck ./agent/uplink:FuzzRunCommand ./agent/node:FuzzHandle

.PHONY: test-uplink
test-uplink: deps ## Uplink, node and broker tests with -race: mochi faults, mosquitto ACL, chaos (2,000 records, 5 broker kills), scale-out on PostgreSQL
	$(GO) test -race -count 1 ./agent/wire/ ./agent/broker/... ./agent/uplink/ ./agent/node/ ./agent/records/ ./cmd/rbdes-node/ ./cmd/kioskd/

.PHONY: chaos
chaos: deps ## Chaos test only, verbose: CHAOS_COUNT runs (default 3) of 2,000 records while mosquitto is killed 5 times and a proxy cuts connections
	$(GO) test -count $${CHAOS_COUNT:-3} -v -run '^TestChaos$$' ./agent/uplink/ | grep -E '^(=== RUN|--- |ok|FAIL)|mosquitto_test.go'

.PHONY: bench-uplink
bench-uplink: deps ## Drain 10,000 sealed 20 KB records (ML-KEM suite) over TLS to a SQLite node (records/s, CPU/record), then capture-to-ack latency at 10 records/s
	UPLINK_BENCH=1 UPLINK_SUITE=mlkem $(GO) test -count 1 -v -timeout 30m -run '^(TestDrainBacklog|TestCaptureToAckLatency)$$' ./agent/uplink/ | grep -E 'DRAIN|LATENCY|sealed|^(--- |ok|FAIL)'

.PHONY: fuzz-uplink
fuzz-uplink: ## Fuzz the ack, status and command-reply decoders, the kiosk's ack and command handlers and the node's whole path, UPLINK_FUZZTIME each (default 5m)
	@for t in $(UPLINK_FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$pkg $$fn"; $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(UPLINK_FUZZTIME) $$pkg || exit 1; done

##@ Demo and capture workflow

DEMO_ARGS       ?=
SOAK_TRAVELLERS ?= 1000

.PHONY: demo
# Built without -trimpath so that it shares the build cache with go build,
# go test and make test (the first build compiles the SQLite driver, which
# takes minutes on a small machine).
demo: ## The whole chain on loopback: broker, node, kioskd with simulated devices, synthetic travellers (DEMO_ARGS="-travellers N -outage D")
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/kioskd ./cmd/kioskctl
	./bin/kioskctl demo $(DEMO_ARGS)

.PHONY: test-capture
test-capture: ## Capture workflow, officer API and the end-to-end test (travellers to the node with a broker outage) with -race
	CGO_ENABLED=1 $(GO) test -race -count 1 ./agent/capture/ ./agent/officer/ ./cmd/internal/demo/
	CGO_ENABLED=1 $(GO) test -race -count 1 -v -run '^TestEndToEnd$$' ./cmd/kioskd/ | grep -E 'traveller|^(--- |ok|FAIL)'

.PHONY: soak-capture
soak-capture: ## kioskd footprint and leak soak, not in make test: SOAK_TRAVELLERS (default 1000) travellers about every 2 s with every simulated device; RSS, heap, goroutines, start to ready
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/kioskd
	KIOSK_SOAK_TRAVELLERS=$(SOAK_TRAVELLERS) KIOSKD=$(CURDIR)/bin/kioskd $(GO) test -count 1 -v -timeout 4h -run '^TestFootprintSoak$$' ./cmd/kioskd/ | grep -E 'SOAK|^(--- |ok|FAIL)'

.PHONY: footprint
footprint: build-arm64 ## kioskd's footprint: linux/arm64 binary size, then a 100-traveller soak (RSS, start to ready)
	@ls -l bin/linux-arm64/kioskd | awk '{printf "linux/arm64 kioskd: %.1f MB (%d bytes)\n", $$5/1048576, $$5}'
	$(MAKE) -s soak-capture SOAK_TRAVELLERS=100

##@ Misc

.PHONY: clean
clean: ## Remove build outputs
	rm -rf bin dist .bin

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*##/ {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
