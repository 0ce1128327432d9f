package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// The operator keeps one durable chat store per runner ordinal (see internal/chatstore):
// shard Secrets and a Lease, created here with metadata only. It never reads nor writes a
// shard's data: it observes the store through the metadata cache, and the number of chats
// a shard holds through its chatstore.AnnotationChats annotation, which the runners write.

var (
	secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")
	leaseGVK  = coordinationv1.SchemeGroupVersion.WithKind("Lease")
)

// storeShard is one observed shard of a store: its place and whether it holds chats.
type storeShard struct {
	ordinal, shard int
	holdsChats     bool
}

// planStores decides which stores a gateway keeps and how many shards each: live is the
// number of runner ordinals that run or may still run, shards the number of shards a store
// needs for the gateway's capacity, observed the shards that exist. A live ordinal keeps a
// store of at least shards shards; any ordinal keeps its shards up to the highest one that
// holds chats, so that a runner finds them (it reads shards 0, 1, 2, ... until one is
// missing) and no chat is lost after a scale-down or a lower capacity. It returns the
// number of shards kept per ordinal; an ordinal that is not in it keeps no store.
func planStores(live, shards int, observed []storeShard) map[int]int {
	keep := map[int]int{}
	for o := range live {
		keep[o] = shards
	}
	for _, s := range observed {
		if s.holdsChats && s.shard+1 > keep[s.ordinal] {
			keep[s.ordinal] = s.shard + 1
		}
	}
	return keep
}

// shardsToDelete returns the observed shards that a plan does not keep, highest shard of
// each ordinal first: a lower shard is never deleted while a higher one remains.
func shardsToDelete(keep map[int]int, observed []storeShard) []storeShard {
	var out []storeShard
	for _, s := range observed {
		if n, kept := keep[s.ordinal]; !kept || s.shard >= n {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b storeShard) int {
		return cmp.Or(cmp.Compare(a.ordinal, b.ordinal), cmp.Compare(b.shard, a.shard))
	})
	return out
}

