# ChatSend — every set-up step lives here, so a fresh machine needs only
# `make dev` (run the product locally) and `make test` (run every test).

SHELL := /bin/bash
GO ?= go
export CGO_ENABLED := 0
# jsii reads this as the Node major version whose end-of-life banner to hide.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 1)
export GOFLAGS := -buildvcs=false

# Lambda functions built as bootstrap binaries for provided.al2023 arm64.
FUNCTIONS := api events fanout imports privacy webhooks stripe-webhook billing-reconcile
BUILD := .build

.PHONY: dev test test-short vet tools build synth bench clean fmt

## dev: run the whole product locally (embedded AWS, API on :8080; PORT overrides)
dev: tools
	$(GO) run ./infra/dev

## test: vet, then every test with the race detector (installs what it needs)
test: tools vet
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m ./...

## test-short: the fast tests only, without the race detector
test-short:
	$(GO) test -count=1 -short ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

STRIPE_MOCK_VERSION := v0.203.0

## tools: install what builds and tests need (Go modules; Node.js for the CDK's jsii runtime;
## stripe-mock for billing, into .build/tools)
tools:
	@$(GO) mod download
	@test -x $(BUILD)/tools/stripe-mock || { echo "installing stripe-mock $(STRIPE_MOCK_VERSION) into $(BUILD)/tools"; \
	  GOBIN=$(CURDIR)/$(BUILD)/tools $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION); }
	@command -v node >/dev/null 2>&1 || { echo "installing Node.js for the CDK (jsii)"; \
	  (apt-get update -qq && apt-get install -y -qq nodejs) >/dev/null || { echo "could not install nodejs"; exit 1; }; }
	@command -v gcc >/dev/null 2>&1 || { echo "installing gcc for the race detector"; \
	  (apt-get update -qq && apt-get install -y -qq gcc libc6-dev) >/dev/null || { echo "could not install gcc"; exit 1; }; }

## build: Lambda bootstrap binaries (linux/arm64) under .build/functions/<name>/bootstrap
build:
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o $(BUILD)/functions/$$f/bootstrap ./functions/$$f || exit 1; \
	done

## synth: the CloudFormation template, offline, into cdk.out/
synth: tools build
	CHATSEND_FUNCTIONS_DIR=$(BUILD)/functions $(GO) run ./infra
	@ls cdk.out/*.template.json

## bench: Go benchmarks and the local load harness; writes .build/bench/report.md
bench: tools
	@mkdir -p .build/bench
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./shared/... | tee .build/bench/go-bench.txt
	$(GO) run ./infra/bench -out .build/bench/report.md
	@cat .build/bench/report.md

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD) cdk.out
