//go:build e2e

package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// The GMS simulator of a tenant: the operator image's gms-simulator subcommand.
const (
	simName     = "gms-simulator"
	simPort     = 8090
	simUser     = "gms"
	simPassword = "/etc/gms/password"
	// simIdleTimeout ends a chat nobody polls, as Genesys does (45 s by default): a chat
	// whose runner is gone survives only if a runner resumes polling it within this, so it
	// must stay above the chat store Lease's adoption time (the runners' default
	// --lease-duration 15 s plus --lease-retry-period 2 s; the gateway does not set them).
	simIdleTimeout = 45 * time.Second
)

// simulator reaches a simulator's control API by ClusterIP.
type simulator struct {
	// serviceURL is the Chat API base the gateway uses: http://<clusterIP>:8090.
	serviceURL string
	// ctl plays the agent through the control API, at the same address.
	ctl *gmssim.ControlClient
}

// startSimulator runs a simulator in a namespace, with Basic authentication, and waits
// until its Service answers from the host.
func startSimulator(ns, password string, idleTimeout time.Duration) *simulator {
	GinkgoHelper()
	secret, deploy, svc := simulatorObjects(ns, password, idleTimeout)
	Expect(k8s.Create(ctx, secret)).To(Succeed())
	Expect(k8s.Create(ctx, deploy)).To(Succeed())
	Expect(k8s.Create(ctx, svc)).To(Succeed())

	s := &simulator{}
	Eventually(func(g Gomega) {
		s.serviceURL = serviceURL(g, ns, simName, simPort)
		s.ctl = gmssim.NewControlClient(s.serviceURL, httpClient)
		_, err := s.ctl.Chats(ctx)
		g.Expect(err).NotTo(HaveOccurred())
	}).Should(Succeed(), "the simulator answers on its ClusterIP from the host "+
		"(on kind, route the service CIDR through the node: see the README)")
	return s
}

// simulatorObjects are the simulator's password Secret, its Deployment (restricted Pod
// Security: non-root, RuntimeDefault seccomp, no privilege escalation, no capabilities,
// read-only root filesystem) and its Service.
func simulatorObjects(ns, password string, idleTimeout time.Duration) (*corev1.Secret, *appsv1.Deployment, *corev1.Service) {
	labels := map[string]string{"app.kubernetes.io/name": simName}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: simName},
		StringData: map[string]string{"password": password},
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: simName, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To[int64](65532),
						RunAsGroup:     ptr.To[int64](65532),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "simulator",
						Image:           cfg.image,
						ImagePullPolicy: cfg.pullPolicy,
						Command:         []string{"/manager"},
						Args: []string{
							gmssim.Subcommand,
							fmt.Sprintf("--addr=:%d", simPort),
							"--basic-auth-user=" + simUser,
							"--basic-auth-password-file=" + simPassword,
							"--idle-timeout=" + idleTimeout.String(),
						},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: simPort, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/sim/chats", Port: intstr.FromString("http")}},
							PeriodSeconds: 2,
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "password", MountPath: "/etc/gms", ReadOnly: true}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: []corev1.Volume{{
						Name:         "password",
						VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: simName}},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: simName, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: simPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	return secret, deploy, svc
}

// chat reads a simulator chat by its Genesys chat id.
func (s *simulator) chat(g Gomega, genesysID string) gmssim.Chat {
	c, err := s.ctl.Chat(ctx, genesysID)
	g.Expect(err).NotTo(HaveOccurred())
	return c
}
