package ownership

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// claim writes this runner as the holder of a vacant Lease, conditional on the observed
// resourceVersion, so that of several runners claiming at once exactly one wins. The
// ordinal's elector then finds itself the holder and starts renewing at once, instead of
// waiting one more lease duration to see the expiry for itself as a new client-go
// elector would. claimed is false when another writer got there first.
func (m *Manager) claim(ctx context.Context, observed *coordinationv1.Lease) (claimed bool, err error) {
	l := observed.DeepCopy()
	now := metav1.NewMicroTime(m.opts.Clock.Now())
	secs := int32(m.opts.LeaseDuration / time.Second)
	transitions := int32(0)
	if l.Spec.LeaseTransitions != nil {
		transitions = *l.Spec.LeaseTransitions + 1
	}
	// A hand-back request still there when a lease may be claimed is stale: a claim
	// of a vacant Lease with a request comes only after the requester had one more lease
	// duration to acquire it. Kept, it would make every adopter give the ordinal back at
	// once, to a runner that is not there.
	delete(l.Annotations, chatstore.AnnotationHandback)
	id := m.opts.Identity
	l.Spec = coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs,
		AcquireTime: &now, RenewTime: &now, LeaseTransitions: &transitions}
	_, err = m.opts.Client.CoordinationV1().Leases(l.Namespace).Update(ctx, l, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	return true, nil
}

// setHandback sets (value non-empty) or clears the hand-back annotation of a Lease. A
// merge patch touches only the annotation, so it never overwrites the holder's renewals.
func (m *Manager) setHandback(ctx context.Context, name, value string) error {
	var v any // nil clears the key in a merge patch
	if value != "" {
		v = value
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{chatstore.AnnotationHandback: v}}})
	if err != nil {
		return fmt.Errorf("hand-back patch: %w", err)
	}
	_, err = m.opts.Client.CoordinationV1().Leases(m.opts.Gateway.Namespace).
		Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patch hand-back of lease %s/%s: %w", m.opts.Gateway.Namespace, name, err)
	}
	return nil
}
