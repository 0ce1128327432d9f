package store

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// write sends the batch begun by beginLocked as one merge patch and settles its outcome.
func (sh *shard) write(ctx context.Context) {
	sh.mu.Lock()
	batch, rv, next := sh.batch, sh.resourceVersion, apply(sh.content, sh.batch)
	sh.mu.Unlock()
	if len(batch) == 0 { // the changes undid one another: nothing to write
		sh.succeeded(next, rv, 0)
		return
	}
	body, err := patchBody(rv, len(next), batch)
	if err != nil {
		sh.failed(next, false, err)
		return
	}
	// The answer is the shard's metadata only (the resourceVersion is all a write needs):
	// the whole Secret, up to 1 MiB, would be encoded, sent and decoded for every write.
	secret := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: sh.store.opts.Gateway.Namespace, Name: sh.name}}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err = sh.store.opts.Client.Patch(ctx, secret, client.RawPatch(types.MergePatchType, body), client.FieldOwner(FieldManager))
	if err != nil {
		err = fmt.Errorf("writing chat store shard %s: %w", sh.name, err)
	}
	sh.store.wrote(sh.ordinal.n, sh.index, len(body), err)
	switch {
	case err == nil:
		sh.succeeded(next, secret.ResourceVersion, len(body))
	case apierrors.IsConflict(err):
		sh.fence(ctx, next, err)
	default:
		// A write that timed out may have been applied all the same.
		sh.failed(next, true, err)
	}
}

// succeeded makes the written content the shard's and answers the write's Syncs.
func (sh *shard) succeeded(next map[string][]byte, resourceVersion string, size int) {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return
	}
	delta := len(next) - len(sh.content)
	sh.content, sh.resourceVersion = next, resourceVersion
	sh.batch, sh.writing, sh.failing, sh.candidates, sh.adoption = nil, false, false, nil, 0
	sh.backoff = sh.store.opts.Backoff
	answer(sh.current, nil)
	sh.current = nil
	sh.mu.Unlock()
	sh.store.addRecords(delta)
	if size > 0 {
		sh.log.V(1).Info("Wrote chat store shard", "chats", len(next), "bytes", size)
	}
}

// failed keeps the batch pending under newer changes, answers the write's Syncs with the
// error and schedules a retry after a back-off. maybeApplied says the API server may have
// applied the write all the same (a timeout): its content is then a candidate for fence.
func (sh *shard) failed(next map[string][]byte, maybeApplied bool, err error) {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return
	}
	sh.pending.merge(sh.batch)
	sh.batch, sh.writing, sh.adoption = nil, false, 0
	if maybeApplied {
		sh.candidates = append(sh.candidates, next)
		if len(sh.candidates) > maxCandidates {
			sh.candidates = sh.candidates[1:]
		}
	}
	delay := sh.backoff.Step()
	sh.failing, sh.retryAt = true, sh.store.opts.Clock.Now().Add(delay)
	answer(sh.current, err)
	sh.current = nil
	pending := len(sh.pending)
	sh.mu.Unlock()
	sh.log.Error(err, "Failed to write chat store shard", "retryIn", delay.String(), "pendingChanges", pending)
}
