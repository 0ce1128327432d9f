package gms

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ChatRequest is what Request Chat sends: a nickname, or a first and a last name, and the
// chat's attached data.
type ChatRequest struct {
	Nickname     string
	FirstName    string
	LastName     string
	Subject      string
	EmailAddress string
	// UserData is sent as userData[key]=value, in key order.
	UserData map[string]string
}

// form is the Request Chat form of r; empty fields are left out.
func (r ChatRequest) form() url.Values {
	f := url.Values{}
	setIf(f, ParamNickname, r.Nickname)
	setIf(f, ParamFirstName, r.FirstName)
	setIf(f, ParamLastName, r.LastName)
	setIf(f, ParamSubject, r.Subject)
	setIf(f, ParamEmailAddress, r.EmailAddress)
	addUserData(f, r.UserData)
	return f
}

// setIf sets key to value when value is not empty.
func setIf(f url.Values, key, value string) {
	if value != "" {
		f.Set(key, value)
	}
}

// setPosition sets transcriptPosition.
func setPosition(f url.Values, position int) {
	f.Set(ParamTranscriptPosition, strconv.Itoa(position))
}

// addUserData sets userData[key]=value for every entry of data. url.Values.Encode sorts the
// keys, so the wire order is stable.
func addUserData(f url.Values, data map[string]string) {
	for k, v := range data {
		f.Set(UserDataParam(k), v)
	}
}

// sessionForm returns a copy of form with the session triple of s set, its alias the
// latest one.
func sessionForm(s *Session, form url.Values) url.Values {
	f := make(url.Values, len(form)+3)
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	f.Set(ParamUserID, s.UserID)
	f.Set(ParamSecureKey, s.SecureKey())
	f.Set(ParamAlias, s.Alias())
	return f
}

// encodeSessionForm is sessionForm(s, form).Encode() built in one pass: the same text
// (keys sorted, each escaped as url.QueryEscape does), without copying form or building a
// map per attempt.
func encodeSessionForm(s *Session, form url.Values) string {
	var keyArray [12]string
	keys := append(keyArray[:0], ParamAlias, ParamSecureKey, ParamUserID)
	size := 0
	for k, vs := range form {
		if k == ParamAlias || k == ParamSecureKey || k == ParamUserID {
			continue
		}
		keys = append(keys, k)
		for _, v := range vs {
			size += len(k) + len(v) + 2
		}
	}
	alias, secureKey := s.Alias(), s.SecureKey()
	size += len(ParamAlias) + len(alias) + len(ParamSecureKey) + len(secureKey) + len(ParamUserID) + len(s.UserID) + 6
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(size + size/8) // room for a few escapes
	for _, k := range keys {
		switch k {
		case ParamAlias:
			writePair(&b, k, alias)
		case ParamSecureKey:
			writePair(&b, k, secureKey)
		case ParamUserID:
			writePair(&b, k, s.UserID)
		default:
			for _, v := range form[k] {
				writePair(&b, k, v)
			}
		}
	}
	return b.String()
}

// writePair appends key=value, query-escaped, after a "&" unless it is the first.
func writePair(b *strings.Builder, key, value string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(url.QueryEscape(key))
	b.WriteByte('=')
	b.WriteString(url.QueryEscape(value))
}
