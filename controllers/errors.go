package controllers

import (
	"errors"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// stallingError is a reconcile error that no retry can fix: the gateway's spec has to
// change. It carries the condition reason it is reported with, in the manner of Flux's
// serror.Stalling, so the reason is decided where the error is found, not guessed later.
type stallingError struct {
	reason string
	err    error
}

func (e *stallingError) Error() string { return e.err.Error() }
func (e *stallingError) Unwrap() error { return e.err }

// stalling wraps err as a stalling error with reason, terminal for controller-runtime: a
// stalled gateway is not requeued until it changes.
func stalling(reason string, err error) error {
	return reconcile.TerminalError(&stallingError{reason: reason, err: err})
}

// asStalling returns the stalling error in err's chain, if any.
func asStalling(err error) (*stallingError, bool) {
	var s *stallingError
	ok := errors.As(err, &s)
	return s, ok
}
