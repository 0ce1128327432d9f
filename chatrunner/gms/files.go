package gms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Keys and texts of the Chat API's file operations, as Genesys' docs and its own clients
// (GMSLibrary) spell them.
const (
	// FileLimitsNotice is the text of the Notice whose userData holds a chat's file limits,
	// in the messages of the file/limits answer.
	FileLimitsNotice = "file-client-cfg-get"
	// FileIDKey is the userData key of a file's id: in the top-level userData of the upload
	// answer, and in a FileUploaded event's userData.
	FileIDKey = "file-id"
	// FileNameKey, FileSizeKey and FileTypeKey are the userData keys of a FileUploaded
	// event's file name, size in bytes and content type. GMSLibrary's sample client reads
	// file-name; file-size and file-type are assumed by analogy.
	FileNameKey = "file-name"
	FileSizeKey = "file-size"
	FileTypeKey = "file-type"
	// FilePart is the name of the multipart part that carries an uploaded file.
	FilePart = "file"
)

// The file/limits keys, all string values.
const (
	LimitMaxFiles             = "upload-max-files"
	LimitMaxFileSize          = "upload-max-file-size"
	LimitMaxTotalSize         = "upload-max-total-size"
	LimitNeedAgent            = "upload-need-agent"
	LimitFileTypes            = "upload-file-types"
	LimitUsedFiles            = "used-upload-max-files"
	LimitUsedTotalSize        = "used-upload-max-total-size"
	LimitDownloadAttempts     = "download-attempts"
	LimitUsedDownloadAttempts = "used-download-attempts"
	LimitDeleteFile           = "delete-file"
)

// Bounds of what the file operations read from GMS.
const (
	// maxFileTypes bounds the entries of upload-file-types; more are ignored.
	maxFileTypes = 256
	// maxFileTypeLength bounds one extension of upload-file-types; longer ones are ignored.
	maxFileTypeLength = 32
	// maxLimitValue bounds the text of one limit value; a longer one is not a number.
	maxLimitValue = 1024
	// maxErrorAnswer bounds the JSON error answer of a download read to tell it from a file.
	maxErrorAnswer = 64 << 10
	// DefaultFileTimeout bounds a file upload or download, body included, when the attempt
	// timeout of the settings is shorter: a file takes longer than a poll.
	DefaultFileTimeout = 5 * time.Minute
)

// FileLimits are the limits GMS puts on the files of a chat (file/limits). A limit GMS did
// not announce, or announced unreadably, is -1: no limit known.
type FileLimits struct {
	// MaxFiles is how many files the user may upload in the chat.
	MaxFiles int
	// MaxFileSize bounds one file, in bytes.
	MaxFileSize int64
	// MaxTotalSize bounds all the user's files of the chat, in bytes.
	MaxTotalSize int64
	// NeedAgent says that uploads need an agent in the chat.
	NeedAgent bool
	// FileTypes are the allowed file extensions, lower case without dot; empty when GMS
	// named none (any).
	FileTypes []string
	// UsedFiles and UsedTotalSize are what the user uploaded so far.
	UsedFiles     int
	UsedTotalSize int64
	// DownloadAttempts bounds the downloads of the chat; UsedDownloadAttempts are used.
	DownloadAttempts     int
	UsedDownloadAttempts int
	// DeleteFile is GMS' delete-file setting as announced ("enabled", "odd", ...).
	DeleteFile string
}

// AllowsType reports whether a file name's extension is among the allowed types (any when
// none were announced).
func (l FileLimits) AllowsType(name string) bool {
	if len(l.FileTypes) == 0 {
		return true
	}
	ext := Extension(name)
	for _, t := range l.FileTypes {
		if strings.EqualFold(t, ext) { // as announced: "PDF" allows "a.pdf"
			return true
		}
	}
	return false
}

// Extension is a file name's extension, lower case without dot; "" when it has none.
func Extension(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return ""
	}
	return strings.ToLower(name[i+1:])
}

