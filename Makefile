# onnx-basisprune: make targets
#   make deps         install what build, demo and tests need (apt-get, pip); idempotent
#   make build        release build of the onnx-basisprune executable
#   make test         deps, then the whole test suite (release mode)
#   make check        the fast tier: unit tests and small command-line runs, no install step
#                     (needs the packages of make deps; a few minutes after a build)
#   make demo         deps, then the main job on the bundled default model and Fashion-MNIST
#   make bench        deps, then the benchmarks in bench/
#   make bench-deploy deps, then onnxruntime latency of the input, onnxslim'd input and each --method's output
#   make bench-mpi    deps, then the full run on 1 and 2 MPI ranks of 1 thread each (wall time, bytes sent)
#   make bench-native deps, then the default job at 224x224: each phase's time and peak memory
#   make lint         layering checks (C imports only where they belong)
#   make check-consumer  build and run examples/consumer, a package using BasisPrune by path
#   make proto        regenerate Sources/COnnxProto from the pinned onnx wheel's onnx.proto
#   make check-proto  fail if Sources/COnnxProto differs from a fresh generation

SHELL := /bin/bash
APT_PACKAGES := libprotobuf-c-dev protobuf-c-compiler libopenblas-dev liblapacke-dev \
	libonnx-testdata dataset-fashion-mnist libpng-dev libjpeg-dev zlib1g-dev pkg-config librsvg2-bin libdnnl-dev \
	libopenmpi-dev openmpi-bin
PIP_PACKAGES := onnx==$(shell cat proto/ONNX_VERSION) onnxruntime==1.32.0 numpy jsonschema
BIN := .build/release/onnx-basisprune
DEMO_MODEL := fixtures/fmnist-lite0-32.onnx

.PHONY: deps build test check check-consumer demo bench bench-deploy bench-mpi bench-native lint proto check-proto

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c 'import onnx, onnxruntime, numpy, jsonschema, sys; sys.exit(onnx.__version__ != "$(shell cat proto/ONNX_VERSION)" or onnxruntime.__version__ != "1.32.0")' 2>/dev/null || \
		{ echo "make deps: pip install $(PIP_PACKAGES)"; python3 -m pip install -q $(PIP_PACKAGES); }

build: deps
	swift build -c release --product onnx-basisprune

# One test at a time: the jobs the tests run use every core (oneDNN and OpenMP threads), and
# run side by side their threads spin at barriers waiting for each other (measured: the digits
# job of LimitedDataTests took 31 s alone and over 16 minutes beside two others).
# swift test builds every product it needs (the tool and bench too) with testing enabled;
# a swift build -c release before it would compile the package a second time, without.
test: deps lint check-proto
	swift test -c release --no-parallel

# The suites and tests that run whole pruning jobs on thousands of images (or many small
# ones), left to make test.
# Also the 224x224 engine checks against onnxruntime, the import mutation sweep and the
# compacted-split search (10-17 s each); their 32x32 counterparts stay in make check.
SLOW_TESTS := CLITests\.(MPI|Prune|LimitedData|Validation|Mutation|Reliability|Distill)Tests|PruneJobTests|everyMethodWritesARunnableModel|imagenetLogitsAgreeWithONNXRuntime|splitImageNetModelIsExactInONNXRuntime|mutationsEndInErrorOrValidImport|searchOnTheCompactedSplitIsTheSame

check: lint
	swift test -c release --no-parallel --skip "$(SLOW_TESTS)"

FMNIST := idx:/usr/share/datasets/fashion-mnist
DEMO_OUT := demo-output

# The main job on the bundled model, reduced to a few minutes: 12,000 training images,
# validation and certification on test images 0-3999 (2,000 each), final figures on test images 5000-9999.
demo: build
	@mkdir -p $(DEMO_OUT)
	$(BIN) $(DEMO_MODEL) $(DEMO_OUT)/fmnist-lite0-32-pruned.onnx --data $(FMNIST),range=0:12000 \
		--val-data $(FMNIST),split=test,range=0:4000 --test-data $(FMNIST),split=test,range=5000:10000 \
		--retrain-images 4000 --report $(DEMO_OUT)/report.json --plot $(DEMO_OUT)/plot.svg --verify
	$(BIN) diff $(DEMO_MODEL) $(DEMO_OUT)/fmnist-lite0-32-pruned.onnx | tail -8

bench: deps
	swift build -c release --product bench
	.build/release/bench engine 1 5
	.build/release/bench train 32 32
	.build/release/bench train 128 32
	.build/release/bench compact 0.5 exact 128 32
	.build/release/bench compact 0.5 all 128 32
	.build/release/bench train 32 224

bench-deploy: deps
	bench/deploy.sh

check-consumer:
	cd examples/consumer && swift build -c release && .build/release/consumer ../../fixtures/fmnist-lite0-32.onnx

bench-native: build
	python3 bench/native.py --train 5000 --val 5000

bench-mpi: deps
	swift build -c release --product onnx-basisprune
	bench/mpi.sh

lint:
	@bad=$$(grep -rln "import COnnxProto\|import COnnxSupport\|import CProtobufC" Sources/BasisPrune | grep -v "^Sources/BasisPrune/ONNX/"; \
		grep -rln "import CBLAS\|import CLAPACKE" Sources/BasisPrune | grep -v "^Sources/BasisPrune/Kernels/"; \
		grep -rln "import CZlib\|import CPNG\|import CJPEG\|import CImageDecode" Sources/BasisPrune | grep -v "^Sources/BasisPrune/Data/"; \
		grep -rln "import CDNNL\|import CDNNLKernels" Sources/BasisPrune | grep -v "^Sources/BasisPrune/DNNL/"; \
		grep -rln "import CMPIShim\|import COpenMPI" Sources/BasisPrune | grep -v "^Sources/BasisPrune/Distributed/"); \
	if [ -n "$$bad" ]; then echo "C modules imported outside their folder:"; echo "$$bad"; exit 1; fi; echo "lint: layering ok"

proto: deps
	proto/generate.sh

check-proto: deps
	proto/generate.sh --check
