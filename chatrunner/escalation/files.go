package escalation

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// FileEngine is what the file calls need of the engine; *chat.Manager implements it. An
// Engine without it serves no files (404).
type FileEngine interface {
	UploadFile(ctx context.Context, id, name, contentType string, size int64, body io.Reader) (string, error)
	DownloadFile(ctx context.Context, id, fileID string) (io.ReadCloser, chat.FileInfo, error)
}

// Bounds of an upload request around its file.
const (
	// multipartOverhead is the room the multipart framing gets beyond api.MaxFileBytes.
	multipartOverhead = 64 << 10
	// maxOtherParts bounds the parts before the file part, which are skipped.
	maxOtherParts = 8
	// maxPartContentType bounds the file part's Content-Type.
	maxPartContentType = 255
)

// fileEngine is what both file calls check first: the method, the chat's owner (a call
// another runner owns is forwarded there) and an engine that serves files. It reports
// false once it has answered.
func (a *server) fileEngine(w http.ResponseWriter, r *http.Request, method, id string) (FileEngine, bool) {
	if r.Method != method {
		methodNotAllowed(w, method)
		return nil, false
	}
	if a.forwardChat(w, r, id) {
		return nil, false
	}
	fe, ok := a.opts.Engine.(FileEngine)
	if !ok {
		problemNotFound.with("This runner serves no files.", "").write(w)
	}
	return fe, ok
}

// files serves POST /v1/chats/{id}/files: the user's file, streamed to Genesys.
func (a *server) files(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	fe, ok := a.fileEngine(w, r, http.MethodPost, id)
	if !ok {
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		problemMediaType.with("Send the file as multipart/form-data, in a part named file.", "").write(w)
		return
	}
	limit := int64(api.MaxFileBytes + multipartOverhead)
	if r.ContentLength > limit {
		closeAfter(w)
		problemTooLarge.with("The file must be at most "+strconv.Itoa(api.MaxFileBytes)+" bytes.", "").write(w)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		problemMediaType.with("Send the file as multipart/form-data, in a part named file.", "").write(w)
		return
	}
	var body *recordingReader
	var name, contentType string
	for i := 0; body == nil; i++ {
		part, err := mr.NextPart()
		if err != nil || i > maxOtherParts {
			if p := bodyProblem(err); p != nil {
				p.write(w)
				return
			}
			problemInvalid.with("The body needs a part named file, with a filename.", "file").write(w)
			return
		}
		if part.FormName() != "file" {
			continue // drained by NextPart, within the body's bound
		}
		name = part.FileName()
		if err := api.ValidateFileName(name); err != nil {
			problemInvalid.with(err.Error(), "file").write(w)
			return
		}
		contentType = part.Header.Get("Content-Type")
		if _, _, err := mime.ParseMediaType(contentType); err != nil || len(contentType) > maxPartContentType {
			contentType = "application/octet-stream"
		}
		body = &recordingReader{r: part}
	}
	fileID, err := fe.UploadFile(r.Context(), id, name, contentType, -1, body)
	if p := bodyProblem(body.err); p != nil {
		closeAfter(w)
		p.write(w)
		return
	}
	if err != nil {
		if errors.As(err, new(*chat.FileRefusedError)) {
			closeAfter(w) // the rest of the file is not read
		}
		a.failFile(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.UploadResponse{FileID: fileID})
}

// file serves GET /v1/chats/{id}/files/{fileId}: a file an agent sent, streamed from
// Genesys with its Content-Type and Content-Length, as an attachment.
func (a *server) file(w http.ResponseWriter, r *http.Request) {
	id, fileID := r.PathValue("id"), r.PathValue("fileId")
	fe, ok := a.fileEngine(w, r, http.MethodGet, id)
	if !ok {
		return
	}
	body, info, err := fe.DownloadFile(r.Context(), id, fileID)
	if err != nil {
		a.failFile(w, err)
		return
	}
	defer func() { _ = body.Close() }()
	ct := info.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	disposition := "attachment"
	if info.Name != "" {
		if d := mime.FormatMediaType("attachment", map[string]string{"filename": info.Name}); d != "" {
			disposition = d
		}
	}
	h.Set("Content-Disposition", disposition)
	if info.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	// Streamed: a failure midway aborts the answer, so that the bot sees a broken
	// download, also without a Content-Length (chunked), where returning would end the
	// answer cleanly and a shortened file would pass for a whole one.
	if _, err := io.Copy(w, body); err != nil && r.Context().Err() == nil {
		a.opts.Log.Info("A file download from Genesys broke off", "chat", id, "error", err.Error())
		panic(http.ErrAbortHandler)
	}
}

// failFile maps the file calls' errors to problems; the others as every call's.
func (a *server) failFile(w http.ResponseWriter, err error) {
	var refused *chat.FileRefusedError
	switch {
	case errors.As(err, &refused):
		switch refused.Reason {
		case chat.FileTooLarge:
			problemTooLarge.with(refused.Detail, "").write(w)
		case chat.FileTypeNotAllowed:
			problemMediaType.with(refused.Detail, "").write(w)
		default:
			problemConflict.with(refused.Detail, "").write(w)
		}
	case errors.Is(err, chat.ErrFileNotFound):
		problemNotFound.with("No file with this id was sent by an agent in this chat.", "").write(w)
	case errors.Is(err, chat.ErrFilesUnsupported):
		problemNotFound.with("This runner serves no files.", "").write(w)
	default:
		a.fail(w, err)
	}
}

// bodyProblem is the problem of a request body that could not be read: over its bound
// (413) or not the multipart it claims (400); nil for none (or its end).
func bodyProblem(err error) *problem {
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooLarge):
		p := problemTooLarge.with("The file must be at most "+strconv.Itoa(api.MaxFileBytes)+" bytes.", "")
		return &p
	}
	p := problemMalformed.with("The multipart body could not be read.", "")
	return &p
}

// closeAfter asks the server to close the connection after the answer, so that the rest
// of a refused body is never read.
func closeAfter(w http.ResponseWriter) { w.Header().Set("Connection", "close") }

// recordingReader keeps the first read error of r other than io.EOF.
type recordingReader struct {
	r   io.Reader
	err error
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && rr.err == nil {
		rr.err = err
	}
	return n, err
}
