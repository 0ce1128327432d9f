package escalation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// multipartFile is a multipart body with one part "file", and its Content-Type.
func multipartFile(g *WithT, name, contentType string, data []byte) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": name}))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	g.Expect(err).NotTo(HaveOccurred())
	_, _ = part.Write(data)
	g.Expect(mw.Close()).To(Succeed())
	return b.String(), mw.FormDataContentType()
}

// The file calls' answers against the document: an upload's 201 and its refusals, a
// download's binary 200 and its 404, and the fileUploaded event in a long poll and a
// stream.
func TestOpenAPIDocumentDescribesTheFileCalls(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	rec := &recorder{t: t, g: g, c: newContract(g, api.OpenAPI)}
	r := startWithFiles(t, &gmssim.FileLimits{MaxFiles: 2, MaxFileSize: 1 << 20, NeedAgent: true, FileTypes: []string{"pdf", "txt"}}, nil, "r0")
	c := api.NewClient(r.srv.URL, token, nil)
	id, gid := fileChat(g, r, c, "conv-oa-files", false)
	path := "/v1/chats/" + id + "/files"

	body, ct := multipartFile(g, "a.pdf", "application/pdf", []byte("%PDF-1.7"))
	rec.problem("upload without agent", r, http.MethodPost, path, body, 409, api.ProblemConflict, "Content-Type", ct)
	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(func() api.ChatState { v, _ := c.Chat(context.Background(), id); return v.State }).Should(Equal(api.ChatConnected))

	e := rec.call("upload", r, http.MethodPost, path, body, true, "Content-Type", ct)
	g.Expect(e.status).To(Equal(http.StatusCreated), string(e.respBody))
	g.Expect(e.json(g)["fileId"]).NotTo(BeEmpty())
	exe, exeCT := multipartFile(g, "a.exe", "application/octet-stream", []byte("MZ"))
	rec.problem("upload of a type not allowed", r, http.MethodPost, path, exe, 415, api.ProblemUnsupportedMediaType, "Content-Type", exeCT)
	big, bigCT := multipartFile(g, "big.pdf", "application/pdf", make([]byte, 1<<20+1))
	rec.problem("upload too large", r, http.MethodPost, path, big, 413, api.ProblemBodyTooLarge, "Content-Type", bigCT)
	rec.problem("upload not multipart", r, http.MethodPost, path, `{"file":"x"}`, 415, api.ProblemUnsupportedMediaType)
	noName, noNameCT := multipartFile(g, "", "application/pdf", []byte("x"))
	rec.problem("upload without a filename", r, http.MethodPost, path, noName, 422, api.ProblemInvalidField, "Content-Type", noNameCT)
	e = rec.call("upload", r, http.MethodPost, path, body, true, "Content-Type", ct)
	g.Expect(e.status).To(Equal(http.StatusCreated))
	rec.problem("upload beyond the count", r, http.MethodPost, path, body, 409, api.ProblemConflict, "Content-Type", ct)
	rec.problem("upload to an unknown chat", r, http.MethodPost, "/v1/chats/r0-nope/files", body, 404, api.ProblemNotFound, "Content-Type", ct)

	// An agent's file: the event in a long poll and a stream, then its download.
	data := []byte{0, 1, 2, 3, 254, 255, 'P', 'K'}
	fileID, err := r.env.Sim.AgentFile(gid, "report.pdf", "application/pdf", data)
	g.Expect(err).NotTo(HaveOccurred())
	var fileURL string
	g.Eventually(func() string {
		page := rec.call("long poll", r, http.MethodGet, "/v1/chats/"+id+"/events?after=0&wait=1s", nil, true)
		var p api.EventPage
		g.Expect(json.Unmarshal(page.respBody, &p)).To(Succeed())
		for _, ev := range p.Events {
			if ev.Kind == api.EventFileUploaded {
				fileURL = ev.URL
			}
		}
		return fileURL
	}).Should(Equal(api.FilePath(id, fileID)))
	n := rec.stream("chat stream", r, "/v1/chats/"+id+"/events", "Event", func(kind string, _ map[string]any) bool {
		return kind == string(api.EventFileUploaded)
	})
	g.Expect(n).To(BeNumerically(">=", 2))

	e = rec.call("download", r, http.MethodGet, fileURL, nil, true)
	g.Expect(e.status).To(Equal(http.StatusOK))
	g.Expect(e.respBody).To(Equal(data))
	g.Expect(e.respHeader.Get("Content-Type")).To(Equal("application/pdf"))
	rec.problem("download of an unknown file", r, http.MethodGet, path+"/nope", nil, 404, api.ProblemNotFound)
	for _, m := range [][2]string{{http.MethodGet, path}, {http.MethodPost, fileURL}} {
		e := rec.send("wrong method", r, m[0], m[1], nil, false)
		g.Expect(e.status).To(Equal(http.StatusMethodNotAllowed))
		rec.methodNotAllowed(e)
	}

	// Drift: a document without the download's Content-Disposition or the upload's 201
	// body fails those answers.
	for _, drift := range []struct {
		name   string
		change func(doc map[string]any)
		call   string
	}{
		{"the download header", func(d map[string]any) {
			at(d, "paths", "/v1/chats/{id}/files/{fileId}", "get", "responses", "200", "headers", "Content-Disposition", "schema")["pattern"] = "^inline"
		}, "download"},
		{"the upload answer", func(d map[string]any) {
			at(d, "components", "schemas", "UploadResponse")["required"] = []any{"fileId", "size"}
		}, "upload"},
		{"a problem status", func(d map[string]any) {
			delete(at(d, "paths", "/v1/chats/{id}/files", "post", "responses"), "415")
		}, "upload of a type not allowed"},
	} {
		var doc map[string]any
		g.Expect(yaml.Unmarshal(api.OpenAPI, &doc)).To(Succeed())
		drift.change(doc)
		changed, err := json.Marshal(doc)
		g.Expect(err).NotTo(HaveOccurred())
		dc := newContract(g, changed)
		failed := 0
		for _, e := range rec.exchanges {
			if e.name == drift.call && len(dc.validate(e)) > 0 {
				failed++
			}
		}
		g.Expect(failed).To(BeNumerically(">", 0), "a document without %s fails the %q answers", drift.name, drift.call)
	}
}
