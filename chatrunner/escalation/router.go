package escalation

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// forwardedHeader marks a call one runner forwarded to another; it is never forwarded
// again.
const forwardedHeader = "X-Chat-Runner-Forwarded-By"

// Router knows which runner owns a chat and forwards calls that reach another runner.
// A chat's id starts with the ordinal of the store it was created in (ChatIDPrefix), and
// the chats of a store are carried by whichever runner holds that store's Lease now
// (Holder): the ordinal's own runner, or a peer that adopted them. An escalation belongs
// to the holder of the store its conversation id hashes to, so a bot's retry reaches the
// same runner and stays idempotent whichever pod the Service picked.
type Router struct {
	// Self is this runner's ordinal.
	Self int
	// Replicas returns the gateway's current number of runners.
	Replicas func() int
	// Holder returns the ordinal of the runner that carries a store's chats now, false
	// while no runner does (a hand-over under way, or this runner still loading it). Nil:
	// each runner carries its own.
	Holder func(store int) (runner int, ok bool)
	// Stores returns the stores that may hold chats: an escalation asks their holders
	// whether one carries its conversation. Nil: the ordinals below Replicas.
	Stores func() []int
	// Settled reports whether this runner carries every chat of the stores it holds (none
	// is still loading): until then it cannot tell a peer that a conversation is not here.
	// Nil: always.
	Settled func() bool
	// Resolve returns the base URL of a runner's escalation API by ordinal.
	Resolve func(ordinal int) (*url.URL, error)
	// Transport carries forwarded calls; http.DefaultTransport when nil.
	Transport http.RoundTripper
}

// ChatIDPrefix is the prefix of the ids of chats a runner owns.
func ChatIDPrefix(ordinal int) string { return "r" + strconv.Itoa(ordinal) }

// PodResolver resolves runners by their stable DNS names through the headless Service:
// <statefulset>-<ordinal>.<service>.<namespace>.svc:<port>.
func PodResolver(statefulSet, service, namespace string, port int) func(int) (*url.URL, error) {
	return func(ordinal int) (*url.URL, error) {
		host := fmt.Sprintf("%s-%d.%s.%s.svc:%d", statefulSet, ordinal, service, namespace, port)
		return &url.URL{Scheme: "http", Host: host}, nil
	}
}

// ownerOfChat reads a chat id's owner; false when the id has no owner prefix.
func ownerOfChat(id string) (int, bool) {
	prefix, _, ok := strings.Cut(id, "-")
	if !ok || len(prefix) < 2 || prefix[0] != 'r' {
		return 0, false
	}
	n, err := strconv.Atoi(prefix[1:])
	return n, err == nil && n >= 0
}

// ownerOfConversation hashes a conversation id onto the current runners.
func (r *Router) ownerOfConversation(id string) int {
	n := r.Replicas()
	if n <= 1 {
		return r.Self
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// forward sends the call to the runner that carries a store's chats and reports true, or
// reports false when this runner must serve it (it carries them, or the call was
// forwarded already). While no runner carries them, the caller is told to retry.
func (r *Router) forward(w http.ResponseWriter, req *http.Request, store int) bool {
	if r == nil || req.Header.Get(forwardedHeader) != "" {
		return false
	}
	owner := store
	if r.Holder != nil {
		var ok bool
		if owner, ok = r.Holder(store); !ok {
			p := problemUnavailable.with("The chats of this runner are being handed over to another runner; retry shortly.", "")
			p.RetryAfter = time.Second
			p.write(w)
			return true
		}
	}
	if owner == r.Self {
		return false
	}
	target, err := r.Resolve(owner)
	if err != nil {
		problemUnavailable.with("The runner owning this chat cannot be resolved: "+err.Error(), "").write(w)
		return true
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedHeader, strconv.Itoa(r.Self))
		},
		Transport:     r.Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			problemUnavailable.with(fmt.Sprintf("The runner owning this chat (%d) did not answer.", owner), "").write(w)
		},
	}
	proxy.ServeHTTP(w, req)
	return true
}