// ParseFileLimits reads the limits from a file/limits answer: the userData of its Notice
// with text FileLimitsNotice (Genesys' shape), or else the answer's top-level userData
// (tolerated). Every value is parsed within bounds; an unreadable one is -1. ok is false
// when the answer holds neither.
func ParseFileLimits(r *Response) (limits FileLimits, ok bool) {
	if r == nil {
		return unknownLimits(), false
	}
	var data map[string]string
	for _, m := range r.Messages {
		if m.Type == EventNotice && m.Text == FileLimitsNotice {
			data = m.UserData
			break
		}
	}
	if data == nil {
		data = r.UserData
	}
	if data == nil {
		return unknownLimits(), false
	}
	return limitsOf(data), true
}

func unknownLimits() FileLimits {
	return FileLimits{MaxFiles: -1, MaxFileSize: -1, MaxTotalSize: -1, UsedFiles: -1, UsedTotalSize: -1, DownloadAttempts: -1, UsedDownloadAttempts: -1}
}

// limitsOf parses the limits' userData.
func limitsOf(data map[string]string) FileLimits {
	num := func(key string) int64 {
		v := strings.TrimSpace(data[key])
		if v == "" || len(v) > maxLimitValue {
			return -1
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	small := func(key string) int {
		n := num(key)
		if n > int64(^uint32(0)>>1) {
			return -1
		}
		return int(n)
	}
	l := FileLimits{
		MaxFiles:             small(LimitMaxFiles),
		MaxFileSize:          num(LimitMaxFileSize),
		MaxTotalSize:         num(LimitMaxTotalSize),
		UsedFiles:            small(LimitUsedFiles),
		UsedTotalSize:        num(LimitUsedTotalSize),
		DownloadAttempts:     small(LimitDownloadAttempts),
		UsedDownloadAttempts: small(LimitUsedDownloadAttempts),
	}
	need := strings.TrimSpace(data[LimitNeedAgent])
	l.NeedAgent = len(need) <= maxLimitValue && strings.EqualFold(need, "true")
	if v := data[LimitDeleteFile]; len(v) <= maxLimitValue {
		l.DeleteFile = v
	}
	types := data[LimitFileTypes]
	for len(types) > 0 && len(l.FileTypes) < maxFileTypes {
		var t string
		t, types, _ = strings.Cut(types, ":")
		t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "."))
		if t != "" && len(t) <= maxFileTypeLength {
			l.FileTypes = append(l.FileTypes, t)
		}
	}
	return l
}

// FileLimits asks GMS for the chat's file limits (file/limits), with retries: it changes
// nothing. A successful answer without limits is an *Error of Code "decode".
func (c *Client) FileLimits(ctx context.Context, s *Session) (FileLimits, *Response, error) {
	resp, err := c.Call(ctx, OpFileLimits, s, nil)
	if err != nil {
		return unknownLimits(), resp, err
	}
	limits, ok := ParseFileLimits(resp)
	if !ok {
		return limits, resp, &Error{Op: OpFileLimits, StatusCode: resp.StatusCode, Attempts: 1,
			Err: &decodeError{reason: "answer holds no " + FileLimitsNotice + " notice"}}
	}
	return limits, resp, nil
}

// FileUpload is a file to upload.
type FileUpload struct {
	// Name is the file's name, sent as the part's filename.
	Name string
	// ContentType is the part's Content-Type; application/octet-stream when empty.
	ContentType string
	// Size is the file's size in bytes, -1 when unknown. When known, the request has a
	// Content-Length and Body must hold exactly Size bytes; when unknown, it is chunked.
	Size int64
	// Body is read once, as the request is sent: never buffered whole.
	Body io.Reader
}

// errUploadSize is a body that did not hold the size announced.
var errUploadSize = errors.New("the file's body does not hold the size announced")

