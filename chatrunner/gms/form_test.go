package gms

import (
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// special holds what a form must carry intact.
const special = "a&b=c+d %25 100% ü 😀\nline2\r\n#?/;"

func TestChatRequestForm(t *testing.T) {
	g := NewWithT(t)
	f := ChatRequest{
		FirstName:    "First",
		LastName:     "Last",
		Subject:      "Subject to",
		EmailAddress: "a+b@example.com",
		UserData:     map[string]string{"zeta": "1", "alpha": special, TimeZoneKey: "-120"},
	}.form()
	g.Expect(f).To(Equal(url.Values{
		ParamFirstName:            {"First"},
		ParamLastName:             {"Last"},
		ParamSubject:              {"Subject to"},
		ParamEmailAddress:         {"a+b@example.com"},
		"userData[alpha]":         {special},
		"userData[zeta]":          {"1"},
		UserDataParam("TimeZone"): {"-120"},
	}))
	g.Expect(f).NotTo(HaveKey(ParamNickname))

	body := f.Encode()
	// Stable wire order: userData keys sorted.
	g.Expect(strings.Index(body, url.QueryEscape("userData[TimeZone]"))).To(BeNumerically("<", strings.Index(body, url.QueryEscape("userData[alpha]"))))
	g.Expect(strings.Index(body, url.QueryEscape("userData[alpha]"))).To(BeNumerically("<", strings.Index(body, url.QueryEscape("userData[zeta]"))))
	g.Expect(body).NotTo(ContainSubstring("\n"))
	back, err := url.ParseQuery(body)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(back).To(Equal(f))
}

func TestSessionFormSetsTheTripleWithoutTouchingTheCallersForm(t *testing.T) {
	g := NewWithT(t)
	s := NewSession("chat1", "user1", "key1", "117")
	in := url.Values{ParamMessage: {special}, ParamSecureKey: {"forged"}}
	f := sessionForm(s, in)
	g.Expect(f).To(Equal(url.Values{
		ParamMessage:   {special},
		ParamUserID:    {"user1"},
		ParamSecureKey: {"key1"},
		ParamAlias:     {"117"},
	}))
	g.Expect(in).To(Equal(url.Values{ParamMessage: {special}, ParamSecureKey: {"forged"}}))

	s.Observe(&Response{Alias: "118"})
	g.Expect(sessionForm(s, nil).Get(ParamAlias)).To(Equal("118"))
	s.Observe(&Response{}) // no alias: keep the latest
	g.Expect(sessionForm(s, nil).Get(ParamAlias)).To(Equal("118"))
}

func TestEncodeSessionFormIsSessionFormEncoded(t *testing.T) {
	g := NewWithT(t)
	s := NewSession("c1", "u 1&", "s3cr3t+key/=", "117")
	for _, form := range []url.Values{
		nil,
		{},
		{ParamTranscriptPosition: {"5"}},
		{ParamMessage: {special}, ParamMessageType: {"text"}, ParamTranscriptPosition: {"12"}},
		{ParamUserID: {"forged"}, ParamSecureKey: {"forged"}, ParamAlias: {"forged"}, "a": {"1", "2"}, "zz": {}},
		{"userData[b]": {special}, "userData[a]": {""}, "k1": {"v"}, "k2": {"v"}, "k3": {"v"}, "k4": {"v"},
			"k5": {"v"}, "k6": {"v"}, "k7": {"v"}, "k8": {"v"}, "k9": {"v"}, "k10": {"v"}, "k11": {"v"}},
	} {
		g.Expect(encodeSessionForm(s, form)).To(Equal(sessionForm(s, form).Encode()), "form %v", form)
	}
}
