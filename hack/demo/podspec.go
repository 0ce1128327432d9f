package main

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// imageBinary is the path of the operator binary in its image (the Dockerfile's
// ENTRYPOINT), which the demo replaces with the local binary.
const imageBinary = "/manager"

// bindFlags are the runner's listen address flags: the only arguments the demo changes,
// because every runner shares this machine's ports.
var bindFlags = []string{"--http-bind-address", "--health-probe-bind-address", "--metrics-bind-address"}

// podProcess is how the demo runs one pod of the runner StatefulSet as a local process.
type podProcess struct {
	name    string
	ordinal int
	argv    []string
	// templateArgs is how many of argv come from the template; the rest move the listen
	// addresses.
	templateArgs int
	// env is the container's environment resolved as the kubelet would, plus what stands
	// in for the cluster (see podEnv).
	env []string
	// local maps each container port the arguments bind to its local address.
	local map[int32]string
	// readyPath is the readiness probe's path; readyAddr the local address it is served on.
	readyPath, readyAddr string
}

// runnerContainer finds the runner container of the StatefulSet's pod template.
func runnerContainer(sts *appsv1.StatefulSet) (corev1.Container, error) {
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == gateway.ContainerName {
			return c, nil
		}
	}
	return corev1.Container{}, fmt.Errorf("StatefulSet %s has no container %q", sts.Name, gateway.ContainerName)
}

// podProcessFor describes pod ordinal of the StatefulSet as a local process: the
// container's command (the image's /manager replaced by manager) and arguments, with each
// listen address moved to the address ports gives for its port (free loopback ports).
func podProcessFor(sts *appsv1.StatefulSet, ordinal int, manager string, ports func(port int32) (string, error)) (*podProcess, error) {
	c, err := runnerContainer(sts)
	if err != nil {
		return nil, err
	}
	command := c.Command
	if len(command) == 0 {
		command = []string{imageBinary} // the image's entrypoint
	}
	if command[0] != imageBinary {
		return nil, fmt.Errorf("the runner container runs %q: the demo can only run the operator binary, %s", command[0], imageBinary)
	}
	p := &podProcess{name: fmt.Sprintf("%s-%d", sts.Name, ordinal), ordinal: ordinal, local: map[int32]string{}}
	p.argv = append([]string{manager}, command[1:]...)
	p.argv = append(p.argv, c.Args...)
	p.templateArgs = len(p.argv)
	for _, arg := range c.Args {
		flag, value, ok := strings.Cut(arg, "=")
		if !ok || !slices.Contains(bindFlags, flag) {
			continue
		}
		_, portText, err := net.SplitHostPort(value)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", arg, err)
		}
		port, err := strconv.ParseInt(portText, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", arg, err)
		}
		addr, err := ports(int32(port))
		if err != nil {
			return nil, err
		}
		p.local[int32(port)] = addr
		p.argv = append(p.argv, flag+"="+addr) // the last occurrence of a flag wins
	}
	if err := p.setReadiness(c); err != nil {
		return nil, err
	}
	return p, nil
}

// setReadiness finds the local address and path of the container's readiness probe.
func (p *podProcess) setReadiness(c corev1.Container) error {
	probe := c.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil {
		return fmt.Errorf("the runner container has no HTTP readiness probe")
	}
	port := probe.HTTPGet.Port.IntVal
	if name := probe.HTTPGet.Port.StrVal; name != "" {
		port = 0
		for _, cp := range c.Ports {
			if cp.Name == name {
				port = cp.ContainerPort
			}
		}
	}
	addr, ok := p.local[port]
	if !ok {
		return fmt.Errorf("the readiness probe's port %s is bound by none of the arguments %v", probe.HTTPGet.Port.String(), bindFlags)
	}
	p.readyPath, p.readyAddr = probe.HTTPGet.Path, addr
	return nil
}

// podEnv resolves the container's environment as the kubelet would for pod name of the
// StatefulSet (downward API fields and resources), and appends what stands in for the
// cluster: KUBECONFIG (the pod's ServiceAccount, instead of its mounted token) and
// HTTP_PROXY (the pod network, for the pods' DNS names). Nothing of this machine's
// environment is passed on.
func podEnv(sts *appsv1.StatefulSet, name, kubeconfig, podNetwork string) ([]string, error) {
	c, err := runnerContainer(sts)
	if err != nil {
		return nil, err
	}
	if len(c.EnvFrom) > 0 {
		return nil, fmt.Errorf("the runner container has envFrom, which the demo does not resolve")
	}
	spec := sts.Spec.Template
	var env []string
	for _, e := range c.Env {
		value, ok, err := envValue(e, name, sts.Namespace, spec, c)
		if err != nil {
			return nil, err
		}
		if ok {
			env = append(env, e.Name+"="+value)
		}
	}
	return append(env,
		"KUBECONFIG="+kubeconfig,
		"HTTP_PROXY=http://"+podNetwork,
		"NO_PROXY=127.0.0.1,localhost"), nil
}

// envValue resolves one environment variable; false when the kubelet would leave it
// unset here (a resource without a limit).
func envValue(e corev1.EnvVar, pod, namespace string, tmpl corev1.PodTemplateSpec, c corev1.Container) (string, bool, error) {
	src := e.ValueFrom
	switch {
	case src == nil:
		return e.Value, true, nil
	case src.FieldRef != nil:
		path := src.FieldRef.FieldPath
		switch {
		case path == "metadata.name":
			return pod, true, nil
		case path == "metadata.namespace":
			return namespace, true, nil
		case path == "spec.serviceAccountName":
			return tmpl.Spec.ServiceAccountName, true, nil
		case path == "status.podIP", path == "status.hostIP":
			return "127.0.0.1", true, nil
		case strings.HasPrefix(path, "metadata.labels['"):
			return tmpl.Labels[strings.TrimSuffix(strings.TrimPrefix(path, "metadata.labels['"), "']")], true, nil
		case strings.HasPrefix(path, "metadata.annotations['"):
			return tmpl.Annotations[strings.TrimSuffix(strings.TrimPrefix(path, "metadata.annotations['"), "']")], true, nil
		}
		return "", false, fmt.Errorf("env %s: the demo does not resolve fieldRef %s", e.Name, path)
	case src.ResourceFieldRef != nil:
		return resourceValue(e.Name, src.ResourceFieldRef, c)
	}
	return "", false, fmt.Errorf("env %s: the demo resolves only values, fieldRef and resourceFieldRef", e.Name)
}

// resourceValue resolves a resourceFieldRef of the container: its request or limit
// divided by the divisor, rounded up. A limit that is not set would be the node's
// allocatable on a cluster; the demo leaves the variable unset instead.
func resourceValue(name string, ref *corev1.ResourceFieldSelector, c corev1.Container) (string, bool, error) {
	kind, res, ok := strings.Cut(ref.Resource, ".")
	var list corev1.ResourceList
	switch {
	case ok && kind == "limits":
		list = c.Resources.Limits
	case ok && kind == "requests":
		list = c.Resources.Requests
	default:
		return "", false, fmt.Errorf("env %s: the demo does not resolve resource %s", name, ref.Resource)
	}
	q, set := list[corev1.ResourceName(res)]
	if !set {
		return "", false, nil
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1") // bytes, or whole cores
	}
	v := (q.MilliValue() + divisor.MilliValue() - 1) / divisor.MilliValue()
	return strconv.FormatInt(v, 10), true, nil
}
