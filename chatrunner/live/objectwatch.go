package live

import (
	"context"
	"sync/atomic"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
)

// objectWatch is an informer of one object, by kind and name.
type objectWatch struct {
	kind, name string
	key        string // namespace/name in the store
	store      cache.Store
	informer   cache.Controller
	cancel     context.CancelFunc
	// refused is true while the lists of the object are refused as forbidden.
	refused atomic.Bool
}

// startWatch starts watching one object; onChange runs after each event and once the
// first list is done. The watch runs until ctx ends or it is stopped.
func (w *Watcher) startWatch(ctx context.Context, kind, name string, onChange func()) *objectWatch {
	o := &objectWatch{kind: kind, name: name, key: w.gateway.Namespace + "/" + name}
	lw, object := w.listers.listWatch(kind, name)
	list := lw.ListWithContextFunc
	lw.ListWithContextFunc = func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		obj, err := list(ctx, opts)
		if forbidden := apierrors.IsForbidden(err); o.refused.Swap(forbidden) != forbidden {
			onChange()
		}
		return obj, err
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	log := clientGoLogger(w.log).WithValues("kind", kind, "name", name)
	store, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		Logger:        &log,
		ListerWatcher: lw,
		ObjectType:    object,
		Handler:       handler,
		Transform:     dropManagedFields,
	})
	ctx, cancel := context.WithCancel(logr.NewContext(ctx, log))
	o.store, o.informer, o.cancel = store, informer, cancel
	w.running.Go(func() { informer.RunWithContext(ctx) })
	w.running.Go(func() {
		// An object that does not exist makes no event: say when the first list is done.
		select {
		case <-informer.HasSyncedChecker().Done():
			onChange()
		case <-ctx.Done():
		}
	})
	return o
}

// get returns the object, or nil when it does not exist.
func (o *objectWatch) get() runtime.Object {
	obj, ok, _ := o.store.GetByKey(o.key)
	if !ok {
		return nil
	}
	return obj.(runtime.Object)
}

// state tells whether the object is listed, not yet, or refused.
func (o *objectWatch) state() watchState {
	switch {
	case o.informer.HasSynced():
		return listed
	case o.refused.Load():
		return refused
	default:
		return pending
	}
}

// watchState is how far the watch of a referenced object got.
type watchState int

const (
	// pending: the first list is not done yet.
	pending watchState = iota
	// refused: the lists are forbidden, the runner's Role does not name the object (yet).
	refused
	// listed: the first list is done; the object is in the store if it exists.
	listed
)

// stop stops the watch; it ends in the background.
func (o *objectWatch) stop() { o.cancel() }
