package gms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// recordedLimits is a file/limits answer as a real GMS gave it (from a public SDK's
// recording): the limits in the userData of a Notice without index.
const recordedLimits = `{"messages":
 [{"from":{"nickname":"test","participantId":1,"type":"Client"},
   "text":"file-client-cfg-get","type":"Notice","utcTime":1554322581000,
   "userData":{"download-attempts":"2","upload-max-files":"5","delete-file":"odd",
     "upload-max-file-size":"10485760","used-download-attempts":"0","used-upload-max-total-size":"0",
     "upload-need-agent":"false","used-upload-max-files":"0","upload-max-total-size":"99614720",
     "upload-file-types":"jpeg:jpg:pdf:png:zip"}}],
 "chatEnded":false,"statusCode":0}`

func TestFileLimitsParseTheRecordedShape(t *testing.T) {
	g := NewWithT(t)
	var resp gms.Response
	g.Expect(json.Unmarshal([]byte(recordedLimits), &resp)).To(Succeed())
	limits, ok := gms.ParseFileLimits(&resp)
	g.Expect(ok).To(BeTrue())
	g.Expect(limits).To(Equal(gms.FileLimits{
		MaxFiles: 5, MaxFileSize: 10485760, MaxTotalSize: 99614720, NeedAgent: false,
		FileTypes: []string{"jpeg", "jpg", "pdf", "png", "zip"}, UsedFiles: 0, UsedTotalSize: 0,
		DownloadAttempts: 2, UsedDownloadAttempts: 0, DeleteFile: "odd",
	}))
	g.Expect(limits.AllowsType("scan.PDF")).To(BeTrue())
	g.Expect(limits.AllowsType("run.exe")).To(BeFalse())
	g.Expect(limits.AllowsType("noextension")).To(BeFalse())
	g.Expect(gms.FileLimits{FileTypes: []string{"PDF"}}.AllowsType("scan.pdf")).To(BeTrue(), "types as announced, in any case")

	// Every value is parsed within bounds: garbage is "no limit known", never a panic.
	garbage := map[string]string{
		"upload-max-files": "-3", "upload-max-file-size": "99999999999999999999999", "upload-max-total-size": "12abc",
		"upload-need-agent": "TRUE", "upload-file-types": ":.PNG::" + strings.Repeat("x", 40) + ":" + strings.Repeat("a:", 1000),
		"used-upload-max-files": strings.Repeat("9", 5000),
	}
	limits, ok = gms.ParseFileLimits(&gms.Response{Messages: []gms.Event{{Type: gms.EventNotice, Text: gms.FileLimitsNotice, UserData: garbage}}})
	g.Expect(ok).To(BeTrue())
	g.Expect(limits.MaxFiles).To(Equal(-1))
	g.Expect(limits.MaxFileSize).To(Equal(int64(-1)))
	g.Expect(limits.MaxTotalSize).To(Equal(int64(-1)))
	g.Expect(limits.UsedFiles).To(Equal(-1))
	g.Expect(limits.NeedAgent).To(BeTrue())
	g.Expect(limits.FileTypes).To(HaveLen(256))
	g.Expect(limits.FileTypes[0]).To(Equal("png"))

	// The top-level userData is tolerated; an answer with neither is not limits.
	limits, ok = gms.ParseFileLimits(&gms.Response{UserData: map[string]string{"upload-max-files": "1"}})
	g.Expect(ok).To(BeTrue())
	g.Expect(limits.MaxFiles).To(Equal(1))
	_, ok = gms.ParseFileLimits(&gms.Response{})
	g.Expect(ok).To(BeFalse())
}

func TestFileLimitsFromTheSimulator(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	s, _ := e.start()
	limits, _, err := e.client.FileLimits(ctx(t), s)
	e.g.Expect(err).NotTo(HaveOccurred())
	e.g.Expect(limits.MaxFileSize).To(Equal(int64(10 << 20)))
	e.g.Expect(limits.NeedAgent).To(BeTrue())
	e.g.Expect(e.last().Form).To(Equal(triple(s)))
}

