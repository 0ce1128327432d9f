package escalation_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// A stub runner checks the upload's wire form: one part "file", streamed.
func TestClientUploadFileStreamsOnePart(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var got [32]byte
	var gotName, gotType, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chats/r0-1/files" {
			http.Error(w, "wrong call", http.StatusTeapot)
			return
		}
		if r.ContentLength != -1 {
			http.Error(w, "expected a streamed (chunked) body", http.StatusTeapot)
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		part, err := mr.NextPart()
		if err != nil || part.FormName() != "file" {
			http.Error(w, "no file part", http.StatusTeapot)
			return
		}
		gotName, gotType = part.FileName(), part.Header.Get("Content-Type")
		h := sha256.New()
		_, _ = io.Copy(h, part)
		copy(got[:], h.Sum(nil))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"fileId":"f-1"}`))
	}))
	t.Cleanup(srv.Close)
	c := escalation.NewClient(srv.URL, "tok", nil)
	id, err := c.UploadFile(context.Background(), "r0-1", "scan 1.pdf", "application/pdf", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if id != "f-1" || gotName != "scan 1.pdf" || gotType != "application/pdf" || gotAuth != "Bearer tok" || got != sha256.Sum256(data) {
		t.Errorf("upload: id %q, name %q, type %q, auth %q, intact %v", id, gotName, gotType, gotAuth, got == sha256.Sum256(data))
	}

	// A bad name is refused before any call.
	if _, err := c.UploadFile(context.Background(), "r0-1", "../etc/passwd", "", strings.NewReader("x")); !errors.As(err, new(*escalation.FieldError)) {
		t.Errorf("a path in the name: %v", err)
	}
}

func TestClientUploadFileRefusalIsAProblem(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.CopyN(io.Discard, r.Body, 1024)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnsupportedMediaType)
		_, _ = w.Write([]byte(`{"type":"` + escalation.ProblemUnsupportedMediaType + `","title":"t","status":415,"detail":"type"}`))
	}))
	t.Cleanup(srv.Close)
	c := escalation.NewClient(srv.URL, "tok", nil)
	_, err := c.UploadFile(context.Background(), "r0-1", "a.exe", "", strings.NewReader("MZ"))
	var p *escalation.Problem
	if !errors.As(err, &p) || p.Status != http.StatusUnsupportedMediaType || p.Type != escalation.ProblemUnsupportedMediaType {
		t.Errorf("refusal: %v", err)
	}
}

func TestClientDownloadFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/chats/r0-1/files/f%2F1", "/v1/chats/r0-1/files/f/1":
			if r.URL.RawPath != "/v1/chats/r0-1/files/f%2F1" {
				http.Error(w, "the file id is not one escaped segment", http.StatusTeapot)
				return
			}
			w.Header().Set("Content-Type", "application/pdf")
			w.Header().Set("Content-Disposition", `attachment; filename="a b.pdf"`)
			w.Header().Set("Content-Length", "4")
			_, _ = w.Write([]byte("%PDF"))
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"type":"` + escalation.ProblemNotFound + `","title":"t","status":404}`))
		}
	}))
	t.Cleanup(srv.Close)
	c := escalation.NewClient(srv.URL, "tok", nil)
	body, info, err := c.DownloadFile(context.Background(), "r0-1", "f/1")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(body)
	_ = body.Close()
	if string(data) != "%PDF" || info != (escalation.FileInfo{Name: "a b.pdf", ContentType: "application/pdf", Size: 4}) {
		t.Errorf("download: %q %+v", data, info)
	}
	if escalation.FilePath("r0-1", "f/1") != "/v1/chats/r0-1/files/f%2F1" {
		t.Errorf("FilePath: %s", escalation.FilePath("r0-1", "f/1"))
	}
	_, _, err = c.DownloadFile(context.Background(), "r0-1", "nope")
	var p *escalation.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Errorf("unknown file: %v", err)
	}
}
