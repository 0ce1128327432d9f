package gms

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestEndpointsJoinWithExactlyOneSlash(t *testing.T) {
	for _, tc := range []struct {
		name                             string
		serviceURL, contextPath, service string
		want                             string
	}{
		{"defaults", "http://gms.example:8080", "", "customer-support",
			"http://gms.example:8080/genesys/2/chat/customer-support"},
		{"trailing slash on URL", "http://gms.example:8080/", "/genesys/2/chat/", "svc",
			"http://gms.example:8080/genesys/2/chat/svc"},
		{"many slashes", "https://gms.example//", "//genesys/2/chat//", "/svc/",
			"https://gms.example/genesys/2/chat/svc"},
		{"no slashes on context path", "http://gms.example", "genesys/2/chat", "svc",
			"http://gms.example/genesys/2/chat/svc"},
		{"root context path", "http://gms.example", "/", "svc", "http://gms.example/svc"},
		{"URL with a path prefix", "https://proxy.example/gms/", "/genesys/2/chat/", "svc",
			"https://proxy.example/gms/genesys/2/chat/svc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			cfg, err := newConfig(Settings{ServiceURL: tc.serviceURL, ContextPath: tc.contextPath, ServiceName: tc.service})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cfg.endpoint(OpRequestChat, "")).To(Equal(tc.want))
			g.Expect(cfg.endpoint(OpRefresh, "00048aAPEQJ8000U")).To(Equal(tc.want + "/00048aAPEQJ8000U/refresh"))
		})
	}
}

func TestEndpointsOfEveryOperationAndOverrides(t *testing.T) {
	g := NewWithT(t)
	cfg, err := newConfig(Settings{
		ServiceURL:  "http://gms.example:8080",
		ServiceName: "svc",
		Overrides: map[Operation]string{
			OpStartTyping: "typingStart",
			OpFileLimits:  "/quota/",
			OpRequestChat: "ignored",
			OpFileUpload:  "upload", // a file operation: see fileEndpoint
		},
	})
	g.Expect(err).NotTo(HaveOccurred())
	base := "http://gms.example:8080/genesys/2/chat/svc/c1/"
	want := map[Operation]string{
		OpRefresh:        base + "refresh",
		OpSend:           base + "send",
		OpStartTyping:    base + "typingStart",
		OpStopTyping:     base + "stopTyping",
		OpDisconnect:     base + "disconnect",
		OpPushURL:        base + "pushUrl",
		OpCustomNotice:   base + "customNotice",
		OpUpdateNickname: base + "updateNickname",
		OpUpdateData:     base + "updateData",
		OpReadReceipt:    base + "readReceipt",
		OpFileLimits:     base + "file/quota",
	}
	g.Expect(want).To(HaveLen(len(SessionOperations)))
	for op, u := range want {
		g.Expect(cfg.endpoint(op, "c1")).To(Equal(u), string(op))
	}
	g.Expect(cfg.endpoint(OpRequestChat, "")).To(Equal("http://gms.example:8080/genesys/2/chat/svc"))

	g.Expect(cfg.endpoint(OpFileUpload, "c1")).Error().To(MatchError(ContainSubstring("not supported")))
	g.Expect(cfg.fileEndpoint(OpFileUpload, "c1", "")).To(Equal(base + "upload"))
	g.Expect(cfg.fileEndpoint(OpFileDownload, "c1", "f/1")).To(Equal(base + "file/f%2F1/download"))
	g.Expect(cfg.fileEndpoint(OpFileDelete, "c1", "")).Error().To(MatchError(ContainSubstring("no file id")))
	g.Expect(cfg.endpoint(OpRefresh, "")).Error().To(MatchError(ContainSubstring("no chat id")))
	// An opaque chat id stays one path segment.
	g.Expect(cfg.endpoint(OpSend, "a/b?c")).To(Equal(base[:len(base)-3] + "a%2Fb%3Fc/send"))
}

func TestSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Settings
		want string
	}{
		{"unparsable URL", Settings{ServiceURL: "http://user:hunter2@[::1", ServiceName: "svc"}, "does not parse"},
		{"wrong scheme", Settings{ServiceURL: "ftp://user:hunter2@gms.example", ServiceName: "svc"}, `scheme must be http or https, not "ftp"`},
		{"relative URL", Settings{ServiceURL: "gms.example:8080", ServiceName: "svc"}, "scheme"},
		{"no host", Settings{ServiceURL: "http:///path", ServiceName: "svc"}, "no host"},
		{"query", Settings{ServiceURL: "http://gms.example/?token=hunter2", ServiceName: "svc"}, "query"},
		{"fragment", Settings{ServiceURL: "http://gms.example/#hunter2", ServiceName: "svc"}, "fragment"},
		{"no service name", Settings{ServiceURL: "http://gms.example", ServiceName: "/"}, "service name is empty"},
		{"empty override", Settings{ServiceURL: "http://gms.example", ServiceName: "svc",
			Overrides: map[Operation]string{OpSend: "/"}}, "override of send is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := New(Options{Settings: tc.s})
			g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
			g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
		})
	}
}

func TestSettingsDefaultsAndCopies(t *testing.T) {
	g := NewWithT(t)
	overrides := map[Operation]string{OpStartTyping: "typingStart"}
	c, err := New(Options{Settings: Settings{ServiceURL: "http://gms.example", ServiceName: "svc", Overrides: overrides}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.cfg.Load().timeout).To(Equal(DefaultTimeout))

	// Neither the caller's map nor the returned copy reach the client's settings.
	overrides[OpStartTyping] = "changed"
	got := c.Settings()
	g.Expect(got.Overrides).To(Equal(map[Operation]string{OpStartTyping: "typingStart"}))
	got.Overrides[OpStartTyping] = "changed again"
	g.Expect(c.Settings().Overrides[OpStartTyping]).To(Equal("typingStart"))

	// Invalid settings are refused and the current ones kept.
	g.Expect(c.Configure(Settings{ServiceURL: "http://other.example"})).To(HaveOccurred())
	g.Expect(c.Settings().ServiceURL).To(Equal("http://gms.example"))
	g.Expect(c.Configure(Settings{ServiceURL: "http://other.example", ServiceName: "svc2", Timeout: time.Second})).To(Succeed())
	g.Expect(c.Settings().ServiceName).To(Equal("svc2"))
	g.Expect(c.cfg.Load().timeout).To(Equal(time.Second))
}

func TestDefaultTransport(t *testing.T) {
	g := NewWithT(t)
	tr := NewTransport()
	g.Expect(tr.MaxIdleConnsPerHost).To(BeNumerically(">=", 1000))
	g.Expect(tr.TLSClientConfig.MinVersion).To(BeEquivalentTo(0x0303)) // TLS 1.2
	g.Expect(tr.Proxy).NotTo(BeNil())
}
