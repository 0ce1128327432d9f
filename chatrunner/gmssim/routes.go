package gmssim

import (
	"strings"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Default last segments of the file download and delete paths, file/{fileId}/{segment}.
const (
	fileDownloadSegment = "download"
	fileDeleteSegment   = "delete"
	fileUploadPath      = "file"
	// fileDirectory is the directory of file/{fileId}/{segment}, whatever the upload's
	// override.
	fileDirectory = "file"
)

// routes map the path after a chat id to its operation, overrides applied.
type routes struct {
	// suffix maps a whole path after the chat id to its operation.
	suffix map[string]gms.Operation
	// fileDownload and fileDelete are the last segments of file/{fileId}/{segment}.
	fileDownload, fileDelete string
}

func buildRoutes(overrides map[gms.Operation]string) routes {
	rt := routes{
		suffix:       make(map[string]gms.Operation, len(gms.SessionOperations)+1),
		fileDownload: fileDownloadSegment,
		fileDelete:   fileDeleteSegment,
	}
	paths := make(map[gms.Operation]string, len(gms.SessionOperations)+1)
	for op, p := range gms.SessionOperations {
		paths[op] = p
	}
	paths[gms.OpFileUpload] = fileUploadPath
	for op, p := range overrides {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		switch op {
		case gms.OpFileDownload:
			rt.fileDownload = p
		case gms.OpFileDelete:
			rt.fileDelete = p
		default:
			if def, ok := paths[op]; ok {
				// The override replaces the last segment: file/limits -> file/<override>.
				if i := strings.LastIndex(def, "/"); i >= 0 {
					p = def[:i+1] + p
				}
				paths[op] = p
			}
		}
	}
	for op, p := range paths {
		rt.suffix[p] = op
	}
	return rt
}

// route resolves a Chat API path (below the context path) to its operation and chat id.
// The file id of download and delete is one path segment, unescaped.
func (s *Simulator) route(path string) (op gms.Operation, chatID, fileID string, ok bool) {
	rest, ok := strings.CutPrefix(path, s.contextPath)
	if !ok {
		return "", "", "", false
	}
	service, rest, hasChat := strings.Cut(rest, "/")
	if service == "" || (s.opts.ServiceName != "" && service != s.opts.ServiceName) {
		return "", "", "", false
	}
	if !hasChat || rest == "" {
		return gms.OpRequestChat, "", "", true
	}
	chatID, suffix, ok := strings.Cut(rest, "/")
	if !ok || chatID == "" || suffix == "" {
		return "", "", "", false
	}
	if op, ok := s.routes.suffix[suffix]; ok {
		return op, chatID, "", true
	}
	if file, ok := strings.CutPrefix(suffix, fileDirectory+"/"); ok {
		if fileID, seg, ok := strings.Cut(file, "/"); ok && fileID != "" {
			switch seg {
			case s.routes.fileDownload:
				return gms.OpFileDownload, chatID, fileID, true
			case s.routes.fileDelete:
				return gms.OpFileDelete, chatID, fileID, true
			}
		}
	}
	return "", "", "", false
}
