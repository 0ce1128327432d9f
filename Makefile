# genesys-gateway-operator

# Image of the operator; the same image runs the chat runners.
IMG ?= ghcr.io/gatewayops/genesys-gateway-operator:dev

# Pinned tool versions. The Kubernetes version of the envtest control plane follows the
# client-go minor in go.mod; etcd follows what that Kubernetes release requires.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
CRD_REF_DOCS_VERSION ?= v0.3.0
GOLANGCI_LINT_VERSION ?= v2.15.0
ENVTEST_K8S_VERSION ?= v1.37.2
ENVTEST_K8S_MINOR = $(word 2,$(subst ., ,$(ENVTEST_K8S_VERSION)))

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(ENVTEST_K8S_VERSION)
KUBECTL ?= kubectl

GO ?= go
GOTEST_FLAGS ?=

# Go modules of their own inside the tree, tested, vetted and linted along with the root
# module: hack/image (go-containerregistry), config/gitops (gopher-lua, for the Argo CD
# health check's test) and hack/helmchart (Helm and kustomize, the Helm chart's generator
# and tests) keep their dependencies out of the operator's go.mod. hack/kubebin only pins
# the Kubernetes components (no code of ours).
NESTED_MODULES := hack/image config/gitops hack/helmchart

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) docs ## Generate the CRD and RBAC manifests (and the API reference) from the Go types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	$(GO) run ./hack/namespacedrole config/rbac/role.yaml config/overlays/namespaced/manager_role.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt (every module).
	$(GO) fmt ./...
	for m in $(NESTED_MODULES); do (cd $$m && $(GO) fmt ./...); done

.PHONY: vet
vet: ## Run go vet (every module; test/e2e with its build tag).
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	for m in $(NESTED_MODULES); do (cd $$m && $(GO) vet ./...); done

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (.golangci.yml) on every module (runs on one machine wait for each other); fails if any module has findings.
	status=0; \
	$(GOLANGCI_LINT) run --allow-serial-runners ./... || status=1; \
	for m in $(NESTED_MODULES); do \
		echo "golangci-lint in $$m"; \
		(cd $$m && $(GOLANGCI_LINT) run --allow-serial-runners --config $(CURDIR)/.golangci.yml ./...) || status=1; \
	done; \
	exit $$status

.PHONY: test
test: manifests generate fmt vet envtest ## Run the unit tests and the envtest suite against a real kube-apiserver and etcd (and the nested modules' tests).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test ./... $(GOTEST_FLAGS) -coverprofile cover.out
	# -count=1: hack/helmchart's tests read config/ and charts/, outside their module, whose
	# changes go test's cache does not see.
	for m in $(NESTED_MODULES); do (cd $$m && $(GO) test -count=1 ./... $(GOTEST_FLAGS)); done

# Chat counts and measured window of make bench; BENCH_FLAGS adds flags of hack/bench
# (e.g. -warmup 10s, -cpuprofile bin/bench.prof).
BENCH_CHATS ?= 1000 10000
BENCH_DURATION ?= 30s
BENCH_FLAGS ?=

.PHONY: bench
bench: ## Benchmark the chat engine against the GMS simulator (bin/manager gms-simulator), a bare HTTP loop, and the durable chat store on kube-apiserver and etcd (ENVTEST_ASSETS; skipped without them, see make envtest), for each of BENCH_CHATS.
	$(GO) build -o bin/manager .
	for n in $(BENCH_CHATS); do \
		$(GO) run ./hack/bench -chats $$n -duration $(BENCH_DURATION) -sim-bin bin/manager -assets $(ENVTEST_ASSETS) $(BENCH_FLAGS); \
	done

.PHONY: bench-overload
bench-overload: ## The runner held to half a core while bots keep escalating at 300/s: does it shed them before any chat's gap between polls nears 3 s? (root: a cgroup CPU quota)
	$(GO) build -o bin/manager .
	$(GO) run ./hack/bench -modes overload -chats 2000 -overload-rate 300 -overload-window 45s -sim-bin bin/manager -assets $(ENVTEST_ASSETS) $(BENCH_FLAGS)

