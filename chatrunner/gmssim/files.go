package gmssim

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// FileLimits are the file limits of the simulated chat service: what file/limits announces
// and what upload enforces. The zero value of a field means none: no limit, no type
// restriction, agent not needed.
type FileLimits struct {
	// MaxFiles bounds the client's uploads per chat (upload-max-files).
	MaxFiles int
	// MaxFileSize bounds one file in bytes (upload-max-file-size).
	MaxFileSize int64
	// MaxTotalSize bounds the client's files of a chat together (upload-max-total-size).
	MaxTotalSize int64
	// NeedAgent refuses uploads while no agent is in the chat (upload-need-agent).
	NeedAgent bool
	// FileTypes are the allowed extensions, lower case without dot (upload-file-types,
	// colon-separated on the wire); empty allows any.
	FileTypes []string
	// DownloadAttempts bounds the downloads per chat (download-attempts).
	DownloadAttempts int
	// DeleteFile is announced as delete-file; "" announces "enabled".
	DeleteFile string
}

// DefaultFileLimits are the limits when Options.FileLimits is nil: GMS' documented
// defaults as far as they are known (10 MiB a file), the rest plausible values.
func DefaultFileLimits() FileLimits {
	return FileLimits{
		MaxFiles:         10,
		MaxFileSize:      10 << 20,
		MaxTotalSize:     100 << 20,
		NeedAgent:        true,
		FileTypes:        strings.Split("bmp:csv:doc:docx:gif:htm:html:jpeg:jpg:pdf:png:ppt:pptx:rtf:tif:tiff:txt:xls:xlsx", ":"),
		DownloadAttempts: 10,
		DeleteFile:       "enabled",
	}
}

// DefaultMaxFileStore bounds the bytes of all files the simulator holds, when
// Options.MaxFileStore is 0.
const DefaultMaxFileStore = 256 << 20

// maxFileNameLength bounds a stored file's name.
const maxFileNameLength = 256

// Chat Server error codes of the file operations. Assumed: Genesys documents no codes for
// these refusals.
const (
	codeFileLimit   = 413
	codeFileType    = 415
	codeNeedAgent   = 409
	codeNoSuchFile  = 404
	codeStoreIsFull = 507
)

// ErrFileStoreFull is an agent's file beyond the simulator's file store.
var ErrFileStoreFull = errors.New("the simulator's file store is full")

// FileInfo is a stored file's metadata, as Chat snapshots list it.
type FileInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	// From is the uploader's participant type: Client or Agent.
	From string `json:"from"`
}

// storedFile is a file the simulator holds, guarded by Simulator.mu. Its data is never
// modified once stored.
type storedFile struct {
	FileInfo
	data []byte
}

// fileLimits returns the limits in force.
func (s *Simulator) fileLimits() FileLimits {
	if s.opts.FileLimits != nil {
		return *s.opts.FileLimits
	}
	return DefaultFileLimits()
}

// maxFileStore returns the bound of the file store.
func (s *Simulator) maxFileStore() int64 {
	if s.opts.MaxFileStore > 0 {
		return s.opts.MaxFileStore
	}
	return DefaultMaxFileStore
}

// maxUploadBody bounds the body of an upload request: the file and the form around it.
func (s *Simulator) maxUploadBody() int64 {
	l := s.fileLimits()
	if l.MaxFileSize <= 0 {
		return s.maxFileStore() + maxMemory
	}
	return l.MaxFileSize + maxMemory
}

// limitsNotice is the file/limits answer's message: a Notice from the client without
// index, its text gms.FileLimitsNotice and the limits in its userData, all strings (the
// shape Genesys' clients read). Callers hold s.mu.
func (s *Simulator) limitsNotice(c *chat, now time.Time) gms.Event {
	l := s.fileLimits()
	usedFiles, usedSize := c.clientUploads()
	deleteFile := l.DeleteFile
	if deleteFile == "" {
		deleteFile = "enabled"
	}
	data := map[string]string{
		gms.LimitNeedAgent:            strconv.FormatBool(l.NeedAgent),
		gms.LimitFileTypes:            strings.Join(l.FileTypes, ":"),
		gms.LimitUsedFiles:            strconv.Itoa(usedFiles),
		gms.LimitUsedTotalSize:        strconv.FormatInt(usedSize, 10),
		gms.LimitUsedDownloadAttempts: strconv.Itoa(c.downloads),
		gms.LimitDeleteFile:           deleteFile,
	}
	// A limit of none is left out (assumed: Genesys' answers always carry them all).
	for key, n := range map[string]int64{gms.LimitMaxFiles: int64(l.MaxFiles), gms.LimitMaxFileSize: l.MaxFileSize,
		gms.LimitMaxTotalSize: l.MaxTotalSize, gms.LimitDownloadAttempts: int64(l.DownloadAttempts)} {
		if n > 0 {
			data[key] = strconv.FormatInt(n, 10)
		}
	}
	return gms.Event{From: c.client(), Type: gms.EventNotice, Text: gms.FileLimitsNotice, UTCTime: now.UnixMilli(), UserData: data}
}

