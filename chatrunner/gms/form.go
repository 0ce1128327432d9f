package gms

import (
	"net/url"
	"strconv"
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