.PHONY: bench-capacity
bench-capacity: ## The most chats the engine and the bare loop each sustain at 1 s polling with p99 lateness below 50 ms (about 15 minutes).
	$(GO) build -o bin/manager .
	$(GO) run ./hack/bench -capacity -modes runner,bare -runner-with "" -capacity-start 8000 -sim-bin bin/manager $(BENCH_FLAGS)

.PHONY: docs
docs: $(CRD_REF_DOCS) ## Generate the API reference api/v1alpha1/reference.md from the Go types and markers.
	$(CRD_REF_DOCS) --source-path=./api/v1alpha1 --config=hack/docs/config.yaml --renderer=markdown \
		--templates-dir=hack/docs/templates --output-path=api/v1alpha1/reference.md --log-level=WARN

.PHONY: demo
# The demo runs as a built binary, not with go run: go run exits 1 when Ctrl-C stops it,
# whatever the demo's own status, and make then reports an error after a clean stop.
demo: envtest build ## Run the whole product locally (control plane, operator, GMS simulator, a tenant and its runners) and play a chat; ARGS=--once exits after it.
	$(GO) build -o bin/demo ./hack/demo
	bin/demo --assets $(ENVTEST_ASSETS) --manager bin/manager $(ARGS)

# End-to-end tests on a real cluster (see README, End-to-end tests).
E2E_IMG ?= localhost/genesys-gateway-operator:e2e
E2E_PAUSE_IMG ?= localhost/pause:e2e
E2E_STATE ?= /var/lib/genesys-local-cluster
CLUSTER_BINARIES := kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
E2E_TEST = IMG=$(E2E_IMG) KUBECTL=$(ENVTEST_ASSETS)/kubectl $(GO) test -tags e2e ./test/e2e/ -v -count=1 -timeout 30m $(GOTEST_FLAGS)

.PHONY: images
images: ## Build the operator (and runner) image and a pause image as tarballs in bin/images/, without Docker.
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/manager .
	cd hack/image && $(GO) run . --binary $(CURDIR)/bin/manager --tag $(E2E_IMG) --out $(CURDIR)/bin/images/operator.tar
	cd hack/image && $(GO) run . --pause --tag $(E2E_PAUSE_IMG) --out $(CURDIR)/bin/images/pause.tar

# Platforms of make images-multiarch: linux/ARCH, comma-separated. The image is a static
# binary on no base layers, so any GOARCH cross-compiles (no emulation, no base per platform).
PLATFORMS ?= linux/amd64,linux/arm64
comma := ,

.PHONY: images-multiarch
images-multiarch: ## Build the operator image (tag IMG) for each of PLATFORMS into one OCI image index, bin/images/operator-index.tar (an OCI layout tarball), without Docker.
	for p in $(subst $(comma), ,$(PLATFORMS)); do \
		case $$p in linux/*) ;; *) echo "PLATFORMS: $$p is not linux/ARCH" >&2; exit 2;; esac; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$${p#linux/} $(GO) build -trimpath -o bin/manager-linux-$${p#linux/} . || exit; \
	done
	cd hack/image && $(GO) run . --platforms $(PLATFORMS) --binary '$(CURDIR)/bin/manager-linux-{arch}' --tag $(IMG) --out $(CURDIR)/bin/images/operator-index.tar

.PHONY: cluster-binaries
cluster-binaries: envtest $(addprefix $(ENVTEST_ASSETS)/,$(CLUSTER_BINARIES)) ## Build the local cluster's Kubernetes components from source into bin/k8s/.

$(addprefix $(ENVTEST_ASSETS)/,$(CLUSTER_BINARIES)): hack/kubebin/go.mod | $(LOCALBIN)
	@echo "Building $(notdir $@) $(ENVTEST_K8S_VERSION) from source into $(ENVTEST_ASSETS)..."
	cd hack/kubebin && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

.PHONY: test-e2e
test-e2e: ## Run the end-to-end suite against the cluster of KUBECONFIG (E2E_IMG must be on its nodes).
	$(E2E_TEST)

.PHONY: test-e2e-local
test-e2e-local: cluster-binaries images ## Root, Linux: a local cluster up, the images loaded, test-e2e, the cluster down (also on failure).
	status=0; \
	$(GO) run ./hack/local-cluster up --bin $(ENVTEST_ASSETS) --state $(E2E_STATE) --pause-image $(E2E_PAUSE_IMG) \
		--image-archive bin/images/pause.tar --image-archive bin/images/operator.tar || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  KUBECONFIG=$(E2E_STATE)/admin.kubeconfig $(E2E_TEST) || status=$$?; \
	fi; \
	$(GO) run ./hack/local-cluster down --state $(E2E_STATE) --save-logs bin/e2e-logs || status=$$?; \
	exit $$status

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the operator binary (it is also the chat runner).
	$(GO) build -o bin/manager .

.PHONY: run
run: manifests generate fmt vet ## Run the operator against the cluster of the current kubeconfig.
	$(GO) run . $(ARGS)

.PHONY: docker-build
docker-build: ## Build the operator image with Docker.
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRD (and with it every GenesysGateway) from the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator (image IMG) to the cluster of the current kubeconfig.
	mkdir -p bin/deploy && cp -r config bin/deploy/ && cd bin/deploy/config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build bin/deploy/config/default | $(KUBECTL) apply --server-side -f -

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Write dist/install.yaml (CRD, RBAC, namespace, operator with image IMG) for a one-line install.
	rm -rf bin/installer && mkdir -p bin/installer dist && cp -r config bin/installer/
	cd bin/installer/config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build bin/installer/config/default > dist/install.yaml
	@echo "dist/install.yaml: kubectl apply --server-side -f dist/install.yaml (image $(IMG))"

# Version of the chart make helm-chart writes (its appVersion and default image tag are
# config/manager's image tag).
CHART_VERSION ?= 0.1.0

.PHONY: helm-chart
helm-chart: ## Generate the Helm chart charts/genesys-gateway-operator (version CHART_VERSION) from config/ (the sources of build-installer); commit it.
	cd hack/helmchart && $(GO) run . --config $(CURDIR)/config --out $(CURDIR)/charts/genesys-gateway-operator --chart-version $(CHART_VERSION)

.PHONY: helm-lint
helm-lint: ## Check the Helm chart: generated from config/ as committed, rendering config/default's objects, helm lint (Helm's Go library, no helm binary).
	cd hack/helmchart && $(GO) test -count=1 ./... $(GOTEST_FLAGS)

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(CRD_REF_DOCS): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install github.com/elastic/crd-ref-docs@$(CRD_REF_DOCS_VERSION)
	mv $(LOCALBIN)/crd-ref-docs $@

$(GOLANGCI_LINT): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $@

# kube-apiserver and etcd, built from source through the Go module proxy by the separate
# module in hack/kubebin (the usual envtest tarballs cannot be downloaded here). The
# first build takes a few minutes; later runs find the binaries and skip it.
KUBE_LDFLAGS = -s -w -X k8s.io/component-base/version.gitVersion=$(ENVTEST_K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(ENVTEST_K8S_MINOR)

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd ## Build the envtest control plane (kube-apiserver, etcd) into bin/k8s/.

$(ENVTEST_ASSETS)/kube-apiserver: hack/kubebin/go.mod | $(LOCALBIN)
	@echo "Building kube-apiserver $(ENVTEST_K8S_VERSION) from source into $(ENVTEST_ASSETS): the first time only, from a few minutes (8 idle cores) to about 40 (2 busy cores); later runs reuse it."
	cd hack/kubebin && CGO_ENABLED=0 $(GO) build -v -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver 2>&1 \
		| awk '/ /{print; next} {if (++n % 100 == 0) {printf "    kube-apiserver: %d packages compiled...\n", n; fflush()}}'

$(ENVTEST_ASSETS)/etcd: hack/kubebin/go.mod | $(LOCALBIN)
	@echo "Building etcd from source into $(ENVTEST_ASSETS)..."
	cd hack/kubebin && CGO_ENABLED=0 $(GO) build -v -trimpath -ldflags "-s -w" -o $@ go.etcd.io/etcd/server/v3 2>&1 \
		| awk '/ /{print; next} {if (++n % 100 == 0) {printf "    etcd: %d packages compiled...\n", n; fflush()}}'
