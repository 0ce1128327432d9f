package render

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

const (
	// binary is the path of the operator binary in its image.
	binary = "/manager"
	// runAsID is the non-root user and group the runner runs as.
	runAsID = 65532
)

// defaultResources are the runner container's resources when the gateway sets none.
var defaultResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("128Mi"),
	},
	Limits: corev1.ResourceList{
		corev1.ResourceMemory: resource.MustParse("512Mi"),
	},
}

// StatefulSet runs the gateway's chat runners. Pods get stable names, which key each
// runner's status entry and the chat ids it hands out. The pod template holds only what needs a
// restart: runners read the rest of the gateway, and every Secret, live, so a change of
// polling interval or a credential rotation never restarts a pod (it would drop chats).
func StatefulSet(gw *chatv1alpha1.GenesysGateway, image string) *appsv1ac.StatefulSetApplyConfiguration {
	spec := gw.Spec.Runner
	return appsv1ac.StatefulSet(gateway.RunnerName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(gateway.Replicas(gw)).
			WithServiceName(gateway.HeadlessServiceName(gw)).
			WithPodManagementPolicy(appsv1.ParallelPodManagement).
			WithSelector(metav1Selector(gateway.SelectorLabels(gw))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(gateway.Labels(gw)).
				WithAnnotations(map[string]string{"kubectl.kubernetes.io/default-container": gateway.ContainerName}).
				WithSpec(corev1ac.PodSpec().
					WithServiceAccountName(gateway.RunnerName(gw)).
					WithAutomountServiceAccountToken(true).
					WithEnableServiceLinks(false).
					// A runner's graceful stop writes its chats' final records into its
					// store and releases its Leases, a few seconds: the grace period (60 s
					// unless the gateway sets one) leaves room for it.
					WithTerminationGracePeriodSeconds(ptr.Deref(spec.TerminationGracePeriodSeconds, 60)).
					WithNodeSelector(spec.NodeSelector).
					WithTolerations(tolerations(spec.Tolerations)...).
					WithSecurityContext(corev1ac.PodSecurityContext().
						WithRunAsNonRoot(true).
						WithRunAsUser(runAsID).
						WithRunAsGroup(runAsID).
						WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
					WithVolumes(corev1ac.Volume().
						WithName("tmp").
						WithEmptyDir(corev1ac.EmptyDirVolumeSource())).
					WithContainers(runnerContainer(gw, image)))))
}

func runnerContainer(gw *chatv1alpha1.GenesysGateway, image string) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().
		WithName(gateway.ContainerName).
		WithImage(image).
		WithCommand(binary).
		WithArgs(RunnerArgs(gw)...).
		WithEnv(
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("POD_NAMESPACE", "metadata.namespace"),
			corev1ac.EnvVar().WithName("GOMEMLIMIT").WithValueFrom(corev1ac.EnvVarSource().
				WithResourceFieldRef(corev1ac.ResourceFieldSelector().
					WithContainerName(gateway.ContainerName).
					WithResource("limits.memory").
					WithDivisor(resource.MustParse("0"))))).
		WithPorts(
			containerPort("http", gateway.HTTPPort),
			containerPort("health", gateway.HealthPort),
			containerPort("metrics", gateway.MetricsPort)).
		WithResources(resources(gw.Spec.Runner.Resources)).
		WithLivenessProbe(httpProbe("/healthz", 10)).
		WithReadinessProbe(httpProbe("/readyz", 5)).
		WithVolumeMounts(corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp")).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")))
	if p := gw.Spec.Runner.ImagePullPolicy; p != "" {
		c.WithImagePullPolicy(p)
	}
	return c
}

// Atomic structs (env sources) are written with the values the API server would default,
// so that what the operator last applied equals what it would apply again.

// RunnerArgs are the runner container's arguments: the chat-runner subcommand of the
// operator binary and the gateway it serves.
func RunnerArgs(gw *chatv1alpha1.GenesysGateway) []string {
	args := []string{
		gateway.RunnerSubcommand,
		"--gateway=" + gw.Namespace + "/" + gw.Name,
		fmt.Sprintf("--http-bind-address=:%d", gateway.HTTPPort),
		fmt.Sprintf("--health-probe-bind-address=:%d", gateway.HealthPort),
		fmt.Sprintf("--metrics-bind-address=:%d", gateway.MetricsPort),
	}
	if gw.Spec.Runner.EscalationTLS != nil {
		args = append(args, "--"+gateway.EscalationTLSFlag)
	}
	return args
}

func metav1Selector(labels map[string]string) *metav1ac.LabelSelectorApplyConfiguration {
	return metav1ac.LabelSelector().WithMatchLabels(labels)
}

func fieldEnv(name, path string) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
		WithFieldRef(corev1ac.ObjectFieldSelector().WithAPIVersion("v1").WithFieldPath(path)))
}

func containerPort(name string, port int32) *corev1ac.ContainerPortApplyConfiguration {
	return corev1ac.ContainerPort().WithName(name).WithContainerPort(port).WithProtocol(corev1.ProtocolTCP)
}

func httpProbe(path string, period int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("health"))).
		WithPeriodSeconds(period)
}

func resources(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	if r == nil {
		r = &defaultResources
	}
	ac := corev1ac.ResourceRequirements()
	if len(r.Requests) > 0 {
		ac.WithRequests(r.Requests)
	}
	if len(r.Limits) > 0 {
		ac.WithLimits(r.Limits)
	}
	return ac
}

func tolerations(ts []corev1.Toleration) []*corev1ac.TolerationApplyConfiguration {
	out := make([]*corev1ac.TolerationApplyConfiguration, 0, len(ts))
	for _, t := range ts {
		ac := corev1ac.Toleration().WithEffect(t.Effect).WithOperator(t.Operator)
		if t.Key != "" {
			ac.WithKey(t.Key)
		}
		if t.Value != "" {
			ac.WithValue(t.Value)
		}
		if t.TolerationSeconds != nil {
			ac.WithTolerationSeconds(*t.TolerationSeconds)
		}
		out = append(out, ac)
	}
	return out
}
