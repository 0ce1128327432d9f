package escalation_test

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
)

// owner is the ordinal a conversation hashes to among n runners, as the Router decides.
func owner(conversation string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(conversation))
	return int(h.Sum32() % uint32(n))
}

// fleet is three runners behind one gateway whose replica count the test changes.
type fleet struct {
	runners  []*runner
	replicas atomic.Int32
	down     atomic.Int32 // ordinal+1 of a runner that does not answer; 0: none
	old      atomic.Int32 // ordinal+1 of a runner of an older release, without the lookup
	// unheld is ordinal+1 of a store no runner holds (a hand-over under way); 0: none.
	unheld atomic.Int32
}

func startFleet(t *testing.T) *fleet {
	f := &fleet{}
	urls := make([]*url.URL, 3)
	older := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(older.Close)
	resolve := func(ordinal int) (*url.URL, error) {
		if int(f.down.Load()) == ordinal+1 {
			return url.Parse("http://127.0.0.1:1") // nothing listens there
		}
		if int(f.old.Load()) == ordinal+1 {
			return url.Parse(older.URL)
		}
		return urls[ordinal], nil
	}
	replicas := func() int { return int(f.replicas.Load()) }
	for i := range 3 {
		holder := func(store int) (int, bool) { return store, int(f.unheld.Load()) != store+1 }
		r := start(t, nil, &escalation.Router{Self: i, Replicas: replicas, Resolve: resolve, Holder: holder}, escalation.ChatIDPrefix(i), nil)
		urls[i], _ = url.Parse(r.srv.URL)
		f.runners = append(f.runners, r)
	}
	return f
}

// genesysChats counts the chats requested on Genesys across the runners' simulators.
func (f *fleet) genesysChats() int {
	n := 0
	for _, r := range f.runners {
		n += len(r.env.Sim.Chats())
	}
	return n
}

// conversationMovingWith finds a conversation, among ids that start with prefix, whose
// owner differs between from and to runners and still runs after the change.
func conversationMovingWith(prefix string, from, to int) string {
	for i := 0; ; i++ {
		c := fmt.Sprintf("%s%d", prefix, i)
		if owner(c, from) != owner(c, to) && owner(c, from) < min(from, to) {
			return c
		}
	}
}

func TestEscalationStaysIdempotentAcrossReplicaChanges(t *testing.T) {
	for _, tc := range []struct {
		from, to int32
		prefix   string
	}{{2, 3, "conv-"}, {3, 2, "conv-"}, {1, 3, "conv-"}, {2, 3, strings.Repeat("é", 250) + "/?#"}} {
		t.Run(fmt.Sprintf("%d to %d, %d characters", tc.from, tc.to, utf8.RuneCountInString(tc.prefix)+1), func(t *testing.T) {
			g := NewWithT(t)
			f := startFleet(t)
			f.replicas.Store(tc.from)
			conv := conversationMovingWith(tc.prefix, int(tc.from), int(tc.to))

			status, _, first := f.runners[0].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
			g.Expect(status).To(Equal(http.StatusCreated))
			id := first["id"].(string)
			g.Expect(id).To(HavePrefix(escalation.ChatIDPrefix(owner(conv, int(tc.from))) + "-"))
			g.Eventually(f.genesysChats).WithTimeout(5 * time.Second).Should(Equal(1))

			f.replicas.Store(tc.to)
			for i := range int(tc.to) {
				status, _, again := f.runners[i].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
				g.Expect(status).To(Equal(http.StatusOK), "runner %d: the live chat, not a new one", i)
				g.Expect(again["id"]).To(Equal(id))
				status, _, found := f.runners[i].call(g, http.MethodGet, "/v1/conversations/"+url.PathEscape(conv), nil)
				g.Expect(status).To(Equal(http.StatusOK))
				g.Expect(found["id"]).To(Equal(id))
			}
			g.Consistently(f.genesysChats).WithTimeout(200*time.Millisecond).Should(Equal(1), "never a second Genesys chat for the user")

			status, _, _ = f.runners[0].call(g, http.MethodGet, "/v1/conversations/conv-unknown", nil)
			g.Expect(status).To(Equal(http.StatusNotFound))
		})
	}
}

func TestEscalationRefusedWhileAPeerCannotSayWhetherItCarriesTheConversation(t *testing.T) {
	g := NewWithT(t)
	f := startFleet(t)
	f.replicas.Store(3)
	conv := "conv-new"
	f.down.Store(int32(owner(conv, 3)+1)%3 + 1) // a peer of the owner is down
	status, header, body := f.runners[owner(conv, 3)].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
	g.Expect(status).To(Equal(http.StatusServiceUnavailable), "creating could duplicate a chat the silent runner carries")
	g.Expect(header.Get("Retry-After")).To(Equal("5"))
	g.Expect(body["detail"]).To(ContainSubstring("retry"))
	g.Expect(f.genesysChats()).To(BeZero())

	f.down.Store(0)
	status, _, _ = f.runners[owner(conv, 3)].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
	g.Expect(status).To(Equal(http.StatusCreated))
}

func TestEscalationRefusedWhileAPeerOfAnOlderReleaseCannotBeAsked(t *testing.T) {
	g := NewWithT(t)
	f := startFleet(t)
	f.replicas.Store(3)
	conv := "conv-rolling"
	f.old.Store(int32(owner(conv, 3)+1)%3 + 1)
	status, _, _ := f.runners[owner(conv, 3)].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
	g.Expect(status).To(Equal(http.StatusServiceUnavailable), "a 404 from a runner without the lookup says nothing about the conversation")
	g.Expect(f.genesysChats()).To(BeZero())
}

func TestConversationIDsThatAreNotPathSegmentsAreRefused(t *testing.T) {
	g := NewWithT(t)
	r := start(t, nil, nil, "r0", nil)
	for _, id := range []string{".", ".."} {
		status, _, body := r.call(g, http.MethodPost, "/v1/chats", escalationBody(id))
		g.Expect(status).To(Equal(http.StatusUnprocessableEntity), id)
		g.Expect(body["field"]).To(Equal("conversationId"))
	}
}

// TestACallOnAChatBeingHandedOverIsRetried: while no runner holds a store, a call on one
// of its chats is answered 503 with Retry-After, wherever it lands.
func TestACallOnAChatBeingHandedOverIsRetried(t *testing.T) {
	g := NewWithT(t)
	f := startFleet(t)
	f.replicas.Store(3)
	f.unheld.Store(2)
	for _, r := range f.runners {
		req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/v1/chats/r1-00000000000000aa", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
		g.Expect(resp.Header.Get("Retry-After")).To(Equal("1"))
	}
}