// clientUploads are the count and bytes of the client's files of the chat (deleted ones
// left out).
func (c *chat) clientUploads() (int, int64) {
	n, size := 0, int64(0)
	for _, f := range c.files {
		if f.From == gms.ParticipantClient {
			n++
			size += f.Size
		}
	}
	return n, size
}

// upload is the file part of an upload request, read before the chat is locked.
type upload struct {
	name, contentType string
	data              []byte
	// tooLarge says the part was over the file size limit; data is then nil.
	tooLarge bool
	// err says why the request holds no readable file part.
	err string
}

// readUpload reads the file part of a parsed multipart request, within the file size
// limit (plus one byte, to tell a file over it).
func (s *Simulator) readUpload(r *http.Request) upload {
	if r.MultipartForm == nil || len(r.MultipartForm.File[gms.FilePart]) == 0 {
		return upload{err: "missing required part " + gms.FilePart + " (multipart/form-data)"}
	}
	fh := r.MultipartForm.File[gms.FilePart][0]
	u := upload{name: fh.Filename, contentType: fh.Header.Get("Content-Type")}
	if u.name == "" || len(u.name) > maxFileNameLength {
		return upload{err: "the file part needs a filename of at most " + strconv.Itoa(maxFileNameLength) + " bytes"}
	}
	if u.contentType == "" {
		u.contentType = "application/octet-stream"
	}
	limit := s.fileLimits().MaxFileSize
	if limit <= 0 {
		limit = s.maxFileStore()
	}
	if fh.Size > limit {
		u.tooLarge = true
		return u
	}
	data, err := readPart(fh, limit)
	if err != nil {
		return upload{err: "the file part cannot be read"}
	}
	u.data = data
	return u
}

// readPart reads a multipart file of at most limit bytes.
func readPart(fh *multipart.FileHeader, limit int64) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, err
	}
	return data, nil
}

// storeFile adds a file to the chat within the store's bound. Callers hold s.mu.
func (s *Simulator) storeFile(c *chat, from, name, contentType string, data []byte) (storedFile, bool) {
	if s.storedBytes+int64(len(data)) > s.maxFileStore() {
		return storedFile{}, false
	}
	s.fileSeq++
	f := storedFile{
		FileInfo: FileInfo{
			ID:          fmt.Sprintf("%s-f%d-%s", c.id, s.fileSeq, randomHex(4)),
			Name:        name,
			ContentType: contentType,
			Size:        int64(len(data)),
			From:        from,
		},
		data: data,
	}
	c.files = append(c.files, f)
	s.storedBytes += f.Size
	return f, true
}

// fileEvent is the FileUploaded event of a stored file: its id as text and its metadata
// in userData.
func fileEvent(from gms.Participant, f storedFile) gms.Event {
	return gms.Event{
		From: from,
		Type: gms.EventFileUploaded,
		Text: f.ID,
		UserData: map[string]string{
			gms.FileIDKey:   f.ID,
			gms.FileNameKey: f.Name,
			gms.FileSizeKey: strconv.FormatInt(f.Size, 10),
			gms.FileTypeKey: f.ContentType,
		},
	}
}

// fileRefusal is an upload refused for a limit: statusCode 2 with code and advice.
func fileRefusal(resp gms.Response, code int, advice string) (int, any) {
	resp.StatusCode = gms.StatusUnrecoverable
	resp.Errors = []gms.APIError{{Code: code, Advice: advice}}
	return http.StatusOK, resp
}

