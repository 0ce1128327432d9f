package gmssim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

const testService = "customer-support"

// tc is a test client of a simulator served by httptest.
type tc struct {
	t    *testing.T
	g    *WithT
	sim  *Simulator
	srv  *httptest.Server
	base string // server URL + context path
	// user and password, when set, go as Basic credentials.
	user, password string
}

// answer is a Chat API answer.
type answer struct {
	status int
	header http.Header
	body   []byte
	resp   gms.Response
}

// session is a chat's identity as the client holds it.
type session struct {
	chatID, userID, secureKey, alias string
}

func newTC(t *testing.T, opts Options) *tc {
	t.Helper()
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &tc{t: t, g: NewWithT(t), sim: sim, srv: srv, base: srv.URL + normalizeContextPath(opts.ContextPath)}
}

// postRaw posts form to the full URL u.
func (c *tc) postRaw(u string, form url.Values) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	c.g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *tc) do(req *http.Request) answer {
	c.t.Helper()
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	res, err := c.srv.Client().Do(req)
	c.g.Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	c.g.Expect(err).NotTo(HaveOccurred())
	a := answer{status: res.StatusCode, header: res.Header, body: body}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		c.g.Expect(json.Unmarshal(body, &a.resp)).To(Succeed(), string(body))
	}
	return a
}

// post posts form to path below the context path.
func (c *tc) post(path string, form url.Values) answer {
	c.t.Helper()
	return c.postRaw(c.base+path, form)
}

// requestChat requests a chat and checks that it succeeded.
func (c *tc) requestChat(form url.Values) (session, answer) {
	c.t.Helper()
	if form == nil {
		form = url.Values{gms.ParamNickname: {"Zoe"}}
	}
	a := c.post(testService, form)
	c.g.Expect(a.status).To(Equal(http.StatusOK), string(a.body))
	c.g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK), string(a.body))
	return session{chatID: a.resp.ChatID, userID: a.resp.UserID, secureKey: a.resp.SecureKey, alias: a.resp.Alias}, a
}

// op calls a session operation with the session triple plus extra, and checks that the answer
// never carries the secure key.
func (c *tc) op(s session, path string, extra url.Values) answer {
	c.t.Helper()
	form := url.Values{gms.ParamUserID: {s.userID}, gms.ParamSecureKey: {s.secureKey}, gms.ParamAlias: {s.alias}}
	for k, vs := range extra {
		form[k] = vs
	}
	a := c.post(testService+"/"+s.chatID+"/"+path, form)
	c.g.Expect(bytes.Contains(a.body, []byte(s.secureKey))).To(BeFalse(), "the answer leaks the secure key: %s", a.body)
	return a
}

func (c *tc) refresh(s session, pos int) answer {
	c.t.Helper()
	return c.op(s, "refresh", url.Values{gms.ParamTranscriptPosition: {strconv.Itoa(pos)}})
}

// indexes returns the events' indexes.
func indexes(evs []gms.Event) []int {
	out := make([]int, len(evs))
	for i, ev := range evs {
		out[i] = ev.Index
	}
	return out
}

// types returns the events' types.
func types(evs []gms.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func ptr(n int) *int { return &n }
