package controllers

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

func TestRunnerImagePolicyMatchesRepositoriesOnPathBoundaries(t *testing.T) {
	team := RunnerImagePolicy{Prefixes: []string{"registry.example.com/team", "localhost:5000"}}
	for _, c := range []struct {
		policy  RunnerImagePolicy
		image   string
		allowed bool
	}{
		{team, "registry.example.com/team", true},
		{team, "registry.example.com/team:v1", true},
		{team, "registry.example.com/team/chat-runner:v1.2.0", true},
		{team, "registry.example.com/team/sub/runner@sha256:" + strings.Repeat("a", 64), true},
		{team, "registry.example.com/team/runner:v1@sha256:" + strings.Repeat("a", 64), true},
		{team, "localhost:5000/anything:latest", true},
		{team, "registry.example.com/team-evil/x", false},
		{team, "registry.example.com/teamx:v1", false},
		{team, "registry.example.com/other/team/x", false},
		{team, "evil.example.com/registry.example.com/team/x", false},
		{team, "registry.example.com.evil.io/team/x", false},
		{team, "localhost:50001/x", false},
		{team, "localhost/x", false},
		{team, "registry.example.com", false},
		{RunnerImagePolicy{}, "registry.example.com/team/x", false},
		{RunnerImagePolicy{AllowAll: true}, "anything.example.com/x:y", true},
	} {
		if got := c.policy.Allows(c.image); got != c.allowed {
			t.Errorf("%v allows %q: %v, want %v", c.policy, c.image, got, c.allowed)
		}
	}
}

func TestRepositoryDropsTagAndDigestButKeepsTheRegistryPort(t *testing.T) {
	for image, want := range map[string]string{
		"ubuntu":                              "ubuntu",
		"ubuntu:24.04":                        "ubuntu",
		"localhost:5000/team/x":               "localhost:5000/team/x",
		"localhost:5000/team/x:v1":            "localhost:5000/team/x",
		"registry.example.com/x@sha256:00ff":  "registry.example.com/x",
		"registry.example.com/x:v1@sha256:00": "registry.example.com/x",
	} {
		if got := repository(image); got != want {
			t.Errorf("repository(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestParseRunnerImagePolicy(t *testing.T) {
	const own = "ghcr.io/gatewayops/genesys-gateway-operator:v0.3.0"
	for _, c := range []struct {
		flag, runnerImage string
		want              RunnerImagePolicy
		err               string
	}{
		{flag: "", runnerImage: own, want: RunnerImagePolicy{Prefixes: []string{"ghcr.io/gatewayops/genesys-gateway-operator"}}},
		{flag: "", runnerImage: "localhost:5000/op@sha256:00", want: RunnerImagePolicy{Prefixes: []string{"localhost:5000/op"}}},
		{flag: " ", runnerImage: "", want: RunnerImagePolicy{}},
		{flag: "*", runnerImage: own, want: RunnerImagePolicy{AllowAll: true}},
		{flag: "registry.example.com/team/, ghcr.io/gatewayops,", runnerImage: own,
			want: RunnerImagePolicy{Prefixes: []string{"registry.example.com/team", "ghcr.io/gatewayops"}}},
		{flag: "localhost:5000", want: RunnerImagePolicy{Prefixes: []string{"localhost:5000"}}},
		{flag: "*,registry.example.com", err: `"*" allows any image`},
		{flag: "registry.example.com/*", err: "without wildcard"},
		{flag: "registry.example.com/team/x:v1", err: "not a tag"},
		{flag: "registry.example.com/x@sha256:00", err: "digest"},
		{flag: ",", err: "no prefix"},
	} {
		got, err := ParseRunnerImagePolicy(c.flag, c.runnerImage)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseRunnerImagePolicy(%q): error %v, want one saying %q", c.flag, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("ParseRunnerImagePolicy(%q): %v", c.flag, err)
		case c.err == "" && (got.AllowAll != c.want.AllowAll || strings.Join(got.Prefixes, ",") != strings.Join(c.want.Prefixes, ",")):
			t.Errorf("ParseRunnerImagePolicy(%q, %q) = %+v, want %+v", c.flag, c.runnerImage, got, c.want)
		}
	}
}

func TestCheckRunnerImageNamesTheImageAndThePrefixes(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{}
	policy := RunnerImagePolicy{Prefixes: []string{"registry.example.com/team", "ghcr.io/gatewayops/genesys-gateway-operator"}}
	g.Expect(checkRunnerImage(gw, policy)).To(Succeed(), "no image: the operator's own")

	gw.Spec.Runner.Image = "registry.example.com/team/runner:v2"
	g.Expect(checkRunnerImage(gw, policy)).To(Succeed())

	gw.Spec.Runner.Image = "registry.example.com/team-evil/x:1"
	err := checkRunnerImage(gw, policy)
	g.Expect(errors.Is(err, errRunnerImageNotAllowed)).To(BeTrue())
	g.Expect(err.Error()).To(Equal(`runner image not allowed: spec.runner.image "registry.example.com/team-evil/x:1" is not in a repository under the allowed prefixes registry.example.com/team, ghcr.io/gatewayops/genesys-gateway-operator (the operator's --allowed-runner-images); use an image from one of them, or leave spec.runner.image empty for the operator's own`))

	err = checkRunnerImage(gw, RunnerImagePolicy{})
	g.Expect(err).To(MatchError(ContainSubstring(`"registry.example.com/team-evil/x:1"`)))
	g.Expect(err).To(MatchError(ContainSubstring("start the operator with --allowed-runner-images")))
}

func TestReconcilerPolicyDefaultsToTheRepositoryOfItsRunnerImage(t *testing.T) {
	g := NewWithT(t)
	r := &GatewayReconciler{RunnerImage: "registry.example.com/genesys-gateway-operator:test"}
	g.Expect(r.runnerImagePolicy().Prefixes).To(Equal([]string{"registry.example.com/genesys-gateway-operator"}))
	r.RunnerImages = RunnerImagePolicy{AllowAll: true}
	g.Expect(r.runnerImagePolicy().AllowAll).To(BeTrue())
	r.RunnerImages = RunnerImagePolicy{Prefixes: []string{"registry.example.com/team"}}
	g.Expect(r.runnerImagePolicy().Prefixes).To(Equal([]string{"registry.example.com/team"}))
}
