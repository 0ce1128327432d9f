package escalation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// startWithFiles serves an engine whose simulator has the file limits given.
func startWithFiles(t *testing.T, limits *gmssim.FileLimits, router *escalation.Router, prefix string) *runner {
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{FileLimits: limits}, chat.Options{IDPrefix: prefix})
	srv := httptest.NewServer(escalation.NewHandler(escalation.Options{Engine: env.Manager, Tokens: func() ([]string, error) { return []string{token}, nil }, Router: router}))
	t.Cleanup(srv.Close)
	return &runner{env: env, srv: srv}
}

// fileChat escalates a chat through the API client and waits for Genesys to have it; with
// agent, an agent joins and the chat is Connected.
func fileChat(g *WithT, r *runner, c *api.Client, conversation string, agent bool) (id, gid string) {
	ch, _, err := c.Escalate(context.Background(), api.Request{ConversationID: conversation, Domain: "acme", User: api.User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() string {
		v, _ := c.Chat(context.Background(), ch.ID)
		return v.GenesysChatID
	}).ShouldNot(BeEmpty())
	v, _ := c.Chat(context.Background(), ch.ID)
	if agent {
		g.Expect(r.env.Sim.AgentJoin(v.GenesysChatID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		g.Eventually(func() api.ChatState {
			v, _ := c.Chat(context.Background(), ch.ID)
			return v.State
		}).Should(Equal(api.ChatConnected))
	}
	return ch.ID, v.GenesysChatID
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// requests counts the simulator's requests of op for chat gid ("" for any chat).
func (r *runner) requests(op gms.Operation, gid string) int {
	n := 0
	for _, req := range r.env.Sim.Requests() {
		if req.Op == op && (gid == "" || req.ChatID == gid) {
			n++
		}
	}
	return n
}

func TestAgentFileReachesTheBotAndDownloadsIntact(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := startWithFiles(t, nil, nil, "r0")
	c := api.NewClient(r.srv.URL, token, nil)
	id, gid := fileChat(g, r, c, "conv-agent-file", true)

	data := randomBytes(5 << 20)
	fileID, err := r.env.Sim.AgentFile(gid, "statement 2026.pdf", "application/pdf", data)
	g.Expect(err).NotTo(HaveOccurred())

	var ev api.Event
	g.Eventually(func() bool {
		page, err := c.Events(context.Background(), id, 0, time.Second)
		g.Expect(err).NotTo(HaveOccurred())
		for _, e := range page.Events {
			if e.Kind == api.EventFileUploaded {
				ev = e
				return true
			}
		}
		return false
	}).Should(BeTrue())
	g.Expect(ev.Agent).To(Equal("Alice"))
	g.Expect(ev.URL).To(Equal("/v1/chats/" + id + "/files/" + url.PathEscape(fileID)))
	g.Expect(ev.Text).To(Equal("statement 2026.pdf"))
	g.Expect(ev.Data).To(HaveKeyWithValue("file-id", fileID))
	if ev.File != nil { // once the API's event mapping carries the engine's File
		size := int64(len(data))
		g.Expect(*ev.File).To(Equal(api.EventFile{ID: fileID, Name: "statement 2026.pdf", Size: &size, ContentType: "application/pdf", URL: ev.URL}))
	}
	// The engine's event, as webhooks carry it, has the file.
	evs, err := r.env.Manager.Events(context.Background(), id, 0, 0)
	g.Expect(err).NotTo(HaveOccurred())
	var engineFile *chat.FileRef
	for _, e := range evs {
		if e.Kind == chat.KindFileUploaded {
			engineFile = e.File
		}
	}
	g.Expect(engineFile).NotTo(BeNil())
	g.Expect(engineFile.ID).To(Equal(fileID))
	g.Expect(*engineFile.Size).To(Equal(int64(len(data))))

	// Download through the API client: streamed, intact.
	body, info, err := c.DownloadFile(context.Background(), id, fileID)
	g.Expect(err).NotTo(HaveOccurred())
	h := sha256.New()
	n, err := io.Copy(h, body)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(body.Close()).To(Succeed())
	g.Expect(n).To(Equal(int64(len(data))))
	g.Expect(h.Sum(nil)).To(Equal(sha256sum(data)))
	g.Expect(info).To(Equal(api.FileInfo{Name: "statement 2026.pdf", ContentType: "application/pdf", Size: int64(len(data))}))

	// The raw answer: an attachment, not sniffed.
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+ev.URL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	g.Expect(resp.Header.Get("Content-Disposition")).To(Equal(`attachment; filename="statement 2026.pdf"`))
	g.Expect(resp.Header.Get("X-Content-Type-Options")).To(Equal("nosniff"))

	// A file no agent sent is 404 without asking Genesys.
	downloads := func() int {
		n := 0
		for _, req := range r.env.Sim.Requests() {
			if req.Op == gms.OpFileDownload {
				n++
			}
		}
		return n
	}
	before := downloads()
	_, _, err = c.DownloadFile(context.Background(), id, "not-a-file")
	var p *api.Problem
	g.Expect(errors.As(err, &p)).To(BeTrue())
	g.Expect(p.Status).To(Equal(http.StatusNotFound))
	g.Expect(downloads()).To(Equal(before))
}

func sha256sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func TestUserUploadWithinTheLimitsReachesGenesysIntact(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := startWithFiles(t, nil, nil, "r0")
	c := api.NewClient(r.srv.URL, token, nil)
	id, gid := fileChat(g, r, c, "conv-upload", true)

	data := randomBytes(5 << 20)
	fileID, err := c.UploadFile(context.Background(), id, "photo.jpg", "image/jpeg", bytes.NewReader(data))
	g.Expect(err).NotTo(HaveOccurred())
	stored, info, ok := r.env.Sim.File(gid, fileID)
	g.Expect(ok).To(BeTrue())
	g.Expect(sha256sum(stored)).To(Equal(sha256sum(data)))
	g.Expect(info.Name).To(Equal("photo.jpg"))
	g.Expect(info.ContentType).To(Equal("image/jpeg"))
	g.Expect(info.From).To(Equal("Client"))
	// The user's own file is no agent event.
	evs, _ := r.env.Manager.Events(context.Background(), id, 0, 0)
	for _, e := range evs {
		g.Expect(e.Kind).NotTo(Equal(chat.KindFileUploaded))
	}
}

func TestUploadsBeyondTheLimitsAreRefusedBeforeGenesys(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	limits := &gmssim.FileLimits{MaxFiles: 1, MaxFileSize: 1 << 20, MaxTotalSize: 10 << 20, NeedAgent: true, FileTypes: []string{"pdf", "txt"}}
	r := startWithFiles(t, limits, nil, "r0")
	c := api.NewClient(r.srv.URL, token, nil)
	id, gid := fileChat(g, r, c, "conv-limits", false)
	problem := func(err error, status int, typ string) {
		t.Helper()
		var p *api.Problem
		g.Expect(errors.As(err, &p)).To(BeTrue(), "%v", err)
		g.Expect(p.Status).To(Equal(status), p.Detail)
		g.Expect(p.Type).To(Equal(typ))
	}

	// Need-agent: no agent yet.
	_, err := c.UploadFile(context.Background(), id, "a.pdf", "application/pdf", strings.NewReader("x"))
	problem(err, http.StatusConflict, api.ProblemConflict)
	g.Expect(r.requests(gms.OpFileUpload, "")).To(BeZero())

	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(func() api.ChatState { v, _ := c.Chat(context.Background(), id); return v.State }).Should(Equal(api.ChatConnected))

	// A type Genesys does not allow.
	_, err = c.UploadFile(context.Background(), id, "run.exe", "application/octet-stream", strings.NewReader("MZ"))
	problem(err, http.StatusUnsupportedMediaType, api.ProblemUnsupportedMediaType)
	// A bad name.
	_, err = c.UploadFile(context.Background(), id, "a\x01.pdf", "application/pdf", strings.NewReader("x"))
	var fe *api.FieldError
	g.Expect(errors.As(err, &fe)).To(BeTrue(), "the client validates the name first")

	// Too large: 1 MiB + 1 byte, cut off as it streams.
	_, err = c.UploadFile(context.Background(), id, "big.pdf", "application/pdf", bytes.NewReader(make([]byte, 1<<20+1)))
	problem(err, http.StatusRequestEntityTooLarge, api.ProblemBodyTooLarge)
	chatNow, _ := r.env.Sim.Chat(gid)
	g.Expect(chatNow.Files).To(BeEmpty(), "nothing reached Genesys")
	// The simulator records the cut-off request once it has read what it got, which may be
	// after the bot's answer: wait for it, so that it is not counted below.
	g.Eventually(func() int { return r.requests(gms.OpFileUpload, "") }).Should(Equal(1), "the cut-off upload ends on the simulator")

	// Within: one file. Then the count is used up.
	_, err = c.UploadFile(context.Background(), id, "ok.txt", "text/plain", strings.NewReader("fine"))
	g.Expect(err).NotTo(HaveOccurred())
	before := r.requests(gms.OpFileUpload, "")
	_, err = c.UploadFile(context.Background(), id, "two.txt", "text/plain", strings.NewReader("again"))
	problem(err, http.StatusConflict, api.ProblemConflict)
	g.Expect(r.requests(gms.OpFileUpload, "")).To(Equal(before), "nothing reached Genesys")
	chatNow, _ = r.env.Sim.Chat(gid)
	g.Expect(chatNow.Files).To(HaveLen(1))
}

// countingReader counts what is read of it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// zeros is an endless reader of zeros.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestAHugeUploadIsRefusedWithoutReadingItAll(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := startWithFiles(t, &gmssim.FileLimits{MaxFileSize: 1 << 20}, nil, "r0")
	c := api.NewClient(r.srv.URL, token, nil)
	id, gid := fileChat(g, r, c, "conv-huge", true)

	// 50 MB, of unknown length (chunked): the runner stops reading at the limit.
	src := &countingReader{r: io.LimitReader(zeros{}, 50<<20)}
	_, err := c.UploadFile(context.Background(), id, "huge.pdf", "application/pdf", src)
	g.Expect(err).To(HaveOccurred())
	var p *api.Problem
	if errors.As(err, &p) { // the answer may race the client's write, which the server stops reading
		g.Expect(p.Status).To(Equal(http.StatusRequestEntityTooLarge))
	}
	g.Expect(src.n.Load()).To(BeNumerically("<", 8<<20), "the runner read about the limit, not the 50 MB")
	chatNow, _ := r.env.Sim.Chat(gid)
	g.Expect(chatNow.Files).To(BeEmpty())

	// A Content-Length over the API's bound is refused before any byte is read (served
	// directly: over a connection, the client's write races the answer).
	huge := &countingReader{r: io.LimitReader(zeros{}, api.MaxFileBytes+1<<20)}
	req := httptest.NewRequest(http.MethodPost, "/v1/chats/"+id+"/files", huge)
	req.ContentLength = api.MaxFileBytes + 1<<20
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	rec := httptest.NewRecorder()
	r.srv.Config.Handler.ServeHTTP(rec, req)
	g.Expect(rec.Code).To(Equal(http.StatusRequestEntityTooLarge))
	g.Expect(huge.n.Load()).To(BeZero(), "refused before reading")

	// Not multipart: 415.
	status, _, body := r.call(g, http.MethodPost, "/v1/chats/"+id+"/files", map[string]any{"file": "x"})
	g.Expect(status).To(Equal(http.StatusUnsupportedMediaType))
	g.Expect(body["type"]).To(Equal(api.ProblemUnsupportedMediaType))
}

func TestFilesAreForwardedToTheOwner(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	urls := make([]*url.URL, 2)
	resolve := func(ordinal int) (*url.URL, error) { return urls[ordinal], nil }
	replicas := func() int { return 2 }
	var runners []*runner
	for i := range 2 {
		rr := startWithFiles(t, nil, &escalation.Router{Self: i, Replicas: replicas, Resolve: resolve}, escalation.ChatIDPrefix(i))
		urls[i], _ = url.Parse(rr.srv.URL)
		runners = append(runners, rr)
	}
	// A conversation the second runner owns, reached through the first.
	conversation := ""
	for i := 0; conversation == ""; i++ {
		if cand := "conv-fwd-" + string(rune('a'+i)); owner(cand, 2) == 1 {
			conversation = cand
		}
	}
	c := api.NewClient(runners[0].srv.URL, token, nil)
	id, gid := fileChat(g, runners[1], c, conversation, true)
	g.Expect(id).To(HavePrefix("r1-"))

	data := randomBytes(3 << 20)
	fileID, err := c.UploadFile(context.Background(), id, "fwd.pdf", "application/pdf", bytes.NewReader(data))
	g.Expect(err).NotTo(HaveOccurred())
	stored, _, ok := runners[1].env.Sim.File(gid, fileID)
	g.Expect(ok).To(BeTrue())
	g.Expect(sha256sum(stored)).To(Equal(sha256sum(data)))

	agentID, err := runners[1].env.Sim.AgentFile(gid, "back.pdf", "application/pdf", data)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() error {
		body, _, err := c.DownloadFile(context.Background(), id, agentID)
		if err != nil {
			return err
		}
		defer body.Close()
		got, err := io.ReadAll(body)
		if err == nil && !bytes.Equal(got, data) {
			err = errors.New("different bytes")
		}
		return err
	}).Should(Succeed())
}

// brokenDownloads is the engine whose file downloads break off after some bytes, with no
// size known (a chunked answer from Genesys).
type brokenDownloads struct{ *chat.Manager }

func (brokenDownloads) DownloadFile(context.Context, string, string) (io.ReadCloser, chat.FileInfo, error) {
	body := io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(errors.New("connection reset by Genesys")))
	return io.NopCloser(body), chat.FileInfo{Name: "statement.pdf", ContentType: "application/pdf", Size: -1}, nil
}

// TestABrokenDownloadIsNotAWholeFile: a download from Genesys that breaks off midway, of
// unknown size, reaches the bot as a failed read, not as a shorter file that ended cleanly.
func TestABrokenDownloadIsNotAWholeFile(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0"})
	srv := httptest.NewServer(escalation.NewHandler(escalation.Options{Engine: brokenDownloads{env.Manager}, Tokens: func() ([]string, error) { return []string{token}, nil }}))
	t.Cleanup(srv.Close)
	c := api.NewClient(srv.URL, token, nil)
	id, _ := fileChat(g, &runner{env: env, srv: srv}, c, "conv-broken-download", false)

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/chats/"+id+"/files/f1", nil)
	g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	// The failure shows either before the headers (the answer aborted while buffered) or
	// while reading the body; a clean end is the fault.
	resp, err := srv.Client().Do(req)
	got := 0
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got = len(body)
	}
	g.Expect(err).To(HaveOccurred(), "the bot must see the download fail (got %d bytes and a clean end)", got)
}
