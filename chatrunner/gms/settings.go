package gms

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of settings left empty.
const (
	// DefaultContextPath is the context path of the Chat API v2 when Settings names none.
	DefaultContextPath = "/genesys/2/chat/"
	// DefaultTimeout bounds each attempt when Settings names no timeout.
	DefaultTimeout = 10 * time.Second
	// MaxRetryWait bounds every single wait between two attempts, Retry-After included.
	MaxRetryWait = 30 * time.Second
)

// Settings of one gateway's client. Configure replaces them live: a new service URL, retry
// policy or timeout takes effect on the next call, and no chat is dropped.
type Settings struct {
	// ServiceURL is the base URL of the GMS instance, e.g. "http://gms.example:8080", with or
	// without a trailing "/". It may carry a path prefix; it must not carry a query or a
	// fragment.
	ServiceURL string
	// ContextPath is the prefix of every Chat API path; DefaultContextPath when empty. Its
	// leading and trailing slashes are optional: the parts of a path are joined with exactly
	// one slash.
	ContextPath string
	// ServiceName is the GMS chat service name: a single path segment.
	ServiceName string
	// Overrides replace the last path segment of the named session operations, e.g.
	// OpStartTyping: "typingStart", OpFileLimits: "quota" for ".../file/quota", or
	// OpFileDownload: "get" for ".../file/{fileId}/get" (OpFileUpload replaces the whole
	// upload path "file"). Request Chat has no override (its last segment is the service
	// name): an override of it, like one of an unknown operation, is ignored.
	Overrides map[Operation]string
	// Retry is the retry policy of every call.
	Retry RetryPolicy
	// Timeout bounds each attempt; DefaultTimeout when not positive.
	Timeout time.Duration
}

// RetryPolicy says how often a call is attempted and how long it waits in between.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts per call: 1 (or less) means no retry.
	MaxAttempts int
	// InitialDelay is the wait after the first failed attempt; no wait when not positive.
	InitialDelay time.Duration
	// Multiplier scales each further wait: the previous wait times Multiplier. Values below 1
	// mean 1 (constant waits). Every wait is capped at MaxRetryWait.
	Multiplier float64
}

// attempts is the number of attempts the policy allows, at least 1.
func (p RetryPolicy) attempts() int {
	return max(p.MaxAttempts, 1)
}

// clone returns a copy of s that shares no map with it.
func (s Settings) clone() Settings {
	s.Overrides = maps.Clone(s.Overrides)
	return s
}

// config is a validated Settings with its paths precomputed. It is immutable once built.
type config struct {
	settings Settings
	// base is the Request Chat URL: service URL, context path and service name.
	base string
	// suffixes are the paths after the chat id of the session operations, overrides applied.
	suffixes map[Operation]string
	// fileSegments are the file upload path after the chat id ("file") and the last
	// segments of file/{fileId}/download and file/{fileId}/delete, overrides applied.
	fileSegments map[Operation]string
	timeout      time.Duration
	// fast says whether Refresh Chat may go on fasthttp: the service URL is reached without
	// a proxy and carries no credentials (fast.go).
	fast bool
}

// newConfig validates s and precomputes its paths. Its errors never repeat the service URL,
// which may carry credentials.
func newConfig(s Settings) (*config, error) {
	s = s.clone()
	u, err := url.Parse(s.ServiceURL)
	if err != nil {
		return nil, errors.New("gms settings: service URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("gms settings: service URL scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("gms settings: service URL has no host")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, errors.New("gms settings: service URL must not have a query or a fragment")
	}
	name := strings.Trim(s.ServiceName, "/")
	if name == "" {
		return nil, errors.New("gms settings: service name is empty")
	}
	contextPath := s.ContextPath
	if contextPath == "" {
		contextPath = DefaultContextPath
	}
	for op, segment := range s.Overrides {
		if strings.Trim(segment, "/") == "" {
			return nil, fmt.Errorf("gms settings: endpoint override of %s is empty", op)
		}
	}
	c := &config{
		settings: s,
		base:     joinPath(s.ServiceURL, contextPath, name),
		suffixes: make(map[Operation]string, len(SessionOperations)),
		timeout:  s.Timeout,
		fast:     directly(u, http.ProxyFromEnvironment),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	for op, path := range SessionOperations {
		if segment, ok := s.Overrides[op]; ok {
			path = replaceLastSegment(path, segment)
		}
		c.suffixes[op] = strings.Trim(path, "/")
	}
	c.fileSegments = make(map[Operation]string, len(fileOperations))
	for op, segment := range fileOperations {
		if o, ok := s.Overrides[op]; ok {
			segment = strings.Trim(o, "/")
		}
		c.fileSegments[op] = segment
	}
	return c, nil
}

// fileOperations are the file operations that take a multipart body or a file id in the
// path, with their default path segment: the upload path after the chat id, and the last
// segment of file/{fileId}/download and file/{fileId}/delete. An override replaces it.
var fileOperations = map[Operation]string{
	OpFileUpload:   "file",
	OpFileDownload: "download",
	OpFileDelete:   "delete",
}

// fileEndpoint returns the URL of a file operation on the chat chatID: the upload path, or
// file/{fileID}/{segment} for download and delete. Ids are escaped as single path
// segments.
func (c *config) fileEndpoint(op Operation, chatID, fileID string) (string, error) {
	segment, ok := c.fileSegments[op]
	if !ok {
		return "", fmt.Errorf("gms %s: not a file operation", op)
	}
	if chatID == "" {
		return "", fmt.Errorf("gms %s: session has no chat id", op)
	}
	if op == OpFileUpload {
		return joinPath(c.base, url.PathEscape(chatID), segment), nil
	}
	if fileID == "" {
		return "", fmt.Errorf("gms %s: no file id", op)
	}
	return joinPath(c.base, url.PathEscape(chatID), "file", url.PathEscape(fileID), segment), nil
}

// endpoint returns the URL of op on the chat chatID (ignored for Request Chat).
func (c *config) endpoint(op Operation, chatID string) (string, error) {
	if op == OpRequestChat {
		return c.base, nil
	}
	suffix, ok := c.suffixes[op]
	if !ok {
		return "", fmt.Errorf("gms %s: operation not supported by this client", op)
	}
	if chatID == "" {
		return "", fmt.Errorf("gms %s: session has no chat id", op)
	}
	return joinPath(c.base, url.PathEscape(chatID), suffix), nil
}

// joinPath joins URL parts with exactly one slash between two parts. Empty parts (after
// trimming their slashes) are skipped; the first part keeps its leading text.
func joinPath(first string, rest ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(first, "/"))
	for _, p := range rest {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		b.WriteByte('/')
		b.WriteString(p)
	}
	return b.String()
}

// replaceLastSegment replaces the last "/"-separated segment of path with segment.
func replaceLastSegment(path, segment string) string {
	segment = strings.Trim(segment, "/")
	path = strings.Trim(path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1] + segment
	}
	return segment
}
