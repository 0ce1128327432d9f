package metrics

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"sync"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Label values outside the known sets.
const (
	// other stands for a value outside its label's known set.
	other = "other"
	// none is the reason of a transition without one.
	none = "none"
	// genericCode is the code of an error without a Code() method.
	genericCode = "error"
)

// maxCodes bounds the distinct error codes of gms_errors_total; later ones count as other.
const maxCodes = 32

var (
	states = []chatv1alpha1.ChatState{
		chatv1alpha1.ChatRequesting, chatv1alpha1.ChatWaitingForAgent, chatv1alpha1.ChatConnected,
		chatv1alpha1.ChatEnded, chatv1alpha1.ChatTransferred, chatv1alpha1.ChatFailed,
	}
	reasons = []chatv1alpha1.ChatEndReason{
		chatv1alpha1.EndAgentClosed, chatv1alpha1.EndUserClosed, chatv1alpha1.EndGenesysError,
		chatv1alpha1.EndEscalationTimeout, chatv1alpha1.EndIdleTimeout,
	}
	operations = []gms.Operation{
		gms.OpRequestChat, gms.OpRefresh, gms.OpSend, gms.OpStartTyping, gms.OpStopTyping,
		gms.OpDisconnect, gms.OpPushURL, gms.OpCustomNotice, gms.OpUpdateNickname, gms.OpUpdateData,
		gms.OpReadReceipt, gms.OpFileLimits, gms.OpFileUpload, gms.OpFileDownload, gms.OpFileDelete,
	}
	// codePattern is the shape of an error code worth a label value of its own.
	codePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)
)

func stateLabel(s chatv1alpha1.ChatState) string {
	if slices.Contains(states, s) {
		return string(s)
	}
	return other
}

func reasonLabel(r chatv1alpha1.ChatEndReason) string {
	switch {
	case r == "":
		return none
	case slices.Contains(reasons, r):
		return string(r)
	}
	return other
}

func operationLabel(op gms.Operation) string {
	if slices.Contains(operations, op) {
		return string(op)
	}
	return other
}

// codedError is an error that tells its code, such as the GMS client's errors.
type codedError interface {
	error
	Code() string
}

// codeSet bounds the error codes used as label values: well-formed ones, up to a number.
type codeSet struct {
	mu    sync.Mutex
	limit int
	seen  map[string]bool
}

func newCodeSet(limit int) *codeSet { return &codeSet{limit: limit, seen: map[string]bool{}} }

// label is an error's code: its Code() when it has one, canceled or timeout for a call
// given up, error otherwise.
func (s *codeSet) label(err error) string {
	coded, ok := errors.AsType[codedError](err)
	switch {
	case ok:
		return s.admit(coded.Code())
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return genericCode
}

func (s *codeSet) admit(code string) string {
	if !codePattern.MatchString(code) {
		return other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[code] {
		return code
	}
	if len(s.seen) >= s.limit {
		return other
	}
	s.seen[code] = true
	return code
}
