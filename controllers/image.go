package controllers

import (
	"errors"
	"fmt"
	"strings"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// AllowAllRunnerImages is the --allowed-runner-images value that lets a gateway name any
// runner image.
const AllowAllRunnerImages = "*"

// errRunnerImageNotAllowed is the stalling error of a gateway whose spec.runner.image is
// outside the operator's policy.
var errRunnerImageNotAllowed = errors.New("runner image not allowed")

// RunnerImagePolicy says which images a gateway may name in spec.runner.image. A runner
// reads the gateway's Secrets and acts as the gateway's ServiceAccount, so its image is
// code that runs with a tenant's credentials: a tenant may pick another version of a
// vetted image, not any image.
type RunnerImagePolicy struct {
	// AllowAll lets a gateway name any image.
	AllowAll bool
	// Prefixes are the allowed repository prefixes, such as registry.example.com/team: an
	// image is allowed when its repository (the reference without tag or digest) is one of
	// them or lies below one of them, past a '/'.
	Prefixes []string
}

// ParseRunnerImagePolicy parses --allowed-runner-images: repository prefixes separated by
// commas; "*" for any image; empty for the repository of runnerImage, the operator's own
// image (--runner-image), so that a gateway may name another tag of it and nothing else.
func ParseRunnerImagePolicy(list, runnerImage string) (RunnerImagePolicy, error) {
	if strings.TrimSpace(list) == "" {
		return defaultRunnerImagePolicy(runnerImage), nil
	}
	var p RunnerImagePolicy
	for entry := range strings.SplitSeq(list, ",") {
		prefix := strings.TrimSuffix(strings.TrimSpace(entry), "/")
		switch {
		case prefix == "":
			continue
		case prefix == AllowAllRunnerImages:
			p.AllowAll = true
			continue
		case strings.ContainsAny(prefix, "*@ \t"):
			return RunnerImagePolicy{}, fmt.Errorf("allowed runner image prefix %q: a prefix is a registry or repository, such as registry.example.com/team, without wildcard, space or digest; \"*\" alone allows any image", prefix)
		case hasTag(prefix):
			return RunnerImagePolicy{}, fmt.Errorf("allowed runner image prefix %q: a prefix names a registry or repository, not a tag", prefix)
		}
		p.Prefixes = append(p.Prefixes, prefix)
	}
	if p.AllowAll && len(p.Prefixes) > 0 {
		return RunnerImagePolicy{}, fmt.Errorf("allowed runner images %q: \"*\" allows any image, so it cannot be listed with prefixes", list)
	}
	if !p.AllowAll && len(p.Prefixes) == 0 {
		return RunnerImagePolicy{}, fmt.Errorf("allowed runner images %q: no prefix; leave the flag out for the operator's own repository, or give \"*\" for any image", list)
	}
	return p, nil
}

// defaultRunnerImagePolicy allows the repository of the operator's runner image; nothing
// when there is none.
func defaultRunnerImagePolicy(runnerImage string) RunnerImagePolicy {
	if runnerImage == "" {
		return RunnerImagePolicy{}
	}
	return RunnerImagePolicy{Prefixes: []string{repository(runnerImage)}}
}

// Allows tells whether the policy lets a gateway name image.
func (p RunnerImagePolicy) Allows(image string) bool {
	if p.AllowAll {
		return true
	}
	repo := repository(image)
	for _, prefix := range p.Prefixes {
		if repo == prefix || strings.HasPrefix(repo, prefix+"/") {
			return true
		}
	}
	return false
}

// String lists what the policy allows, for messages and logs.
func (p RunnerImagePolicy) String() string {
	switch {
	case p.AllowAll:
		return AllowAllRunnerImages
	case len(p.Prefixes) == 0:
		return "none"
	default:
		return strings.Join(p.Prefixes, ", ")
	}
}

// repository is an image reference without its digest and tag: the tag is what follows
// the last ':' after the last '/', so a registry's port stays.
func repository(image string) string {
	ref, _, _ := strings.Cut(image, "@")
	if colon := strings.LastIndex(ref, ":"); colon > strings.LastIndex(ref, "/") {
		ref = ref[:colon]
	}
	return ref
}

// hasTag tells whether a prefix has a ':' past its registry, where a tag would be.
func hasTag(prefix string) bool {
	_, path, ok := strings.Cut(prefix, "/")
	return ok && strings.Contains(path, ":")
}

// checkRunnerImage returns an error naming the gateway's spec.runner.image and what the
// policy allows when the image is outside it. A gateway that names no image runs the
// operator's own, which the platform chose, and passes.
func checkRunnerImage(gw *chatv1alpha1.GenesysGateway, p RunnerImagePolicy) error {
	image := gw.Spec.Runner.Image
	if image == "" || p.Allows(image) {
		return nil
	}
	if !p.AllowAll && len(p.Prefixes) == 0 {
		return fmt.Errorf("%w: spec.runner.image %q, and this operator runs no image but its own; leave spec.runner.image empty, or start the operator with --allowed-runner-images",
			errRunnerImageNotAllowed, image)
	}
	return fmt.Errorf("%w: spec.runner.image %q is not in a repository under the allowed prefixes %s (the operator's --allowed-runner-images); use an image from one of them, or leave spec.runner.image empty for the operator's own",
		errRunnerImageNotAllowed, image, p)
}

// runnerImagePolicy is the reconciler's policy: RunnerImages, or, when that is the zero
// value, the repository of RunnerImage, as --allowed-runner-images defaults to.
func (r *GatewayReconciler) runnerImagePolicy() RunnerImagePolicy {
	if r.RunnerImages.AllowAll || len(r.RunnerImages.Prefixes) > 0 {
		return r.RunnerImages
	}
	return defaultRunnerImagePolicy(r.RunnerImage)
}