// uploadLocked serves a client's upload on a live chat whose session checked. Callers
// hold s.mu.
func (s *Simulator) uploadLocked(c *chat, u upload, resp gms.Response, now time.Time) (int, any) {
	l := s.fileLimits()
	used, usedSize := c.clientUploads()
	switch {
	case u.err != "":
		return fileRefusal(resp, codeBadRequest, u.err)
	case l.NeedAgent && len(c.agents) == 0:
		return fileRefusal(resp, codeNeedAgent, "file upload needs an agent in the chat (upload-need-agent)")
	case !allowedType(l.FileTypes, u.name):
		return fileRefusal(resp, codeFileType, "file type not allowed (upload-file-types: "+strings.Join(l.FileTypes, ":")+")")
	case u.tooLarge:
		return fileRefusal(resp, codeFileLimit, "file exceeds upload-max-file-size ("+strconv.FormatInt(l.MaxFileSize, 10)+" bytes)")
	case l.MaxFiles > 0 && used >= l.MaxFiles:
		return fileRefusal(resp, codeFileLimit, "the chat has upload-max-files ("+strconv.Itoa(l.MaxFiles)+") files already")
	case l.MaxTotalSize > 0 && usedSize+int64(len(u.data)) > l.MaxTotalSize:
		return fileRefusal(resp, codeFileLimit, "the chat's files would exceed upload-max-total-size ("+strconv.FormatInt(l.MaxTotalSize, 10)+" bytes)")
	}
	f, ok := s.storeFile(c, gms.ParticipantClient, u.name, u.contentType, u.data)
	if !ok {
		return fileRefusal(resp, codeStoreIsFull, ErrFileStoreFull.Error())
	}
	c.add(now, fileEvent(c.client(), f))
	resp.UserData = map[string]string{gms.FileIDKey: f.ID}
	return http.StatusOK, resp
}

// allowedType reports whether name's extension is among types (any when none).
func allowedType(types []string, name string) bool {
	return gms.FileLimits{FileTypes: types}.AllowsType(name)
}

// file returns the chat's file with id, and its index.
func (c *chat) file(id string) (storedFile, int, bool) {
	for i, f := range c.files {
		if f.ID == id {
			return f, i, true
		}
	}
	return storedFile{}, -1, false
}

// downloadLocked serves a download on a live chat whose session checked: the file itself,
// or a refusal envelope. Callers hold s.mu.
func (s *Simulator) downloadLocked(c *chat, fileID string, resp gms.Response) (int, any) {
	l := s.fileLimits()
	f, _, ok := c.file(fileID)
	switch {
	case !ok:
		return fileRefusal(resp, codeNoSuchFile, "no such file in the chat")
	case l.DownloadAttempts > 0 && c.downloads >= l.DownloadAttempts:
		return fileRefusal(resp, codeFileLimit, "the chat used its download-attempts ("+strconv.Itoa(l.DownloadAttempts)+")")
	}
	c.downloads++
	return http.StatusOK, fileAnswer{f}
}

// fileAnswer is a download's answer: the file's bytes.
type fileAnswer struct{ f storedFile }

// write sends the file with its Content-Type, Content-Length and Content-Disposition.
func (a fileAnswer) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", a.f.ContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(a.f.Size, 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.f.Name}))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.f.data)
}

// deleteLocked serves a client's delete on a live chat whose session checked: its own file
// goes, with a FileDeleted event. Callers hold s.mu.
func (s *Simulator) deleteLocked(c *chat, fileID string, resp gms.Response, now time.Time) (int, any) {
	f, i, ok := c.file(fileID)
	switch {
	case !ok:
		return fileRefusal(resp, codeNoSuchFile, "no such file in the chat")
	case f.From != gms.ParticipantClient:
		return fileRefusal(resp, codeBadRequest, "the client may delete its own files only")
	}
	c.files = append(c.files[:i:i], c.files[i+1:]...)
	s.storedBytes -= f.Size
	c.add(now, gms.Event{From: c.client(), Type: gms.EventFileDeleted, Text: f.ID, UserData: map[string]string{gms.FileIDKey: f.ID}})
	return http.StatusOK, resp
}

// AgentFile has the current agent send a file: it is stored (within Options.MaxFileStore)
// and a FileUploaded event from the agent carries its id (text and userData file-id) and
// its file-name, file-size and file-type. It returns the file's id.
func (s *Simulator) AgentFile(chatID, name, contentType string, data []byte) (string, error) {
	if name == "" || len(name) > maxFileNameLength {
		return "", fmt.Errorf("chat %s: the file needs a name of at most %d bytes", chatID, maxFileNameLength)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	data = append([]byte(nil), data...)
	var id string
	err := s.agentCall(chatID, func(c *chat, now time.Time) error {
		a, ok := c.currentAgent()
		if !ok {
			return ErrNoAgent
		}
		f, ok := s.storeFile(c, gms.ParticipantAgent, name, contentType, data)
		if !ok {
			return ErrFileStoreFull
		}
		c.add(now, fileEvent(a.participant(), f))
		id = f.ID
		return nil
	})
	return id, err
}

// File returns a copy of a stored file's content and metadata.
func (s *Simulator) File(chatID, fileID string) ([]byte, FileInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return nil, FileInfo{}, false
	}
	f, _, ok := c.file(fileID)
	if !ok {
		return nil, FileInfo{}, false
	}
	return append([]byte(nil), f.data...), f.FileInfo, true
}
