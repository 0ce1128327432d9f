package live_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
)

var _ = Describe("Snapshot", func() {
	snap := &live.Snapshot{
		Secrets: map[string]*corev1.Secret{"acme-gms": {
			ObjectMeta: metav1.ObjectMeta{Name: "acme-gms", ResourceVersion: "7"},
			Data:       map[string][]byte{"password": []byte(password)},
		}},
		ConfigMaps: map[string]*corev1.ConfigMap{"agents": {
			ObjectMeta: metav1.ObjectMeta{Name: "agents", ResourceVersion: "9"},
			BinaryData: map[string][]byte{"agents.yaml": []byte(directory)},
		}},
	}

	It("returns copies, so a caller cannot change the snapshot", func() {
		v, err := snap.SecretKey("acme-gms", "password")
		Expect(err).NotTo(HaveOccurred())
		v[0] = 'X'
		Expect(snap.SecretKey("acme-gms", "password")).To(Equal([]byte(password)))
	})

	It("reads binaryData of a ConfigMap too", func() {
		Expect(snap.ConfigMapKey("agents", "agents.yaml")).To(Equal(directory))
	})

	It("reports resourceVersions by kind and name, never content", func() {
		Expect(snap.ResourceVersions()).To(Equal(map[string]string{"Secret/acme-gms": "7", "ConfigMap/agents": "9"}))
	})

	It("names what is missing", func() {
		_, err := snap.SecretKey("x", "password")
		Expect(err).To(MatchError(`Secret "x" not found`))
		Expect(err).To(MatchError(live.ErrNotFound))
		_, err = snap.ConfigMapKey("y", "agents.yaml")
		Expect(err).To(MatchError(`ConfigMap "y" not found`))
	})
})
