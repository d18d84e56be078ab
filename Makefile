# cfcd — every recipe runs under /bin/sh and sets itself up (`make install` is a prerequisite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs the pinned packages in seconds, where pip took a minute of CPU; uv's own pin is in
# the dev extra of pyproject.toml, and pip brings it from PyPI into .uv/ first.
UV_DIR := .uv
UV := $(UV_DIR)/bin/uv
UV_PIN := $(shell sed -n 's/^ *"\(uv==[^"]*\)",$$/\1/p' pyproject.toml)
# checkov pins its own boto3, which cfcd's pins exclude: it lives in a venv of its own, from the
# `iac-scan` dependency group of pyproject.toml.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
PYTEST_FLAGS ?=
# pytest-xdist workers: each runs its share of the tests on a local cloud of its own. Much of a
# release is waiting (CloudFront propagation, polls, bakes): on 2 cores, 6 workers took 290-310 s
# where 4 took 340 s, both with the CPU busy most of the run.
TEST_WORKERS ?= 6

# The tests start many Python processes (pytest workers, local clouds, CLI runs): each compiles the
# project again, and pytest rewrites every test module again, unless bytecode may be cached.
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help install lint format test test-unit test-local demo bench build deploy sfn-local contract browser browser-check clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV): pyproject.toml
	@test -n '$(UV_PIN)' || { echo "pyproject.toml: the dev extra must pin uv on a line of its own: \"uv==VERSION\"," >&2; exit 1; }
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --upgrade --target $(UV_DIR) '$(UV_PIN)'
	touch $(UV)

# --seed: pip stays in the venv for the bench's install for Lambda's platform, whose options are
# pip's (cfcd/local/lambda_packages.py; the local cloud's own installs use the venv's uv).
$(STAMP): pyproject.toml $(UV)
	$(UV) venv --quiet --seed --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev,local]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install cfcd, its local cloud and dev tools (pinned)

# Bytecode of what the test processes import, written once while Chromium installs: otherwise the
# six pytest workers, collecting at the same moment, each compile it (a cold collection took 23 s
# instead of 12), and the local clouds after them. A package missing here compiles at its first
# import, as any does.
BYTECODE_PACKAGES := moto botocore boto3 s3transfer pydantic pydantic_core pydantic_settings \
	samtranslator aws_lambda_powertools werkzeug flask jinja2 _pytest xdist execnet pluggy cfnlint \
	networkx playwright antlr4 jsonpath_ng cryptography aws_xray_sdk urllib3 yaml jsonschema click \
	dateutil pygments wrapt requests responses xmltodict.py
BYTECODE_STAMP := $(VENV)/.bytecode

$(BYTECODE_STAMP): $(STAMP)
	@site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
	$(BIN)/python -m compileall -q -j 0 $(addprefix $$site/,$(BYTECODE_PACKAGES)) cfcd functions bench >/dev/null
	touch $(BYTECODE_STAMP)

$(SCAN_STAMP): pyproject.toml $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SCAN_VENV)
	$(UV) pip install --quiet --python $(SCAN_VENV)/bin/python --group iac-scan
	touch $(SCAN_STAMP)

lint: install $(SCAN_STAMP) ## ruff, mypy (strict on functions/ and cfcd/), cfn-lint and checkov (SAM source and its transform)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions cfcd tests bench
	$(BIN)/python -m cfcd.local.sam_transform template.yaml build/template.transformed.json \
		--parameter SiteBucketName=example-site
	$(BIN)/cfn-lint template.yaml build/template.transformed.json examples/*.yaml
	$(SCAN_VENV)/bin/checkov --config-file .checkov.yaml -f build/template.transformed.json

format: install ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser test takes the first of these on PATH.
CHROMIUM_NAMES := chromium chromium-browser google-chrome
HAS_CHROMIUM := for name in $(CHROMIUM_NAMES); do command -v $$name >/dev/null 2>&1 && exit 0; done

# Before anything else runs: Chromium is there, or root may install it.
browser-check:
	@$(HAS_CHROMIUM); \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "The browser test needs Chromium: run 'sudo make browser' once, then make test again." >&2; exit 1; \
	fi

# Without Debian's recommends (printing, desktop notifications, Samba, Perl modules): headless
# Chromium needs none of them, and a new machine installs 25 packages instead of 115 (12 s, not 25).
browser: browser-check ## Install Debian's headless Chromium for the browser tests (as root; others are told to sudo)
	@$(HAS_CHROMIUM); apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null

test: browser-check ## Run every check and test: lint, unit, state machine, e2e, faults
	@$(MAKE) --no-print-directory -j 3 browser $(BYTECODE_STAMP) $(SCAN_STAMP)
	@mkdir -p build; \
	$(MAKE) --no-print-directory lint > build/lint.log 2>&1 & linting=$$!; \
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_FLAGS); tests=$$?; \
	wait $$linting; linted=$$?; \
	echo "--- make lint (beside the tests): $$([ $$linted -eq 0 ] && echo passed || echo FAILED)"; \
	cat build/lint.log; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

test-unit: install ## Only the fast unit tests
	$(BIN)/pytest -m unit $(PYTEST_FLAGS)

demo: install ## Run the seed article's whole story on the local cloud
	$(BIN)/cfcd demo

bench: install ## Print the benchmark figures and write bench/results.json
	$(BIN)/python -m bench

contract: install ## Check the interfaces pipelines rely on (../shared/bin/contract-check)
	../shared/bin/contract-check

.PHONY: asl
asl: install ## Render statemachine/*.asl.yaml to the .asl.json that SAM deploys (a unit test checks it)
	$(BIN)/python -m cfcd.asl statemachine/*.asl.yaml

build: install ## sam build (needs the SAM CLI)
	sam build

deploy: build ## sam deploy --guided (needs the SAM CLI and AWS credentials)
	sam deploy --guided

sfn-local: install ## Optional: the same ASL on AWS Step Functions Local (needs Docker)
	$(BIN)/python -m cfcd.local.sfn_local

clean: ## Remove build output, caches and local cloud state
	rm -rf .aws-sam .cfcd .mypy_cache .ruff_cache .pytest_cache build tests/artifacts
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