// UploadFile uploads a file of the end user (POST {chatId}/file, multipart/form-data with
// the session triple and the part FilePart). The file streams from f.Body through an
// io.Pipe into the request: it is never held in memory whole. It returns the new file's id
// (the answer's top-level userData[FileIDKey]) and the answer; a successful answer
// without the id is an *Error of Code "decode".
//
// Retries: an attempt that failed in a retryable way is retried per the retry policy only
// when it read nothing of f.Body (the connection failed, the credentials were not ready):
// a consumed body cannot be sent again, so a failure after the first byte is returned as
// it is, and GMS may or may not have the file (a later file/limits tells). f.Body is not
// read any more once UploadFile returned. The whole
// upload is bounded by the settings' timeout or DefaultFileTimeout, whichever is longer,
// and by ctx.
func (c *Client) UploadFile(ctx context.Context, s *Session, f FileUpload) (string, *Response, error) {
	if s == nil {
		return "", nil, fmt.Errorf("gms %s: %w", OpFileUpload, errNoSession)
	}
	cfg := c.cfg.Load()
	endpoint, err := cfg.fileEndpoint(OpFileUpload, s.ChatID, "")
	if err != nil {
		return "", nil, err
	}
	timeout := max(cfg.timeout, DefaultFileTimeout)
	src := &countingReader{r: f.Body}
	a, attempts := c.withRetries(ctx, cfg, OpFileUpload, s, func() (attemptResult, bool) {
		body, contentType, length, written := multipartBody(s, f, src)
		a := c.post(ctx, OpFileUpload, endpoint, contentType, body, length, timeout)
		_ = body.CloseWithError(errAttemptOver) // ends the writer if the transport stopped reading
		// The caller's body is never read once UploadFile returned: the writer is waited
		// for (it stops at its next write, or when a read of the body it is in returns).
		<-written
		return a, src.read() == 0 // a consumed body cannot be sent again
	})
	if a.err != nil {
		return "", a.resp, a.err
	}
	id := a.resp.UserData[FileIDKey]
	if id == "" {
		return "", a.resp, &Error{Op: OpFileUpload, HTTPStatus: a.httpStatus, StatusCode: a.resp.StatusCode, Attempts: attempts,
			Err: &decodeError{reason: "answer lacks userData[" + FileIDKey + "]"}}
	}
	return id, a.resp, nil
}

// errAttemptOver ends the writer of an upload attempt whose answer came.
var errAttemptOver = errors.New("upload attempt over")

// multipartBody returns the multipart body of an upload attempt: a pipe a goroutine writes
// the session triple and the file part into, reading src only once the transport reads
// the pipe (so an attempt that never connected reads nothing of it); its content type;
// its length, when the file's size is known (-1 otherwise); and a channel closed once the
// writer stopped.
func multipartBody(s *Session, f FileUpload, src *countingReader) (*io.PipeReader, string, int64, <-chan struct{}) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	fields := sessionForm(s, nil)
	header := filePartHeader(f)
	length := int64(-1)
	if f.Size >= 0 {
		// The same parts with the same boundary, counted instead of sent.
		var cw countingWriter
		dry := multipart.NewWriter(&cw)
		_ = dry.SetBoundary(mw.Boundary())
		_ = writeFields(dry, fields)
		_, _ = dry.CreatePart(header)
		_ = dry.Close()
		length = cw.n + f.Size
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := writeFields(mw, fields)
		var part io.Writer
		if err == nil {
			part, err = mw.CreatePart(header)
		}
		if err == nil {
			err = copyFile(part, src, f.Size)
		}
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType(), length, done
}