// bigFile is n random bytes.
func bigFile(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestUploadStreamsIntactWithAndWithoutSize(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	s, _ := e.start()
	e.g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	data := bigFile(5 << 20)
	for _, size := range []int64{int64(len(data)), -1} {
		id, resp, err := e.client.UploadFile(ctx(t), s, gms.FileUpload{Name: "scan.pdf", ContentType: "application/pdf", Size: size, Body: bytes.NewReader(data)})
		e.g.Expect(err).NotTo(HaveOccurred())
		e.g.Expect(resp.UserData).To(HaveKeyWithValue("file-id", id))
		stored, info, ok := e.sim.File(s.ChatID, id)
		e.g.Expect(ok).To(BeTrue())
		e.g.Expect(sha256.Sum256(stored)).To(Equal(sha256.Sum256(data)))
		e.g.Expect(info).To(Equal(gmssim.FileInfo{ID: id, Name: "scan.pdf", ContentType: "application/pdf", Size: int64(len(data)), From: "Client"}))
		req := e.last()
		e.g.Expect(req.Op).To(Equal(gms.OpFileUpload))
		e.g.Expect(req.Header.Get("Content-Type")).To(HavePrefix("multipart/form-data; boundary="))
		e.g.Expect(req.Form).To(Equal(triple(s)), "the session triple as form fields")
	}

	// A body shorter or longer than the size announced fails: the length is no guess.
	_, _, err := e.client.UploadFile(ctx(t), s, gms.FileUpload{Name: "a.pdf", Size: 10, Body: strings.NewReader("short")})
	e.g.Expect(err).To(HaveOccurred())
	_, _, err = e.client.UploadFile(ctx(t), s, gms.FileUpload{Name: "a.pdf", Size: 2, Body: strings.NewReader("longer")})
	e.g.Expect(err).To(HaveOccurred())

	// GMS' refusal is an *Error with its code, the secure key nowhere.
	_, _, err = e.client.UploadFile(ctx(t), s, gms.FileUpload{Name: "a.exe", Size: 1, Body: strings.NewReader("x")})
	ge := asGMSError(e.g, err)
	e.g.Expect(ge.StatusCode).To(Equal(gms.StatusUnrecoverable))
	e.g.Expect(err.Error()).NotTo(ContainSubstring(s.SecureKey()))
}

// countingBody counts what is read of it.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestUploadIsRetriedOnlyWhileTheBodyIsUnread(t *testing.T) {
	g := NewWithT(t)
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // reads the file, then fails
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	c, err := gms.New(gms.Options{
		Settings: gms.Settings{ServiceURL: srv.URL, ServiceName: service, Retry: gms.RetryPolicy{MaxAttempts: 3}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	s := gms.NewSession("c1", "u1", "k1", "a1")

	// A 503 after the body was read is not retried: the file cannot be sent again.
	body := &countingBody{r: bytes.NewReader(bigFile(1 << 20))}
	_, _, err = c.UploadFile(ctx(t), s, gms.FileUpload{Name: "a.pdf", Size: 1 << 20, Body: body})
	g.Expect(asGMSError(g, err).HTTPStatus).To(Equal(http.StatusServiceUnavailable))
	g.Expect(attempts.Load()).To(Equal(int32(1)))
	g.Expect(body.n.Load()).To(Equal(int64(1 << 20)))
}

func TestUploadRetriesAnAttemptThatReadNothing(t *testing.T) {
	g := NewWithT(t)
	sim := gmssim.New(gmssim.Options{FileLimits: &gmssim.FileLimits{}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	var authCalls atomic.Int32
	c, err := gms.New(gms.Options{
		Settings: gms.Settings{ServiceURL: srv.URL, ServiceName: service, Retry: gms.RetryPolicy{MaxAttempts: 3}},
		Auth: gms.AuthorizerFunc(func(context.Context, *http.Request) error {
			if n := authCalls.Add(1); n == 2 { // the upload's first attempt
				return gms.ErrCredentialsUnavailable
			}
			return nil
		}),
	})
	g.Expect(err).NotTo(HaveOccurred())
	s, _, err := c.RequestChat(ctx(t), gms.ChatRequest{Nickname: "N"})
	g.Expect(err).NotTo(HaveOccurred())
	body := &countingBody{r: strings.NewReader("hello")}
	id, _, err := c.UploadFile(ctx(t), s, gms.FileUpload{Name: "a.txt", Size: 5, Body: body})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(authCalls.Load()).To(Equal(int32(3)), "retried once, the body unread")
	data, _, _ := sim.File(s.ChatID, id)
	g.Expect(string(data)).To(Equal("hello"))
}

func TestDownloadStreamsWithinItsBound(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	s, _ := e.start()
	e.g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	data := bigFile(3 << 20)
	id, err := e.sim.AgentFile(s.ChatID, "plan.pdf", "application/pdf", data)
	e.g.Expect(err).NotTo(HaveOccurred())

	f, err := e.client.DownloadFile(ctx(t), s, id, 4<<20)
	e.g.Expect(err).NotTo(HaveOccurred())
	e.g.Expect(f.ContentType).To(Equal("application/pdf"))
	e.g.Expect(f.Size).To(Equal(int64(len(data))))
	e.g.Expect(f.Name).To(Equal("plan.pdf"))
	got, err := io.ReadAll(f.Body)
	e.g.Expect(err).NotTo(HaveOccurred())
	e.g.Expect(f.Body.Close()).To(Succeed())
	e.g.Expect(sha256.Sum256(got)).To(Equal(sha256.Sum256(data)))
	e.g.Expect(e.last().Form).To(Equal(triple(s)))
	e.g.Expect(e.last().Path).To(HaveSuffix("/file/" + id + "/download"))

	// A Content-Length over the bound is refused before reading.
	_, err = e.client.DownloadFile(ctx(t), s, id, 1<<20)
	e.g.Expect(err).To(MatchError(gms.ErrFileTooLarge))

	// GMS' refusal (an unknown file) is an *Error, not a file.
	_, err = e.client.DownloadFile(ctx(t), s, "nope", 0)
	e.g.Expect(asGMSError(e.g, err).StatusCode).To(Equal(gms.StatusUnrecoverable))

	// Delete is the client's own file only.
	_, err = e.client.DeleteFile(ctx(t), s, id)
	e.g.Expect(asGMSError(e.g, err).StatusCode).To(Equal(gms.StatusUnrecoverable))
}

func TestDownloadWithoutContentLengthStopsAtTheBound(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		for range 64 {
			_, _ = w.Write(make([]byte, 64<<10))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	c, err := gms.New(gms.Options{Settings: gms.Settings{ServiceURL: srv.URL, ServiceName: service, Timeout: time.Second}})
	g.Expect(err).NotTo(HaveOccurred())
	f, err := c.DownloadFile(ctx(t), gms.NewSession("c", "u", "k", "a"), "f", 1<<20)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Size).To(Equal(int64(-1)))
	n, err := io.Copy(io.Discard, f.Body)
	g.Expect(err).To(MatchError(gms.ErrFileTooLarge))
	g.Expect(n).To(Equal(int64(1 << 20)))
	g.Expect(f.Body.Close()).To(Succeed())
}

func TestFileEndpointsFollowOverrides(t *testing.T) {
	e := newEnv(t, gmssim.Options{Overrides: map[gms.Operation]string{gms.OpFileUpload: "upload", gms.OpFileDownload: "get"}, FileLimits: &gmssim.FileLimits{}}, nil)
	s, _ := e.start()
	id, _, err := e.client.UploadFile(ctx(t), s, gms.FileUpload{Name: "a.txt", Size: 1, Body: strings.NewReader("x")})
	e.g.Expect(err).NotTo(HaveOccurred())
	e.g.Expect(e.last().Path).To(HaveSuffix("/" + s.ChatID + "/upload"))
	f, err := e.client.DownloadFile(ctx(t), s, id, 0)
	e.g.Expect(err).NotTo(HaveOccurred())
	_ = f.Body.Close()
	e.g.Expect(e.last().Path).To(HaveSuffix("/file/" + id + "/get"))
}
