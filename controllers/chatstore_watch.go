package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// storeOwner maps a chat store object (a shard Secret or a Lease, by metadata) to the
// gateway that controls it.
func storeOwner(_ context.Context, obj client.Object) []reconcile.Request {
	if !isStoreObject(obj) {
		return nil
	}
	owner := metav1.GetControllerOf(obj)
	if owner == nil || owner.Kind != "GenesysGateway" || owner.APIVersion != chatv1alpha1.GroupVersion.String() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: owner.Name}}}
}

// isStoreObject tells whether an object is marked as an object of a chat store.
func isStoreObject(obj client.Object) bool {
	return obj.GetLabels()[chatstore.LabelStore] == chatstore.StoreValue
}

// storeChanged passes the events of chat store objects that can change what the operator
// does with a store: created, deleted, relabelled or re-owned, and a shard that starts or
// stops holding chats. The runners' other writes (every chat record, every Lease renewal)
// do not pass it.
type storeChanged struct {
	predicate.Funcs
}

// Create passes a store object.
func (storeChanged) Create(e event.CreateEvent) bool { return isStoreObject(e.Object) }

// Delete passes a store object.
func (storeChanged) Delete(e event.DeleteEvent) bool { return isStoreObject(e.Object) }

// Generic passes nothing.
func (storeChanged) Generic(event.GenericEvent) bool { return false }

// Update passes a store object whose labels, owners or deletion changed, or that started
// or stopped holding chats.
func (storeChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	if o == nil || n == nil || (!isStoreObject(o) && !isStoreObject(n)) {
		return false
	}
	return holdsChats(o.GetAnnotations()) != holdsChats(n.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) ||
		!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences()) ||
		o.GetDeletionTimestamp().IsZero() != n.GetDeletionTimestamp().IsZero()
}
