package gmssim

import (
	"bytes"
	"context"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// upload posts a multipart upload with the session triple and a part "file".
func (c *tc) upload(s session, name, contentType string, data []byte) answer {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range map[string]string{gms.ParamUserID: s.userID, gms.ParamSecureKey: s.secureKey, gms.ParamAlias: s.alias} {
		c.g.Expect(mw.WriteField(k, v)).To(Succeed())
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": name}))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	c.g.Expect(err).NotTo(HaveOccurred())
	_, _ = part.Write(data)
	c.g.Expect(mw.Close()).To(Succeed())
	req, err := http.NewRequest(http.MethodPost, c.base+testService+"/"+s.chatID+"/file", &b)
	c.g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func TestFileLimitsAnswerTheRealShape(t *testing.T) {
	c := newTC(t, Options{FileLimits: &FileLimits{MaxFiles: 2, MaxFileSize: 100, MaxTotalSize: 150, FileTypes: []string{"txt", "pdf"}, DownloadAttempts: 3}})
	g := c.g
	s, _ := c.requestChat(nil)
	before, _ := c.sim.Chat(s.chatID)
	a := c.op(s, "file/limits", nil)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.UserData).To(BeNil(), "the limits are in a message, not at the top")
	g.Expect(a.resp.Messages).To(HaveLen(1))
	m := a.resp.Messages[0]
	g.Expect(m.Type).To(Equal(gms.EventNotice))
	g.Expect(m.Text).To(Equal("file-client-cfg-get"))
	g.Expect(m.Index).To(BeZero(), "no index")
	g.Expect(m.From.Type).To(Equal(gms.ParticipantClient))
	g.Expect(m.UserData).To(Equal(map[string]string{
		"upload-max-files": "2", "upload-max-file-size": "100", "upload-max-total-size": "150", "upload-need-agent": "false",
		"upload-file-types": "txt:pdf", "used-upload-max-files": "0", "used-upload-max-total-size": "0",
		"download-attempts": "3", "used-download-attempts": "0", "delete-file": "enabled",
	}))
	after, _ := c.sim.Chat(s.chatID)
	g.Expect(after.Transcript).To(HaveLen(len(before.Transcript)), "the transcript is not touched")

	// The client's parser reads them.
	limits, ok := gms.ParseFileLimits(&a.resp)
	g.Expect(ok).To(BeTrue())
	g.Expect(limits.MaxFiles).To(Equal(2))
	g.Expect(limits.FileTypes).To(Equal([]string{"txt", "pdf"}))
}

func TestUploadEnforcesTheLimits(t *testing.T) {
	c := newTC(t, Options{FileLimits: &FileLimits{MaxFiles: 2, MaxFileSize: 100, MaxTotalSize: 150, NeedAgent: true, FileTypes: []string{"txt"}}})
	g := c.g
	s, _ := c.requestChat(nil)
	refused := func(a answer, code int) {
		t.Helper()
		g.Expect(a.status).To(Equal(http.StatusOK), string(a.body))
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable), string(a.body))
		g.Expect(a.resp.Errors).To(HaveLen(1))
		g.Expect(a.resp.Errors[0].Code).To(Equal(code))
		g.Expect(a.resp.ChatEnded).To(BeFalse())
	}
	refused(c.upload(s, "a.txt", "text/plain", []byte("hi")), codeNeedAgent)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())
	refused(c.upload(s, "a.exe", "application/octet-stream", []byte("hi")), codeFileType)
	refused(c.upload(s, "a.txt", "text/plain", bytes.Repeat([]byte("x"), 101)), codeFileLimit)

	a := c.upload(s, "a.txt", "text/plain", bytes.Repeat([]byte("a"), 100))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK), string(a.body))
	id := a.resp.UserData["file-id"]
	g.Expect(id).NotTo(BeEmpty())
	refused(c.upload(s, "b.txt", "text/plain", bytes.Repeat([]byte("b"), 51)), codeFileLimit) // total 151 > 150
	g.Expect(c.upload(s, "b.TXT", "text/plain", []byte("b")).resp.StatusCode).To(Equal(gms.StatusOK))
	refused(c.upload(s, "c.txt", "text/plain", []byte("c")), codeFileLimit) // 2 files

	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Files).To(HaveLen(2))
	var uploaded []gms.Event
	for _, e := range chat.Transcript {
		if e.Type == gms.EventFileUploaded {
			uploaded = append(uploaded, e)
		}
	}
	g.Expect(uploaded).To(HaveLen(2))
	g.Expect(uploaded[0].From.Type).To(Equal(gms.ParticipantClient))
	g.Expect(uploaded[0].Text).To(Equal(id))
	g.Expect(uploaded[0].UserData).To(Equal(map[string]string{"file-id": id, "file-name": "a.txt", "file-size": "100", "file-type": "text/plain"}))
	g.Expect(c.op(s, "file/limits", nil).resp.Messages[0].UserData).To(And(
		HaveKeyWithValue("used-upload-max-files", "2"), HaveKeyWithValue("used-upload-max-total-size", "101")))

	// Download: the bytes and their headers; an unknown file is refused.
	d := c.op(s, "file/"+id+"/download", nil)
	g.Expect(d.status).To(Equal(http.StatusOK))
	g.Expect(d.body).To(Equal(bytes.Repeat([]byte("a"), 100)))
	g.Expect(d.header.Get("Content-Type")).To(Equal("text/plain"))
	g.Expect(d.header.Get("Content-Length")).To(Equal("100"))
	g.Expect(d.header.Get("Content-Disposition")).To(Equal(`attachment; filename=a.txt`))
	g.Expect(c.op(s, "file/nope/download", nil).resp.Errors[0].Code).To(Equal(codeNoSuchFile))

	// Delete frees a slot, with a FileDeleted event.
	g.Expect(c.op(s, "file/"+id+"/delete", nil).resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(c.upload(s, "c.txt", "text/plain", []byte("c")).resp.StatusCode).To(Equal(gms.StatusOK))
	chat, _ = c.sim.Chat(s.chatID)
	g.Expect(types(chat.Transcript)).To(ContainElement(gms.EventFileDeleted))
	_, _, found := c.sim.File(s.chatID, id)
	g.Expect(found).To(BeFalse())
}

