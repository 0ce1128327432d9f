package store

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fence settles a write refused with a conflict: the Secret changed since we last read or
// wrote it. If its data is still ours (what we last wrote, or what a write whose outcome
// we did not learn would have made it), only its metadata changed (the operator's labels):
// the writer adopts the new resourceVersion and writes again at once. Otherwise another
// runner wrote the shard: the ordinal is lost.
func (sh *shard) fence(ctx context.Context, next map[string][]byte, conflict error) {
	var got corev1.Secret
	key := client.ObjectKey{Namespace: sh.store.opts.Gateway.Namespace, Name: sh.name}
	if err := sh.store.opts.Client.Get(ctx, key, &got); err != nil {
		sh.failed(next, false, fmt.Errorf("%w; reading it again: %w", conflict, err))
		return
	}
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return
	}
	ours := sameData(got.Data, sh.content) || slices.ContainsFunc(sh.candidates, func(c map[string][]byte) bool {
		return sameData(got.Data, c)
	})
	if !ours {
		sh.mu.Unlock()
		sh.store.lose(sh.ordinal, sh.index)
		return
	}
	sh.adoption++
	if sh.adoption > maxAdoptions {
		sh.mu.Unlock()
		sh.failed(next, false, fmt.Errorf("%w (%d times in a row)", conflict, maxAdoptions+1))
		return
	}
	content := got.Data
	if content == nil {
		content = map[string][]byte{}
	}
	delta := len(content) - len(sh.content)
	sh.content, sh.resourceVersion, sh.candidates = content, got.ResourceVersion, nil
	sh.pending.merge(sh.batch)
	sh.batch, sh.writing, sh.urgent = nil, false, true
	sh.waiting = append(sh.current, sh.waiting...)
	sh.current = nil
	sh.mu.Unlock()
	sh.store.addRecords(delta)
	sh.log.Info("Adopted a metadata change of chat store shard", "resourceVersion", got.ResourceVersion)
}