// holdsChats reads a shard's AnnotationChats: a shard without it, or with "0", holds no
// chats. Anything else counts as chats: a shard is never deleted on a doubt.
func holdsChats(annotations map[string]string) bool {
	v, ok := annotations[chatstore.AnnotationChats]
	if !ok {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return err != nil || n != 0
}

// storeNames names the objects of the stores a plan keeps, for the runner Role.
func storeNames(gw *chatv1alpha1.GenesysGateway, keep map[int]int) render.StoreNames {
	var names render.StoreNames
	for _, o := range slices.Sorted(maps.Keys(keep)) {
		names.Leases = append(names.Leases, chatstore.LeaseName(gw, o))
		for s := range keep[o] {
			names.Shards = append(names.Shards, chatstore.ShardName(gw, o, s))
		}
	}
	return names
}

// storeOrdinals lists the ordinals a plan keeps a store for, sorted: status.chatStores.
func storeOrdinals(keep map[int]int) []int32 {
	out := make([]int32, 0, len(keep))
	for _, o := range slices.Sorted(maps.Keys(keep)) {
		out = append(out, int32(o))
	}
	return out
}

// storeObservation is what the metadata cache holds of a gateway's store objects that the
// gateway controls, by name.
type storeObservation struct {
	shards map[string]*metav1.PartialObjectMetadata
	leases map[string]*metav1.PartialObjectMetadata
}

// observeStores lists the store objects of a gateway, by metadata only.
func (r *GatewayReconciler) observeStores(ctx context.Context, gw *chatv1alpha1.GenesysGateway) (*storeObservation, error) {
	obs := &storeObservation{}
	var err error
	if obs.shards, err = r.listStoreObjects(ctx, gw, secretGVK); err != nil {
		return nil, err
	}
	if obs.leases, err = r.listStoreObjects(ctx, gw, leaseGVK); err != nil {
		return nil, err
	}
	return obs, nil
}

func (r *GatewayReconciler) listStoreObjects(ctx context.Context, gw *chatv1alpha1.GenesysGateway, gvk schema.GroupVersionKind) (map[string]*metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.List(ctx, list, client.InNamespace(gw.Namespace), client.MatchingLabels{
		chatstore.LabelStore: chatstore.StoreValue, gateway.LabelGateway: gw.Name,
	}); err != nil {
		return nil, fmt.Errorf("listing the chat store %ss: %w", gvk.Kind, err)
	}
	out := map[string]*metav1.PartialObjectMetadata{}
	for i := range list.Items {
		if obj := &list.Items[i]; metav1.IsControlledBy(obj, gw) {
			obj.SetGroupVersionKind(gvk)
			out[obj.Name] = obj
		}
	}
	return out, nil
}

// shardStates returns the observed shards of a gateway's stores.
func (o *storeObservation) shardStates(gw *chatv1alpha1.GenesysGateway) []storeShard {
	var out []storeShard
	for name, obj := range o.shards {
		if ordinal, shard, ok := chatstore.ParseShardName(gw, name); ok {
			out = append(out, storeShard{ordinal: ordinal, shard: shard, holdsChats: holdsChats(obj.Annotations)})
		}
	}
	return out
}

// liveOrdinals is how many runner ordinals run or may still run: the gateway's replicas,
// or more while the StatefulSet still has the pods of a scale-down, which write their
// chats' final records as they stop.
func (r *GatewayReconciler) liveOrdinals(ctx context.Context, gw *chatv1alpha1.GenesysGateway, replicas int32) (int, error) {
	if replicas == 0 {
		return 0, nil
	}
	sts := &appsv1.StatefulSet{}
	err := r.Get(ctx, client.ObjectKey{Namespace: gw.Namespace, Name: gateway.RunnerName(gw)}, sts)
	if client.IgnoreNotFound(err) != nil {
		return 0, fmt.Errorf("reading StatefulSet %s: %w", gateway.RunnerName(gw), err)
	}
	if err == nil && metav1.IsControlledBy(sts, gw) {
		return int(max(replicas, sts.Status.Replicas)), nil
	}
	return int(replicas), nil
}

// ensureStores observes the gateway's chat stores, decides which it keeps for replicas
// runners and creates what they miss. It returns the plan, for the runner Role and
// pruneStores.
func (r *GatewayReconciler) ensureStores(ctx context.Context, gw *chatv1alpha1.GenesysGateway, replicas int32) (map[int]int, *storeObservation, error) {
	obs, err := r.observeStores(ctx, gw)
	if err != nil {
		return nil, nil, err
	}
	live, err := r.liveOrdinals(ctx, gw, replicas)
	if err != nil {
		return nil, nil, err
	}
	keep := planStores(live, chatstore.Shards(chatstore.Capacity(gw)), obs.shardStates(gw))
	for _, o := range slices.Sorted(maps.Keys(keep)) {
		for s := range keep[o] {
			if err := r.ensureStoreObject(ctx, gw, obs.shards[chatstore.ShardName(gw, o, s)], o,
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: chatstore.ShardName(gw, o, s)}, Type: corev1.SecretTypeOpaque},
				render.ChatShard(gw, o, s), secretGVK); err != nil {
				return nil, nil, err
			}
		}
		if err := r.ensureStoreObject(ctx, gw, obs.leases[chatstore.LeaseName(gw, o)], o,
			&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: chatstore.LeaseName(gw, o)}},
			render.ChatLease(gw, o), leaseGVK); err != nil {
			return nil, nil, err
		}
	}
	return keep, obs, nil
}

// existingStoreNames names the store objects that exist and that the gateway keeps, for
// a runner Role written while the stores are not reconciled.
func (r *GatewayReconciler) existingStoreNames(ctx context.Context, gw *chatv1alpha1.GenesysGateway) (render.StoreNames, error) {
	obs, err := r.observeStores(ctx, gw)
	if err != nil {
		return render.StoreNames{}, err
	}
	live, err := r.liveOrdinals(ctx, gw, gateway.Replicas(gw))
	if err != nil {
		return render.StoreNames{}, err
	}
	all := storeNames(gw, planStores(live, chatstore.Shards(chatstore.Capacity(gw)), obs.shardStates(gw)))
	var names render.StoreNames
	for _, n := range all.Shards {
		if obs.shards[n] != nil {
			names.Shards = append(names.Shards, n)
		}
	}
	for _, n := range all.Leases {
		if obs.leases[n] != nil {
			names.Leases = append(names.Leases, n)
		}
	}
	return names, nil
}

// errNotOurStore is the configuration error of a store object's name taken by an object
// that the gateway does not control: the operator neither takes it over nor grants it to
// the runners.
var errNotOurStore = errors.New("exists and is not the gateway's chat store: rename or delete it, or rename the gateway")

