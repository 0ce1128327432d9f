package gms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Authorizer authenticates a request to the Chat API, typically by setting its
// Authorization header. The client calls it on every attempt, so that rotated credentials
// and refreshed tokens are used at once. Its errors must not contain the credential.
type Authorizer interface {
	Authorize(ctx context.Context, req *http.Request) error
}

// AuthorizerFunc is a function that is an Authorizer.
type AuthorizerFunc func(ctx context.Context, req *http.Request) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, req *http.Request) error {
	return f(ctx, req)
}

// BasicAuth returns an Authorizer of HTTP Basic authentication. It reads the credentials
// on every call, so that a rotated Secret takes effect on the next attempt.
func BasicAuth(credentials func() (username, password string, err error)) Authorizer {
	return AuthorizerFunc(func(_ context.Context, req *http.Request) error {
		if credentials == nil {
			return errors.New("basic auth: no credentials")
		}
		username, password, err := credentials()
		if err != nil {
			return fmt.Errorf("basic auth credentials: %w", err)
		}
		if username == "" {
			return errors.New("basic auth: username is empty")
		}
		if strings.ContainsRune(username, ':') {
			// RFC 7617: the user-id cannot contain a colon.
			return errors.New("basic auth: username contains ':'")
		}
		req.SetBasicAuth(username, password)
		return nil
	})
}

// ErrCredentialsUnavailable marks an Authorizer error that may pass by itself, such as a
// bearer token not obtained yet: the call is retried per the retry policy, like a network
// error. Other Authorizer errors (a credential missing from its Secret) are not retried.
var ErrCredentialsUnavailable = errors.New("credentials not available yet")

// authError marks a failure of the Authorizer: retried only when it wraps
// ErrCredentialsUnavailable.
type authError struct{ err error }

func (e *authError) Error() string { return "authorize: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }
