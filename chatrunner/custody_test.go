package chatrunner

import (
	"slices"
	"testing"

	"k8s.io/utils/ptr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The gateway snapshot a runner holds is taken on spec changes: its status.chatStores may
// predate a scale-up, and the new ordinals' stores must be watched all the same.
func TestStoreOrdinalsCoverTheReplicasAndTheListedStores(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int32
		listed   []int32
		want     []int
	}{
		{"status predates a scale-up", 3, []int32{0, 1}, []int{0, 1, 2}},
		{"removed ordinals that still hold chats", 1, []int32{0, 1, 2}, []int{0, 1, 2}},
		{"no status yet", 2, nil, []int{0, 1}},
		{"a removed ordinal above a gap", 1, []int32{0, 3}, []int{0, 3}},
	} {
		gw := &chatv1alpha1.GenesysGateway{}
		gw.Spec.Deploy = true
		gw.Spec.Runner.Replicas = ptr.To(tc.replicas)
		gw.Status.ChatStores = tc.listed
		if got := storeOrdinals(gw); !slices.Equal(got, tc.want) {
			t.Errorf("%s: storeOrdinals = %v, want %v", tc.name, got, tc.want)
		}
	}
}
