// Package controllers holds the GenesysGateway reconciler: it validates each gateway and
// the Secrets it references, runs its chat runners with least-privilege RBAC and Services,
// and reports conditions and events.
package controllers

import (
	"cmp"
	"context"
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// errNoImage is the configuration error of a gateway whose runner image is unknown.
var errNoImage = errors.New("no runner image: set spec.runner.image, or start the operator with --runner-image")

// GatewayReconciler reconciles GenesysGateways.
type GatewayReconciler struct {
	// Client reads from the cache and writes to the API server.
	client.Client
	// APIReader reads Secrets and ConfigMaps live, so their content is never cached.
	APIReader client.Reader
	// Recorder records events.k8s.io events on gateways.
	Recorder events.EventRecorder
	// RunnerImage is the runner image of gateways that set none: the operator's own.
	RunnerImage string
	// RunnerImages are the images a gateway may name in spec.runner.image
	// (--allowed-runner-images); the zero value allows the repository of RunnerImage.
	RunnerImages RunnerImagePolicy
	// GatewayService selects the gateways this operator serves: those whose
	// spec.gatewayService equals it (empty: those that name none).
	GatewayService string
	// MaxConcurrentReconciles is how many gateways are reconciled at once.
	MaxConcurrentReconciles int

	// verdicts caches the checks of certificates and keys per Secret versions.
	verdicts verdictCache
}

// +kubebuilder:rbac:groups=chat.gatewayops.io,resources=genesysgateways,verbs=get;list;watch
// +kubebuilder:rbac:groups=chat.gatewayops.io,resources=genesysgateways/status,verbs=get;patch;update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one gateway towards its spec and writes its status at most once.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	gw := &chatv1alpha1.GenesysGateway{}
	if err := r.Get(ctx, req.NamespacedName, gw); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.serves(gw) || !gw.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if gw.Spec.Suspend {
		log.V(1).Info("Skipped reconcile of a suspended gateway")
		return ctrl.Result{}, nil
	}

	before := gw.Status.DeepCopy()
	s := &scope{gateway: gw}
	s.err = r.reconcile(ctx, s)
	live, entriesErr := r.observeRunnerEntries(ctx, gw)
	s.runners = live
	updateStatus(s)
	// An entry that could not be removed is not a problem of the gateway: Ready stays as
	// it is and the removal is retried with the reconcile.
	recErr := errors.Join(s.err, entriesErr)
	if err := r.writeStatus(ctx, gw, before); err != nil {
		return ctrl.Result{}, errors.Join(recErr, err)
	}
	r.recordReadyTransition(gw, before.Conditions)
	r.recordGenesysTransition(gw, before.Conditions)
	if ready := meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.ReadyCondition); ready != nil {
		log.V(1).Info("Reconciled gateway", "ready", ready.Status, "reason", ready.Reason)
	}
	return ctrl.Result{}, recErr
}

// reconcile does the work and records what it observed in the scope. It stops at the
// first failure; a spec that must change is a stalling error, terminal for
// controller-runtime. References are resolved first, so that nothing a gateway's author
// writes (a refused image, say) can stop a withdrawn grant from leaving the runners' Role.
func (r *GatewayReconciler) reconcile(ctx context.Context, s *scope) error {
	gw := s.gateway
	if err := r.ensureGeneratedToken(ctx, gw); err != nil {
		return err
	}

	refs := gateway.References(gw)
	problem, granted, err := resolve(ctx, r.APIReader, &r.verdicts, client.ObjectKeyFromObject(gw), refs)
	if err != nil {
		return err
	}
	if problem.checking() { // reconciled again when the verdict lands
		s.checkingCredentials = true
		return nil
	}
	s.referencesChecked, s.problem = true, problem
	if problem != nil {
		return r.revokeUngranted(ctx, gw, granted)
	}

	image := cmp.Or(gw.Spec.Runner.Image, r.RunnerImage)
	if image == "" {
		return stalling(chatv1alpha1.InvalidConfigurationReason, errNoImage)
	}
	if err := checkRunnerImage(gw, r.runnerImagePolicy()); err != nil {
		return stalling(chatv1alpha1.RunnerImageNotAllowedReason, err)
	}

	if !gw.Spec.Deploy {
		if err := r.pruneRunners(ctx, gw); err != nil {
			return err
		}
		s.runnersPruned = true
		// No runner runs: the stores that hold chats stay, for when it is deployed again.
		keep, stores, err := r.ensureStores(ctx, gw, 0)
		if err != nil {
			return err
		}
		s.chatStores, s.storesObserved = storeOrdinals(keep), true
		return r.pruneStores(ctx, gw, keep, stores)
	}
	// The stores first, so that the runners start with them, granted by name in their Role.
	keep, stores, err := r.ensureStores(ctx, gw, gateway.Replicas(gw))
	if err != nil {
		return err
	}
	s.chatStores, s.storesObserved = storeOrdinals(keep), true
	sts, err := r.applyRunners(ctx, gw, image, refs, storeNames(gw, keep))
	if err != nil {
		return err
	}
	s.statefulSet = sts
	// The stores that are no longer needed last, once they have left the Role.
	return r.pruneStores(ctx, gw, keep, stores)
}

// serves tells whether this operator instance serves a gateway (--gateway-service).
func (r *GatewayReconciler) serves(gw *chatv1alpha1.GenesysGateway) bool {
	return gw.Spec.GatewayService == r.GatewayService
}

// SetupWithManager registers the reconciler: gateways this instance serves, the children
// it owns, by metadata only the Secrets and ConfigMaps gateways reference and the objects
// of their chat stores, and the gateways whose credentials' check has just finished.
func (r *GatewayReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	fields := mgr.GetFieldIndexer()
	if err := fields.IndexField(ctx, &chatv1alpha1.GenesysGateway{}, secretIndex, indexer(gateway.KindSecret)); err != nil {
		return err
	}
	if err := fields.IndexField(ctx, &chatv1alpha1.GenesysGateway{}, configMapIndex, indexer(gateway.KindConfigMap)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&chatv1alpha1.GenesysGateway{}, builder.WithPredicates(
			predicate.NewPredicateFuncs(func(o client.Object) bool { return r.serves(o.(*chatv1alpha1.GenesysGateway)) }),
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, runnersChanged{}))).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.referencing(secretIndex))).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.referencing(configMapIndex))).
		// The chat stores by metadata only too: a shard's data is never cached.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(storeOwner), builder.WithPredicates(storeChanged{})).
		WatchesMetadata(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(storeOwner), builder.WithPredicates(storeChanged{})).
		WatchesRawSource(r.verdicts.source(ctx)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("genesysgateway").
		Complete(r)
}

// referencing maps a Secret or ConfigMap to the gateways that reference it.
func (r *GatewayReconciler) referencing(index string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list chatv1alpha1.GenesysGatewayList
		if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{index: obj.GetName()}); err != nil {
			logf.FromContext(ctx).Error(err, "Failed to list gateways referencing an object", "index", index, "name", obj.GetName())
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			if r.serves(&list.Items[i]) {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return reqs
	}
}
