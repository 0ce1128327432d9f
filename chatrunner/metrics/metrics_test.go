package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// codedErr is an error with a code, like the GMS client's.
type codedErr struct{ code, msg string }

func (e codedErr) Error() string { return e.msg }
func (e codedErr) Code() string  { return e.code }

func newMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return New(reg, "tenant/acme"), reg
}

// sample finds the metric of a family with the given labels (constant labels aside).
func sample(t *testing.T, reg *prometheus.Registry, name string, labels ...string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"namespace": "tenant", "gateway": "acme"}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return m
			}
		}
	}
	t.Fatalf("no %s%v", name, want)
	return nil
}

func value(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	m := sample(t, reg, name, labels...)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

func expectValue(t *testing.T, reg *prometheus.Registry, want float64, name string, labels ...string) {
	t.Helper()
	if got := value(t, reg, name, labels...); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func TestSetChatsSetsEveryState(t *testing.T) {
	m, reg := newMetrics(t)
	m.SetChats(map[chatv1alpha1.ChatState]int{chatv1alpha1.ChatConnected: 2, chatv1alpha1.ChatWaitingForAgent: 1})
	expectValue(t, reg, 2, "genesys_chatrunner_chats", "state", "Connected")
	expectValue(t, reg, 1, "genesys_chatrunner_chats", "state", "WaitingForAgent")
	expectValue(t, reg, 0, "genesys_chatrunner_chats", "state", "Ended")

	m.SetChats(nil)
	expectValue(t, reg, 0, "genesys_chatrunner_chats", "state", "Connected")
}

func TestTransitionedCountsByStateAndReason(t *testing.T) {
	m, reg := newMetrics(t)
	var _ chat.Observer = m
	m.Transitioned(chat.Transition{ChatID: "c-1", To: chatv1alpha1.ChatRequesting})
	m.Transitioned(chat.Transition{ChatID: "c-1", To: chatv1alpha1.ChatEnded, Reason: chatv1alpha1.EndAgentClosed})
	m.Transitioned(chat.Transition{ChatID: "c-2", To: chatv1alpha1.ChatEnded, Reason: chatv1alpha1.EndAgentClosed})
	m.Transitioned(chat.Transition{ChatID: "c-3", To: "Exploded", Reason: "Boom"})

	const name = "genesys_chatrunner_chat_transitions_total"
	expectValue(t, reg, 1, name, "to_state", "Requesting", "reason", "none")
	expectValue(t, reg, 2, name, "to_state", "Ended", "reason", "AgentClosed")
	expectValue(t, reg, 1, name, "to_state", "other", "reason", "other")
}

func TestCalledObservesDurationsAndErrorCodes(t *testing.T) {
	m, reg := newMetrics(t)
	m.Called(gms.OpRefresh, 20*time.Millisecond, nil)
	m.Called(gms.OpRefresh, 2*time.Second, fmt.Errorf("refreshing: %w", codedErr{code: "http_503", msg: "service unavailable"}))
	m.Called(gms.OpSend, time.Second, errors.New("connection reset"))
	m.Called(gms.OpSend, 30*time.Second, context.DeadlineExceeded)
	m.Called("teleport", time.Millisecond, nil)
	m.Retried(gms.OpRefresh)
	m.Retried(gms.OpRefresh)

	h := sample(t, reg, "genesys_chatrunner_gms_request_duration_seconds", "operation", "refresh").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2.02 {
		t.Errorf("refresh durations: count %d, sum %v; want 2, 2.02", h.GetSampleCount(), h.GetSampleSum())
	}
	if n := sample(t, reg, "genesys_chatrunner_gms_request_duration_seconds", "operation", "other").GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("unknown operation: count %d, want 1", n)
	}
	const errs = "genesys_chatrunner_gms_errors_total"
	expectValue(t, reg, 1, errs, "operation", "refresh", "code", "http_503")
	expectValue(t, reg, 1, errs, "operation", "send", "code", "error")
	expectValue(t, reg, 1, errs, "operation", "send", "code", "timeout")
	expectValue(t, reg, 2, "genesys_chatrunner_gms_retries_total", "operation", "refresh")
}

func TestObservePollLateness(t *testing.T) {
	m, reg := newMetrics(t)
	m.ObservePollLateness(15 * time.Millisecond)
	m.ObservePollLateness(-time.Millisecond) // early: not late
	h := sample(t, reg, "genesys_chatrunner_poll_lateness_seconds").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.015 {
		t.Errorf("count %d, sum %v; want 2, 0.015", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestPollDeferred(t *testing.T) {
	m, reg := newMetrics(t)
	m.PollDeferred()
	m.PollDeferred()
	expectValue(t, reg, 2, "genesys_chatrunner_polls_deferred_total")
}

func TestStatusWritten(t *testing.T) {
	m, reg := newMetrics(t)
	m.StatusWritten()
	m.StatusWritten()
	expectValue(t, reg, 2, "genesys_chatrunner_status_writes_total")
}

func TestNewTwiceOnOneRegistrySharesTheCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, "tenant/acme").StatusWritten()
	New(reg, "tenant/acme").StatusWritten()
	expectValue(t, reg, 2, "genesys_chatrunner_status_writes_total")
}

func TestErrorCodesAreBounded(t *testing.T) {
	m, reg := newMetrics(t)
	for i := range maxCodes + 8 {
		m.Called(gms.OpSend, time.Millisecond, codedErr{code: fmt.Sprintf("code_%d", i)})
	}
	m.Called(gms.OpSend, time.Millisecond, codedErr{code: "not a code: secureKey=abc"})
	expectValue(t, reg, 9, "genesys_chatrunner_gms_errors_total", "operation", "send", "code", "other")
}

// TestDumpHoldsOnlyBoundedLabelValues runs every method with chats whose ids, agents and
// errors, and whose secure key, must never become label values.
func TestDumpHoldsOnlyBoundedLabelValues(t *testing.T) {
	const secureKey = "f3c9a0e1b2d44c6f8a7e5d3c1b0a9e8f"
	m, reg := newMetrics(t)
	for i, to := range states {
		m.Transitioned(chat.Transition{
			ChatID: fmt.Sprintf("c-%d", i), ConversationID: "conv-7f3a", GenesysChatID: "000DaA5AR8FN0012",
			To: to, Reason: chatv1alpha1.EndGenesysError, Agent: "Alice Example",
			Error: "refresh failed for secureKey=" + secureKey,
		})
	}
	m.SetChats(map[chatv1alpha1.ChatState]int{chatv1alpha1.ChatConnected: 1})
	for _, op := range operations {
		m.Called(op, 10*time.Millisecond, nil)
		m.Called(op, time.Second, codedErr{code: "gms_2", msg: "chat 000DaA5AR8FN0012 secureKey " + secureKey})
		m.Called(op, time.Second, fmt.Errorf("POST /genesys/2/chat/customer-support/000DaA5AR8FN0012/refresh?secureKey=%s: EOF", secureKey))
		m.Retried(op)
	}
	m.ObservePollLateness(3 * time.Millisecond)
	m.StatusWritten()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	enc := expfmt.NewEncoder(&dump, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, leak := range []string{secureKey, "c-0", "conv-7f3a", "000DaA5AR8FN0012", "Alice", "refresh failed"} {
		if strings.Contains(dump.String(), leak) {
			t.Errorf("the metrics dump holds %q:\n%s", leak, dump.String())
		}
	}

	allowed := map[string][]string{
		"namespace": {"tenant"},
		"gateway":   {"acme"},
		"state":     toStrings(states),
		"to_state":  append(toStrings(states), other),
		"reason":    append(toStrings(reasons), none, other),
		"operation": append(toStrings(operations), other),
		"code":      {"gms_2", genericCode, "canceled", "timeout", other},
	}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if !slices.Contains(allowed[l.GetName()], l.GetValue()) {
					t.Errorf("%s has label %s=%q, outside its bounded set", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func toStrings[S ~string](values []S) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}