// writeFields writes form's values as parts, in key order.
func writeFields(mw *multipart.Writer, form url.Values) error {
	for _, k := range []string{ParamUserID, ParamSecureKey, ParamAlias} {
		if err := mw.WriteField(k, form.Get(k)); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies the file's body to the part: exactly size bytes when size is known.
func copyFile(dst io.Writer, src io.Reader, size int64) error {
	if size < 0 {
		_, err := io.Copy(dst, src)
		return err
	}
	n, err := io.Copy(dst, io.LimitReader(src, size))
	if err != nil {
		return err
	}
	if n < size {
		return errUploadSize
	}
	var one [1]byte
	if m, _ := io.ReadFull(src, one[:]); m > 0 {
		return errUploadSize
	}
	return nil
}

// filePartHeader is the header of the file's part: its name and content type.
func filePartHeader(f FileUpload) textproto.MIMEHeader {
	h := make(textproto.MIMEHeader, 2)
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": FilePart, "filename": f.Name}))
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	return h
}

// countingReader counts the bytes read from r. read may be called from another goroutine
// than Read's.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) read() int64 { return c.n.Load() }

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// File is a downloaded file: its body streams from GMS.
type File struct {
	// Body is the file's content; the caller must close it. Reading past the maximum size
	// the download was given fails with ErrFileTooLarge.
	Body io.ReadCloser
	// ContentType is GMS' Content-Type of the file; application/octet-stream when none.
	ContentType string
	// Size is the Content-Length, -1 when GMS sent none.
	Size int64
	// Name is the filename of GMS' Content-Disposition, "" when none.
	Name string
}

// ErrFileTooLarge is a download beyond the size it was allowed.
var ErrFileTooLarge = errors.New("the file is larger than allowed")

// DownloadFile downloads a file of the chat (POST {chatId}/file/{fileId}/download with
// the session triple). It returns the file with its body streaming from GMS, at most
// maxBytes long (a larger Content-Length is refused at once, a longer body fails with
// ErrFileTooLarge when read past maxBytes; maxBytes <= 0 means no bound). An answer that
// is GMS' JSON envelope with a non-zero statusCode, or an HTTP error, is an *Error.
// Failures before the body arrives are retried per the retry policy (each attempt may
// count against GMS' download-attempts); the body is never retried. The download, body
// included, is bounded by the settings' timeout or DefaultFileTimeout, whichever is
// longer, and by ctx.
func (c *Client) DownloadFile(ctx context.Context, s *Session, fileID string, maxBytes int64) (*File, error) {
	if s == nil {
		return nil, fmt.Errorf("gms %s: %w", OpFileDownload, errNoSession)
	}
	cfg := c.cfg.Load()
	endpoint, err := cfg.fileEndpoint(OpFileDownload, s.ChatID, fileID)
	if err != nil {
		return nil, err
	}
	timeout := max(cfg.timeout, DefaultFileTimeout)
	var f *File
	a, _ := c.withRetries(ctx, cfg, OpFileDownload, s, func() (attemptResult, bool) {
		var a attemptResult
		f, a = c.downloadAttempt(ctx, endpoint, s, timeout, maxBytes)
		return a, true
	})
	if a.err != nil {
		return nil, a.err
	}
	return f, nil
}

// downloadAttempt is one download attempt. On success the file's body keeps the attempt's
// context until closed.
func (c *Client) downloadAttempt(ctx context.Context, endpoint string, s *Session, timeout time.Duration, maxBytes int64) (*File, attemptResult) {
	op := OpFileDownload
	actx, cancel := context.WithTimeout(ctx, timeout)
	fail := func(httpStatus int, err error) (*File, attemptResult) {
		cancel()
		return nil, attemptResult{err: &Error{Op: op, HTTPStatus: httpStatus, StatusCode: -1, Err: err}}
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint, strings.NewReader(sessionForm(s, nil).Encode()))
	if err != nil {
		return fail(0, &requestError{reason: "invalid URL"})
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr, failure := c.authorizedDo(ctx, actx, req, timeout)
	if failure != nil {
		return fail(0, failure)
	}
	closeAll := func() { _ = hr.Body.Close(); cancel() }
	mt, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	isJSON := mt == "application/json" || mt == "text/json"
	if !is2xx(hr.StatusCode) {
		res := attemptResult{err: &Error{Op: op, HTTPStatus: hr.StatusCode, StatusCode: -1}, retryAfter: c.retryAfter(hr.StatusCode, hr.Header.Get("Retry-After"))}
		raw, _ := io.ReadAll(io.LimitReader(hr.Body, maxErrorAnswer+1))
		closeAll()
		if resp, err := decodeEnvelope(raw); err == nil && len(raw) <= maxErrorAnswer {
			res.resp = resp
			res.err.StatusCode, res.err.ChatEnded, res.err.Errors = resp.StatusCode, resp.ChatEnded, resp.Errors
		}
		return nil, res
	}
	body := io.Reader(hr.Body)
	if isJSON {
		// GMS answers a refused download with its envelope; a JSON file is passed on.
		raw, err := io.ReadAll(io.LimitReader(hr.Body, maxErrorAnswer+1))
		if err != nil {
			closeAll()
			return fail(hr.StatusCode, transportError(ctx, actx, timeout, err))
		}
		if resp, derr := decodeEnvelope(raw); derr == nil && len(raw) <= maxErrorAnswer && resp.StatusCode != StatusOK {
			closeAll()
			return nil, attemptResult{resp: resp, err: &Error{Op: op, HTTPStatus: hr.StatusCode, StatusCode: resp.StatusCode,
				ChatEnded: resp.ChatEnded, Errors: resp.Errors}}
		}
		body = io.MultiReader(bytes.NewReader(raw), hr.Body)
	}
	if maxBytes > 0 && hr.ContentLength > maxBytes {
		closeAll()
		return fail(hr.StatusCode, ErrFileTooLarge)
	}
	f := &File{ContentType: hr.Header.Get("Content-Type"), Size: hr.ContentLength}
	if f.ContentType == "" {
		f.ContentType = "application/octet-stream"
	}
	if _, params, err := mime.ParseMediaType(hr.Header.Get("Content-Disposition")); err == nil {
		f.Name = params["filename"]
	}
	if maxBytes > 0 {
		body = &capReader{r: body, left: maxBytes}
	}
	f.Body = &fileBody{Reader: body, close: closeAll}
	return f, attemptResult{httpStatus: hr.StatusCode}
}

// capReader fails with ErrFileTooLarge once more than left bytes come.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, ErrFileTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n - 1, ErrFileTooLarge
	}
	return n, err
}

// fileBody is a download's body; closing it ends the download's context.
type fileBody struct {
	io.Reader
	close func()
}

func (b *fileBody) Close() error {
	b.close()
	return nil
}

// DeleteFile deletes a file of the chat (POST {chatId}/file/{fileId}/delete), with
// retries.
func (c *Client) DeleteFile(ctx context.Context, s *Session, fileID string) (*Response, error) {
	if s == nil {
		return nil, fmt.Errorf("gms %s: %w", OpFileDelete, errNoSession)
	}
	cfg := c.cfg.Load()
	endpoint, err := cfg.fileEndpoint(OpFileDelete, s.ChatID, fileID)
	if err != nil {
		return nil, err
	}
	resp, _, err := c.doCallAt(ctx, cfg, OpFileDelete, endpoint, s, nil)
	return resp, err
}

// UploadedFile is the metadata of a FileUploaded event, from its userData (and its text,
// which holds the file id on servers that leave userData's out).
type UploadedFile struct {
	ID          string
	Name        string
	Size        int64 // -1 when unknown
	ContentType string
}

// UploadedFileOf reads a FileUploaded event's file; ok is false without a file id.
func UploadedFileOf(e Event) (UploadedFile, bool) {
	f := UploadedFile{ID: e.UserData[FileIDKey], Name: e.UserData[FileNameKey], ContentType: e.UserData[FileTypeKey], Size: -1}
	if f.ID == "" {
		f.ID = e.Text
	}
	if v := strings.TrimSpace(e.UserData[FileSizeKey]); v != "" && len(v) <= 20 {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			f.Size = n
		}
	}
	return f, f.ID != ""
}
