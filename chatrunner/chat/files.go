package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// FileGMS is what the engine calls on Genesys for files; *gms.Client implements it. The
// engine's GMS client is asked for it when a file call comes: a client without it makes
// those calls fail with ErrFilesUnsupported.
type FileGMS interface {
	FileLimits(ctx context.Context, s *gms.Session) (gms.FileLimits, *gms.Response, error)
	UploadFile(ctx context.Context, s *gms.Session, f gms.FileUpload) (string, *gms.Response, error)
	DownloadFile(ctx context.Context, s *gms.Session, fileID string, maxBytes int64) (*gms.File, error)
}

// Bounds of what a fileUploaded event carries from Genesys.
const (
	// maxFileIDLength bounds a file id: a longer one is no id of Genesys, and the event is
	// left out.
	maxFileIDLength = 256
	// maxFileTextLength bounds a file's name and content type; longer ones are cut.
	maxFileTextLength = 255
)

// fileLimitsTTL is how long a chat's file limits, read from Genesys, are used before they
// are read again: uploads of one conversation come in bursts.
const fileLimitsTTL = 30 * time.Second

// fileRefOf is the file of an agent's FileUploaded event, with its download path on the
// escalation API; nil when the event names no usable file id.
func fileRefOf(chatID string, e gms.Event) *FileRef {
	f, ok := gms.UploadedFileOf(e)
	if !ok || len(f.ID) > maxFileIDLength {
		return nil
	}
	ref := &FileRef{
		ID:          f.ID,
		Name:        cut(f.Name, maxFileTextLength),
		ContentType: cut(f.ContentType, maxFileTextLength),
		URL:         api.FilePath(chatID, f.ID),
	}
	if f.Size >= 0 {
		size := f.Size
		ref.Size = &size
	}
	return ref
}

// UploadFile sends the user's file to the agent: name and contentType go to Genesys with
// it, size is its length when known (-1 otherwise), and body streams to Genesys as Genesys
// reads it, never held whole. The limits Genesys announces for the chat (file/limits, read
// once and kept fileLimitsTTL) are applied first: a file whose name, type, count or
// announced size they refuse is a *FileRefusedError and nothing reaches Genesys; a body
// that streams past the size limit is cut off there (read no further), the upload fails,
// and it is a *FileRefusedError of FileTooLarge too. It returns Genesys' id of the file.
//
// The upload is not retried once its body was read (see gms.Client.UploadFile): the bot
// sends the file again. Genesys' own refusal is a *RefusedError, as for a message.
func (m *Manager) UploadFile(ctx context.Context, id, name, contentType string, size int64, body io.Reader) (string, error) {
	fg, ok := m.opts.GMS.(FileGMS)
	if !ok {
		return "", ErrFilesUnsupported
	}
	if err := api.ValidateFileName(name); err != nil {
		fe := &api.FieldError{}
		errors.As(err, &fe)
		return "", &InvalidError{Field: "file", Detail: fe.Detail}
	}
	c, err := m.get(id)
	if err != nil {
		return "", err
	}
	limits, err := m.fileLimits(ctx, fg, c)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	connected := c.state == chatv1alpha1.ChatConnected
	c.mu.Unlock()
	maxSize := maxUploadSize(limits)
	switch {
	case limits.NeedAgent && !connected:
		return "", &FileRefusedError{Reason: FileNeedsAgent, Detail: "Genesys takes files only once an agent joined the chat (upload-need-agent)"}
	case !limits.AllowsType(name):
		return "", &FileRefusedError{Reason: FileTypeNotAllowed, Detail: fmt.Sprintf("Genesys does not allow the file type %q; allowed: %v", gms.Extension(name), limits.FileTypes)}
	case limits.MaxFiles >= 0 && limits.UsedFiles >= limits.MaxFiles:
		return "", &FileRefusedError{Reason: FileCountExceeded, Detail: "the chat has the " + strconv.Itoa(limits.MaxFiles) + " files Genesys allows (upload-max-files)"}
	case size > maxSize:
		return "", tooLarge(maxSize)
	}
	src := &boundedReader{r: body, left: maxSize}
	var fileID string
	err = m.call(ctx, id, "uploading the file", func(sess *gms.Session, _ int) (*gms.Response, error) {
		fid, resp, err := fg.UploadFile(ctx, sess, gms.FileUpload{Name: name, ContentType: contentType, Size: size, Body: src})
		fileID = fid
		return resp, err
	})
	if src.exceeded {
		c.forgetFileLimits() // Genesys may have counted what it got
		return "", tooLarge(maxSize)
	}
	if err != nil {
		c.forgetFileLimits()
		return "", err
	}
	c.usedFile(src.read)
	return fileID, nil
}

