package chat_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// filesChat starts an engine on a simulator with limits and a chat waiting for an agent.
func filesChat(t *testing.T, limits *gmssim.FileLimits) (*chattest.Env, string, string) {
	g := NewWithT(t)
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{FileLimits: limits}, chat.Options{IDPrefix: "r0"})
	v, _, err := env.Manager.Escalate(context.Background(), chat.Escalation{ConversationID: "conv-" + t.Name(), Domain: "acme", User: chat.User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	var gid string
	g.Eventually(func() string {
		v, _ = env.Manager.Get(v.ID)
		gid = v.GenesysChatID
		return gid
	}, 5*time.Second).ShouldNot(BeEmpty())
	return env, v.ID, gid
}

func connect(g *WithT, env *chattest.Env, id, gid string) {
	g.Expect(env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(func() any { v, _ := env.Manager.Get(id); return v.State }, 5*time.Second).Should(BeEquivalentTo("Connected"))
}

func limitCalls(env *chattest.Env) int {
	n := 0
	for _, r := range env.Sim.Requests() {
		if r.Op == gms.OpFileLimits {
			n++
		}
	}
	return n
}

func TestAgentFileBecomesAnEvent(t *testing.T) {
	g := NewWithT(t)
	env, id, gid := filesChat(t, nil)
	connect(g, env, id, gid)
	fileID, err := env.Sim.AgentFile(gid, "plan.pdf", "application/pdf", []byte("%PDF"))
	g.Expect(err).NotTo(HaveOccurred())
	var ev chat.Event
	g.Eventually(func() bool {
		evs, _ := env.Manager.Events(context.Background(), id, 0, 0)
		for _, e := range evs {
			if e.Kind == chat.KindFileUploaded {
				ev = e
				return true
			}
		}
		return false
	}, 5*time.Second).Should(BeTrue())
	size := int64(4)
	g.Expect(ev.File).To(Equal(&chat.FileRef{ID: fileID, Name: "plan.pdf", Size: &size, ContentType: "application/pdf", URL: "/v1/chats/" + id + "/files/" + fileID}))
	g.Expect(ev.Agent).To(Equal("Alice"))
	g.Expect(ev.URL).To(Equal(ev.File.URL))
	g.Expect(ev.Text).To(Equal("plan.pdf"))

	body, info, err := env.Manager.DownloadFile(context.Background(), id, fileID)
	g.Expect(err).NotTo(HaveOccurred())
	data, _ := io.ReadAll(body)
	g.Expect(body.Close()).To(Succeed())
	g.Expect(string(data)).To(Equal("%PDF"))
	g.Expect(info).To(Equal(chat.FileInfo{Name: "plan.pdf", ContentType: "application/pdf", Size: 4}))
	_, _, err = env.Manager.DownloadFile(context.Background(), id, "other")
	g.Expect(err).To(MatchError(chat.ErrFileNotFound))
}

func TestUploadAppliesTheAnnouncedLimitsReadOnce(t *testing.T) {
	g := NewWithT(t)
	env, id, gid := filesChat(t, &gmssim.FileLimits{MaxFiles: 2, MaxFileSize: 100, MaxTotalSize: 150, NeedAgent: true, FileTypes: []string{"txt"}})
	ctx := context.Background()
	refused := func(err error, reason chat.FileRefusal) {
		t.Helper()
		var fr *chat.FileRefusedError
		g.Expect(errors.As(err, &fr)).To(BeTrue(), "%v", err)
		g.Expect(fr.Reason).To(Equal(reason))
	}
	_, err := env.Manager.UploadFile(ctx, id, "a.txt", "text/plain", 1, strings.NewReader("a"))
	refused(err, chat.FileNeedsAgent)
	connect(g, env, id, gid)
	_, err = env.Manager.UploadFile(ctx, id, "a.exe", "", 1, strings.NewReader("a"))
	refused(err, chat.FileTypeNotAllowed)
	_, err = env.Manager.UploadFile(ctx, id, "a.txt", "", 101, strings.NewReader(strings.Repeat("a", 101)))
	refused(err, chat.FileTooLarge)
	_, err = env.Manager.UploadFile(ctx, id, "../a.txt", "", 1, strings.NewReader("a"))
	var invalid *chat.InvalidError
	g.Expect(errors.As(err, &invalid)).To(BeTrue())
	g.Expect(invalid.Field).To(Equal("file"))
	g.Expect(limitCalls(env)).To(Equal(1), "the limits are read once and kept")

	// An unknown size streaming past the limit is cut off there.
	src := bytes.NewReader(make([]byte, 1000))
	_, err = env.Manager.UploadFile(ctx, id, "b.txt", "", -1, src)
	refused(err, chat.FileTooLarge)
	g.Expect(src.Len()).To(BeNumerically(">", 800), "read no further than the limit")

	id1, err := env.Manager.UploadFile(ctx, id, "a.txt", "text/plain", -1, strings.NewReader(strings.Repeat("a", 100)))
	g.Expect(err).NotTo(HaveOccurred())
	data, _, _ := env.Sim.File(gid, id1)
	g.Expect(data).To(HaveLen(100))
	// 100 of 150 used: 51 more bytes are refused by the cached counters, without Genesys.
	calls := limitCalls(env)
	_, err = env.Manager.UploadFile(ctx, id, "c.txt", "", 51, strings.NewReader(strings.Repeat("c", 51)))
	refused(err, chat.FileTooLarge)
	_, err = env.Manager.UploadFile(ctx, id, "c.txt", "", 50, strings.NewReader(strings.Repeat("c", 50)))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = env.Manager.UploadFile(ctx, id, "d.txt", "", 1, strings.NewReader("d"))
	refused(err, chat.FileCountExceeded)
	g.Expect(limitCalls(env)).To(Equal(calls))
	chatNow, _ := env.Sim.Chat(gid)
	g.Expect(chatNow.Files).To(HaveLen(2))
}

func TestFileCallsOnAChatThatIsOver(t *testing.T) {
	g := NewWithT(t)
	env, id, _ := filesChat(t, nil)
	_, err := env.Manager.Close(context.Background(), id)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = env.Manager.UploadFile(context.Background(), id, "a.txt", "", 1, strings.NewReader("a"))
	var state *chat.StateError
	g.Expect(errors.As(err, &state)).To(BeTrue(), "%v", err)
	_, err = env.Manager.UploadFile(context.Background(), "r0-nope", "a.txt", "", 1, strings.NewReader("a"))
	g.Expect(err).To(MatchError(chat.ErrNotFound))
}
