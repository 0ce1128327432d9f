package escalation_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/metrics"
)

func TestRouteOfIsAPatternNeverAnID(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/v1/chats", escalation.RouteEscalate},
		{"GET", "/v1/chats", escalation.RouteOther},
		{"GET", "/v1/chats/r0-5f0c", escalation.RouteGetChat},
		{"DELETE", "/v1/chats/r0-5f0c", escalation.RouteCloseChat},
		{"PUT", "/v1/chats/r0-5f0c", escalation.RouteOther},
		{"POST", "/v1/chats/r0-5f0c/messages", escalation.RouteMessages},
		{"POST", "/v1/chats/r0-5f0c/typing", escalation.RouteTyping},
		{"POST", "/v1/chats/r0-5f0c/present", escalation.RoutePresent},
		{"GET", "/v1/chats/r0-5f0c/events", escalation.RouteEvents},
		{"POST", "/v1/chats/r0-5f0c/events", escalation.RouteOther},
		{"POST", "/v1/chats/r0-5f0c/files", escalation.RouteUploadFile},
		{"GET", "/v1/chats/r0-5f0c/files/f-1", escalation.RouteGetFile},
		{"GET", "/v1/conversations/conv-42", escalation.RouteConversation},
		{"GET", "/v1/events", escalation.RouteAllEvents},
		{"GET", "/v1/openapi.yaml", escalation.RouteOpenAPI},
		{"GET", "/v1/chats//events", escalation.RouteOther},
		{"GET", "/v1/chats/r0-5f0c/whatever", escalation.RouteOther},
		{"GET", "/v2/chats", escalation.RouteOther},
		{"GET", "/", escalation.RouteOther},
		{"GET", "/v1/chats/a/b/c/d/e", escalation.RouteOther},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		if got := escalation.RouteOf(r); got != c.want {
			t.Errorf("%s %s: route %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// metered serves an engine through the instrumented API, as the runner does.
func metered(t *testing.T) (*httptest.Server, *prometheus.Registry) {
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0-"})
	reg := prometheus.NewRegistry()
	tokens := func() ([]string, error) { return []string{token}, nil }
	h := escalation.Instrument(escalation.NewHandler(escalation.Options{Engine: env.Manager, Tokens: tokens}),
		metrics.NewAPI(reg, "tenant/acme"))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, reg
}

func requests(reg *prometheus.Registry, route, code, source string) float64 {
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() != "genesys_chatrunner_api_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["route"] == route && got["code"] == code && got["source"] == source &&
				got["namespace"] == "tenant" && got["gateway"] == "acme" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func timed(reg *prometheus.Registry, route string) uint64 {
	families, _ := reg.Gather()
	var n uint64
	for _, f := range families {
		if f.GetName() != "genesys_chatrunner_api_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					n += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return n
}

func TestInstrumentCountsCallsByRouteAndCode(t *testing.T) {
	g := NewWithT(t)
	srv, reg := metered(t)
	r := &runner{srv: srv}

	code, _, body := r.call(g, http.MethodPost, "/v1/chats", escalationBody("conv-metrics"))
	g.Expect(code).To(Equal(http.StatusCreated))
	id := body["id"].(string)
	code, _, _ = r.call(g, http.MethodPost, "/v1/chats", escalationBody("conv-metrics"))
	g.Expect(code).To(Equal(http.StatusOK), "the same live chat")
	code, _, _ = r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
	g.Expect(code).To(Equal(http.StatusOK))
	code, _, _ = r.call(g, http.MethodGet, "/v1/chats/no-such-chat", nil)
	g.Expect(code).To(Equal(http.StatusNotFound))
	code, _, _ = r.call(g, http.MethodGet, "/v1/chats/"+id+"/events?after=0&wait=0s", nil)
	g.Expect(code).To(Equal(http.StatusOK))
	code, _, _ = r.call(g, http.MethodPut, "/v1/chats/"+id, nil)
	g.Expect(code).To(Equal(http.StatusMethodNotAllowed))
	code, _, _ = r.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", `{"text":`)
	g.Expect(code).To(Equal(http.StatusBadRequest))

	resp, err := http.Get(srv.URL + "/v1/chats/" + id) // no token
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	resp, err = http.Get(srv.URL + "/v1/openapi.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))

	// A call another runner forwarded counts as such.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/chats/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Chat-Runner-Forwarded-By", "1")
	resp, err = http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()

	for _, c := range []struct {
		route, code, source string
		want                float64
	}{
		{escalation.RouteEscalate, "201", "bot", 1},
		{escalation.RouteEscalate, "200", "bot", 1},
		{escalation.RouteGetChat, "200", "bot", 1},
		{escalation.RouteGetChat, "404", "bot", 1},
		{escalation.RouteGetChat, "401", "bot", 1},
		{escalation.RouteGetChat, "200", "runner", 1},
		{escalation.RouteEvents, "200", "bot", 1},
		{escalation.RouteOther, "405", "bot", 1},
		{escalation.RouteMessages, "400", "bot", 1},
		{escalation.RouteOpenAPI, "200", "bot", 1},
	} {
		g.Expect(requests(reg, c.route, c.code, c.source)).To(Equal(c.want), "%s %s %s", c.route, c.code, c.source)
	}
	g.Expect(timed(reg, escalation.RouteEscalate)).To(BeEquivalentTo(2))
	g.Expect(timed(reg, escalation.RouteGetChat)).To(BeEquivalentTo(4))
	g.Expect(testutil.CollectAndCount(reg, "genesys_chatrunner_api_requests_total")).To(Equal(10), "no other series")

	dump, err := testutil.CollectAndFormat(reg, expfmt.TypeTextPlain, "genesys_chatrunner_api_requests_total",
		"genesys_chatrunner_api_request_duration_seconds")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(dump)).NotTo(ContainSubstring(id), "no chat id in a label")
}

func TestInstrumentCountsStreamsWhenTheyOpenAndNeverTimesThem(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	srv, reg := metered(t)
	r := &runner{srv: srv}
	_, _, body := r.call(g, http.MethodPost, "/v1/chats", escalationBody("conv-stream"))
	id := body["id"].(string)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/chats/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	g.Expect(resp.Header.Get("Content-Type")).To(HavePrefix("text/event-stream"))
	lines := bufio.NewScanner(resp.Body)
	g.Expect(lines.Scan()).To(BeTrue(), "the stream's opening comment comes at once, through the middleware")
	g.Expect(strings.HasPrefix(lines.Text(), ":")).To(BeTrue(), lines.Text())

	open := func() float64 { return openStreams(reg, escalation.RouteEvents) }
	g.Expect(requests(reg, escalation.RouteEvents, "200", "bot")).To(Equal(1.0), "counted while it is open")
	g.Expect(open()).To(Equal(1.0))
	g.Expect(timed(reg, escalation.RouteEvents)).To(BeZero())

	cancel()
	g.Eventually(open).Should(BeZero(), "closed once its reader left")
	g.Expect(timed(reg, escalation.RouteEvents)).To(BeZero(), "a stream is never timed")
	g.Expect(requests(reg, escalation.RouteEvents, "200", "bot")).To(Equal(1.0), "counted once")
}

// openStreams reads the open streams gauge of a route.
func openStreams(reg *prometheus.Registry, route string) float64 {
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() != "genesys_chatrunner_api_open_streams" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