// maxUploadSize is the largest file the limits allow now: Genesys' upload-max-file-size,
// what is left of its upload-max-total-size, and the API's own bound.
func maxUploadSize(l gms.FileLimits) int64 {
	n := int64(api.MaxFileBytes)
	if l.MaxFileSize >= 0 {
		n = min(n, l.MaxFileSize)
	}
	if l.MaxTotalSize >= 0 && l.UsedTotalSize >= 0 {
		n = min(n, max(l.MaxTotalSize-l.UsedTotalSize, 0))
	}
	return n
}

func tooLarge(maxSize int64) *FileRefusedError {
	return &FileRefusedError{Reason: FileTooLarge, Detail: "the file must be at most " + strconv.FormatInt(maxSize, 10) +
		" bytes (Genesys' upload-max-file-size, what is left of its upload-max-total-size, or the gateway's bound)"}
}

// boundedReader reads at most left bytes of r: one more is an error, and it reads no
// further.
type boundedReader struct {
	r        io.Reader
	left     int64
	read     int64
	exceeded bool
}

// errFileTooLarge ends a body streaming past its bound.
var errFileTooLarge = errors.New("the file streams past its size limit")

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.exceeded {
		return 0, errFileTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		b.exceeded = true
		return 0, errFileTooLarge
	}
	b.left -= int64(n)
	b.read += int64(n)
	return n, err
}

// DownloadFile streams a file an agent sent in the chat (a fileUploaded event's) from
// Genesys: the caller reads and closes the body. A file id no fileUploaded event of the
// chat named is ErrFileNotFound, without asking Genesys. The body is bounded by
// api.MaxFileBytes.
func (m *Manager) DownloadFile(ctx context.Context, id, fileID string) (io.ReadCloser, FileInfo, error) {
	fg, ok := m.opts.GMS.(FileGMS)
	if !ok {
		return nil, FileInfo{}, ErrFilesUnsupported
	}
	c, err := m.get(id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	c.mu.Lock()
	ref := c.agentFile(fileID)
	c.mu.Unlock()
	if ref == nil {
		return nil, FileInfo{}, ErrFileNotFound
	}
	var f *gms.File
	err = m.call(ctx, id, "downloading the file", func(sess *gms.Session, _ int) (*gms.Response, error) {
		var err error
		f, err = fg.DownloadFile(ctx, sess, fileID, api.MaxFileBytes)
		return nil, err
	})
	if err != nil {
		if f != nil {
			_ = f.Body.Close()
		}
		return nil, FileInfo{}, err
	}
	info := FileInfo{Name: f.Name, ContentType: f.ContentType, Size: f.Size}
	if info.Name == "" {
		info.Name = ref.Name
	}
	return f.Body, info, nil
}

// agentFile returns the file of the chat's fileUploaded event with id, nil when none;
// called with c.mu held.
func (c *chat) agentFile(fileID string) *FileRef {
	for i := range c.events.events {
		if e := &c.events.events[i]; e.Kind == KindFileUploaded && e.File != nil && e.File.ID == fileID {
			return e.File
		}
	}
	return nil
}

// fileLimits returns the chat's file limits: cached on the chat for fileLimitsTTL, or
// read from Genesys.
func (m *Manager) fileLimits(ctx context.Context, fg FileGMS, c *chat) (gms.FileLimits, error) {
	now := m.clock.Now()
	c.mu.Lock()
	cached, at := c.fileLimits, c.fileLimitsAt
	c.mu.Unlock()
	if !at.IsZero() && now.Sub(at) < fileLimitsTTL {
		return cached, nil
	}
	var limits gms.FileLimits
	err := m.call(ctx, c.id, "reading the file limits", func(sess *gms.Session, _ int) (*gms.Response, error) {
		l, resp, err := fg.FileLimits(ctx, sess)
		limits = l
		return resp, err
	})
	if err != nil {
		return limits, err
	}
	c.mu.Lock()
	c.fileLimits, c.fileLimitsAt = limits, now
	c.mu.Unlock()
	return limits, nil
}

// usedFile counts an upload of n bytes in the chat's cached limits.
func (c *chat) usedFile(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fileLimitsAt.IsZero() {
		return
	}
	if c.fileLimits.UsedFiles >= 0 {
		c.fileLimits.UsedFiles++
	}
	if c.fileLimits.UsedTotalSize >= 0 {
		c.fileLimits.UsedTotalSize += n
	}
}

// forgetFileLimits drops the chat's cached limits: the next upload reads them again.
func (c *chat) forgetFileLimits() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fileLimitsAt = time.Time{}
}