func TestAgentFileAndTheFileStoreBound(t *testing.T) {
	c := newTC(t, Options{MaxFileStore: 1000, FileLimits: &FileLimits{DownloadAttempts: 2}})
	g := c.g
	s, _ := c.requestChat(nil)
	_, err := c.sim.AgentFile(s.chatID, "x.pdf", "application/pdf", []byte("x"))
	g.Expect(err).To(MatchError(ErrNoAgent))
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())

	// Through the control API, as another process plays the agent.
	cc := NewControlClient(c.srv.URL, c.srv.Client())
	data := bytes.Repeat([]byte{0, 1, 2, 255}, 200)
	id, err := cc.File(context.Background(), s.chatID, "report.pdf", "application/pdf", data)
	g.Expect(err).NotTo(HaveOccurred())
	a := c.refresh(s, 1)
	last := a.resp.Messages[len(a.resp.Messages)-1]
	g.Expect(last.Type).To(Equal(gms.EventFileUploaded))
	g.Expect(last.From).To(Equal(gms.Participant{Nickname: "Ann", ParticipantID: 2, Type: gms.ParticipantAgent}))
	g.Expect(last.UserData).To(Equal(map[string]string{"file-id": id, "file-name": "report.pdf", "file-size": "800", "file-type": "application/pdf"}))
	f, ok := gms.UploadedFileOf(last)
	g.Expect(ok).To(BeTrue())
	g.Expect(f).To(Equal(gms.UploadedFile{ID: id, Name: "report.pdf", Size: 800, ContentType: "application/pdf"}))

	d := c.op(s, "file/"+id+"/download", nil)
	g.Expect(d.body).To(Equal(data))
	g.Expect(d.header.Get("Content-Length")).To(Equal(strconv.Itoa(len(data))))
	g.Expect(c.op(s, "file/"+id+"/delete", nil).resp.StatusCode).To(Equal(gms.StatusUnrecoverable), "an agent's file is not the client's to delete")

	// The store holds 1000 bytes: 800 are taken.
	_, err = c.sim.AgentFile(s.chatID, "y.pdf", "application/pdf", make([]byte, 201))
	g.Expect(err).To(MatchError(ErrFileStoreFull))
	g.Expect(c.op(s, "file/"+id+"/download", nil).status).To(Equal(http.StatusOK))
	g.Expect(c.op(s, "file/"+id+"/download", nil).resp.Errors[0].Code).To(Equal(codeFileLimit), "download-attempts used up")
}
