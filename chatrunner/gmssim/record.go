package gmssim

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// redacted replaces secrets in the control API's view of requests.
const redacted = "<redacted>"

// redactedHeaders are the headers whose values /sim/requests hides.
var redactedHeaders = []string{"Authorization", "Proxy-Authorization"}

// Request is a recorded Chat API request.
type Request struct {
	// Op is the operation; "" when the path named none.
	Op gms.Operation `json:"op,omitempty"`
	// ChatID is the chat id of the path; "" for Request Chat.
	ChatID string `json:"chatId,omitempty"`
	// Method and Path are the request's HTTP method and URL path.
	Method string `json:"method"`
	Path   string `json:"path"`
	// Form holds the body's (and query's) parameters.
	Form url.Values `json:"form,omitempty"`
	// Header is the request's header, Authorization included (redacted in /sim/requests).
	Header http.Header `json:"header,omitempty"`
	// Time is the arrival time, from Options.Clock.
	Time time.Time `json:"time"`
	// Fault is the kind of the fault applied; "" none.
	Fault FaultKind `json:"fault,omitempty"`
}

func (r Request) clone() Request {
	r.Form = cloneValues(r.Form)
	r.Header = r.Header.Clone()
	return r
}

// redact returns a copy without the secure key and credentials.
func (r Request) redact() Request {
	r = r.clone()
	if vs, ok := r.Form[gms.ParamSecureKey]; ok {
		for i := range vs {
			vs[i] = redacted
		}
	}
	for _, h := range redactedHeaders {
		if vs := r.Header.Values(h); len(vs) > 0 {
			r.Header.Del(h)
			for range vs {
				r.Header.Add(h, redacted)
			}
		}
	}
	return r
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// record appends a request. Callers hold s.mu.
func (s *Simulator) record(r Request) {
	s.requests = append(s.requests, r)
	if limit := s.opts.MaxRecordedRequests; limit > 0 && len(s.requests) >= 2*limit {
		kept := make([]Request, limit, 2*limit)
		copy(kept, s.requests[len(s.requests)-limit:])
		s.requests = kept
	}
}

// Requests returns copies of the recorded Chat API requests (not the control API's), in
// arrival order.
func (s *Simulator) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Simulator) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}