// ensureStoreObject creates a store object that is missing (observed nil), with metadata
// only, or applies the metadata of one whose labels or owner drifted. It never writes a
// shard's data nor a Lease's spec.
func (r *GatewayReconciler) ensureStoreObject(ctx context.Context, gw *chatv1alpha1.GenesysGateway, observed *metav1.PartialObjectMetadata,
	ordinal int, empty client.Object, desired runtime.ApplyConfiguration, gvk schema.GroupVersionKind,
) error {
	name := empty.GetName()
	if observed != nil && hasLabels(observed.Labels, render.StoreLabels(gw, ordinal)) {
		return nil
	}
	if observed == nil {
		empty.SetNamespace(gw.Namespace)
		empty.SetLabels(render.StoreLabels(gw, ordinal))
		empty.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(gw, chatv1alpha1.GroupVersion.WithKind("GenesysGateway"))})
		err := r.Create(ctx, empty, client.FieldOwner(FieldOwner))
		if err == nil {
			logf.FromContext(ctx).V(1).Info("Created a chat store object", "kind", gvk.Kind, "name", name)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating chat store %s %s: %w", gvk.Kind, name, err)
		}
		// Created by an earlier reconcile the cache has not seen yet, or someone else's.
		live := &metav1.PartialObjectMetadata{}
		live.SetGroupVersionKind(gvk)
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: gw.Namespace, Name: name}, live); err != nil {
			return fmt.Errorf("reading chat store %s %s: %w", gvk.Kind, name, err)
		}
		if !metav1.IsControlledBy(live, gw) {
			return stalling(chatv1alpha1.InvalidConfigurationReason, fmt.Errorf("%s %q %w", gvk.Kind, name, errNotOurStore))
		}
		if hasLabels(live.Labels, render.StoreLabels(gw, ordinal)) {
			return nil
		}
	}
	if err := r.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying the metadata of chat store %s %s: %w", gvk.Kind, name, err)
	}
	return nil
}

// hasLabels tells whether labels hold every label of want, with its value.
func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// pruneStores deletes the store objects a plan does not keep: the shards of each ordinal
// from the highest down, then the Lease of an ordinal whose shards are all gone. A shard is
// deleted only as last observed (its resource version): one a runner wrote since is kept,
// and decided on again.
func (r *GatewayReconciler) pruneStores(ctx context.Context, gw *chatv1alpha1.GenesysGateway, keep map[int]int, obs *storeObservation) error {
	log := logf.FromContext(ctx)
	remaining := map[int]int{}
	for _, s := range obs.shardStates(gw) {
		remaining[s.ordinal]++
	}
	removed := map[int]bool{}
	for _, s := range shardsToDelete(keep, obs.shardStates(gw)) {
		if err := r.deleteObserved(ctx, obs.shards[chatstore.ShardName(gw, s.ordinal, s.shard)]); err != nil {
			return err
		}
		remaining[s.ordinal]--
		removed[s.ordinal] = true
		log.Info("Deleted an empty chat store shard", "secret", chatstore.ShardName(gw, s.ordinal, s.shard))
	}
	for name, lease := range obs.leases {
		ordinal, ok := leaseOrdinal(gw, name)
		if _, kept := keep[ordinal]; !ok || kept || remaining[ordinal] > 0 {
			continue
		}
		if err := r.deleteObserved(ctx, lease); err != nil {
			return err
		}
		removed[ordinal] = true
	}
	for _, o := range slices.Sorted(maps.Keys(removed)) {
		if _, kept := keep[o]; !kept {
			r.event(gw, corev1.EventTypeNormal, "ChatStoreRemoved", "Removed the chat store of runner ordinal %d: it holds no chats and no runner runs it", o)
		}
	}
	return nil
}

// deleteObserved deletes an object as observed: unless it changed since.
func (r *GatewayReconciler) deleteObserved(ctx context.Context, obj *metav1.PartialObjectMetadata) error {
	uid, rv := obj.UID, obj.ResourceVersion
	err := r.Delete(ctx, obj, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting chat store %s %s: %w", obj.Kind, obj.Name, err)
	}
	return nil
}

// leaseOrdinal returns the ordinal of a store Lease's name.
func leaseOrdinal(gw *chatv1alpha1.GenesysGateway, name string) (int, bool) {
	rest, found := strings.CutPrefix(name, gw.Name+"-chats-")
	if !found {
		return 0, false
	}
	o, err := strconv.Atoi(rest)
	if err != nil || o < 0 || strconv.Itoa(o) != rest {
		return 0, false
	}
	return o, true
}
