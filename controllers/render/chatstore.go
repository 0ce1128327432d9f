package render

import (
	"maps"
	"strconv"

	coordinationv1ac "k8s.io/client-go/applyconfigurations/coordination/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// StoreNames are the objects of the gateway's durable chat stores that the runners may use
// (see internal/chatstore): the shard Secrets and the Leases of every ordinal that has a
// store.
type StoreNames struct {
	Shards []string
	Leases []string
}

// StoreLabels are the labels of the store objects of a runner ordinal: the gateway's
// child labels, the ordinal and the store mark.
func StoreLabels(gw *chatv1alpha1.GenesysGateway, ordinal int) map[string]string {
	labels := maps.Clone(gateway.Labels(gw))
	labels[chatstore.LabelOrdinal] = strconv.Itoa(ordinal)
	labels[chatstore.LabelStore] = chatstore.StoreValue
	return labels
}

// ChatShard is the metadata of one shard of a runner ordinal's store. It has no data and
// no type on purpose: the runners write the data, and applying this never touches it.
func ChatShard(gw *chatv1alpha1.GenesysGateway, ordinal, shard int) *corev1ac.SecretApplyConfiguration {
	return corev1ac.Secret(chatstore.ShardName(gw, ordinal, shard), gw.Namespace).
		WithLabels(StoreLabels(gw, ordinal)).
		WithOwnerReferences(OwnerReference(gw))
}

// ChatLease is the metadata of a runner ordinal's Lease. It has no spec: the runners hold
// and renew the Lease, the operator never writes its spec.
func ChatLease(gw *chatv1alpha1.GenesysGateway, ordinal int) *coordinationv1ac.LeaseApplyConfiguration {
	return coordinationv1ac.Lease(chatstore.LeaseName(gw, ordinal), gw.Namespace).
		WithLabels(StoreLabels(gw, ordinal)).
		WithOwnerReferences(OwnerReference(gw))
}
