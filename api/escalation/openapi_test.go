package escalation_test

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// The document's bounds are the package's constants, the ones Validate and the server
// apply: a constant changed without the document (or the other way) fails here.
func TestOpenAPIBoundsAreTheConstants(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	schema := func(name string) []string { return []string{"components", "schemas", name} }
	prop := func(name, field string) []string { return append(schema(name), "properties", field) }
	cat := func(p []string, more ...string) []string { return append(append([]string{}, p...), more...) }
	for _, c := range []struct {
		path []string
		want int
	}{
		{cat(prop("Request", "conversationId"), "maxLength"), api.MaxConversationIDLength},
		{cat(prop("Request", "domain"), "maxLength"), api.MaxNameLength},
		{cat(prop("Request", "queue"), "maxLength"), api.MaxNameLength},
		{cat(prop("Request", "subject"), "maxLength"), api.MaxSubjectLength},
		{cat(prop("Request", "locale"), "maxLength"), api.MaxLocaleLength},
		{cat(prop("Request", "attributes"), "maxProperties"), api.MaxAttributes},
		{cat(prop("Request", "attributes"), "propertyNames", "maxLength"), api.MaxAttributeKeyLength},
		{cat(prop("Request", "attributes"), "additionalProperties", "maxLength"), api.MaxAttributeValueLength},
		{cat(prop("User", "firstName"), "maxLength"), api.MaxNameLength},
		{cat(prop("User", "lastName"), "maxLength"), api.MaxNameLength},
		{cat(prop("User", "name"), "maxLength"), api.MaxNameLength},
		{cat(prop("User", "email"), "maxLength"), api.MaxEmailLength},
		{cat(prop("User", "timeZoneOffsetMinutes"), "minimum"), -api.MaxTimeZoneOffsetMinutes},
		{cat(prop("User", "timeZoneOffsetMinutes"), "maximum"), api.MaxTimeZoneOffsetMinutes},
		{cat(prop("MessageRequest", "text"), "maxLength"), api.MaxTextLength},
		{cat(prop("MessageRequest", "type"), "maxLength"), api.MaxMessageTypeLength},
		{cat(prop("MessageRequest", "clientMessageId"), "maxLength"), api.MaxClientMessageIDLength},
		{cat(prop("PresentRequest", "url"), "maxLength"), api.MaxURLLength},
		{cat(prop("PresentRequest", "title"), "maxLength"), api.MaxTitleLength},
		{cat(prop("EventFields", "data"), "maxProperties"), api.MaxEventDataEntries},
		{cat(prop("EventFields", "data"), "propertyNames", "maxLength"), api.MaxEventDataKeyLength},
		{cat(prop("EventFields", "data"), "additionalProperties", "maxLength"), api.MaxEventDataValueLength},
		{[]string{"paths", "/v1/conversations/{id}", "parameters", "0", "schema", "maxLength"}, api.MaxConversationIDLength},
		{[]string{"info", "x-max-body-bytes"}, api.MaxBodyBytes},
		{[]string{"info", "x-max-file-bytes"}, api.MaxFileBytes},
		{[]string{"info", "x-max-wait-seconds"}, int(api.MaxWait.Seconds())},
	} {
		got, ok := lookup(doc, c.path)
		if n, isNum := got.(float64); !ok || !isNum || int(n) != c.want {
			t.Errorf("%v: the document says %v, the constant is %d", c.path, got, c.want)
		}
	}
}

// The problem types the document lists are the package's, every one of them.
func TestOpenAPIProblemTypesAreTheConstants(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	got, _ := lookup(doc, []string{"components", "schemas", "Problem", "properties", "type", "enum"})
	listed := map[string]bool{}
	for _, v := range got.([]any) {
		listed[v.(string)] = true
	}
	want := []string{
		api.ProblemUnauthorized, api.ProblemMalformedRequest, api.ProblemInvalidField, api.ProblemBodyTooLarge,
		api.ProblemUnsupportedMediaType, api.ProblemNotFound, api.ProblemConflict, api.ProblemPresentContentDisabled,
		api.ProblemOverCapacity, api.ProblemUnavailable, api.ProblemGenesysError, api.ProblemGenesysRefused,
		api.ProblemInternal, api.ProblemMethodNotAllowed,
	}
	for _, w := range want {
		if !listed[w] {
			t.Errorf("the document's Problem.type lacks %s", w)
		}
	}
	if len(listed) != len(want) {
		t.Errorf("the document lists %d problem types, the package %d", len(listed), len(want))
	}
}

// lookup walks a decoded document by map keys and list indexes.
func lookup(v any, path []string) (any, bool) {
	for _, k := range path {
		switch n := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = n[k]; !ok {
				return nil, false
			}
		case []any:
			i := 0
			for _, ch := range k {
				i = i*10 + int(ch-'0')
			}
			if i >= len(n) {
				return nil, false
			}
			v = n[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Every wire type's JSON fields are its schema's properties, and the fields it always
// writes (no omitempty) are the schema's required ones: a field added to a type and not to
// the document, even one no test answer carries, fails here.
func TestOpenAPISchemasAreTheWireTypes(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"Request": api.Request{}, "User": api.User{}, "MessageRequest": api.MessageRequest{},
		"TypingRequest": api.TypingRequest{}, "PresentRequest": api.PresentRequest{}, "Chat": api.Chat{},
		"Agent": api.Agent{}, "EventFields": api.Event{}, "EventPage": api.EventPage{}, "Problem": api.Problem{},
		"EventFile": api.EventFile{}, "UploadResponse": api.UploadResponse{},
	} {
		props, _ := lookup(doc, []string{"components", "schemas", name, "properties"})
		req, _ := lookup(doc, []string{"components", "schemas", name, "required"})
		var documented, required []string
		for k := range props.(map[string]any) {
			documented = append(documented, k)
		}
		for _, k := range asList(req) {
			required = append(required, k.(string))
		}
		fields, always := jsonFields(reflect.TypeOf(v))
		if !sameSet(documented, fields) {
			t.Errorf("schema %s has properties %v, the Go type's JSON fields are %v", name, documented, fields)
		}
		if !sameSet(required, always) {
			t.Errorf("schema %s requires %v, the Go type always writes %v", name, required, always)
		}
	}
	// ChatEvent is EventFields and chatId: the Go type embeds Event.
	fields, _ := jsonFields(reflect.TypeOf(api.ChatEvent{}))
	extra, _ := lookup(doc, []string{"components", "schemas", "ChatEvent", "allOf", "1", "properties"})
	base, _ := lookup(doc, []string{"components", "schemas", "EventFields", "properties"})
	var documented []string
	for _, m := range []any{extra, base} {
		for k := range m.(map[string]any) {
			documented = append(documented, k)
		}
	}
	if !sameSet(documented, fields) {
		t.Errorf("schema ChatEvent has properties %v, the Go type's JSON fields are %v", documented, fields)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// jsonFields are a struct's JSON field names (embedded structs' inlined) and those without
// omitempty.
func jsonFields(t reflect.Type) (all, always []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			a, w := jsonFields(f.Type)
			all, always = append(all, a...), append(always, w...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	return all, always
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The event kinds the document lists are the package's.
func TestOpenAPIEventKindsAreTheConstants(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	got, _ := lookup(doc, []string{"components", "schemas", "EventKind", "enum"})
	var listed []string
	for _, v := range asList(got) {
		listed = append(listed, v.(string))
	}
	want := []string{}
	for _, k := range []api.EventKind{api.EventAgentJoined, api.EventAgentLeft, api.EventMessage, api.EventTypingStarted,
		api.EventTypingStopped, api.EventPushURL, api.EventNotice, api.EventIdleAlert, api.EventIdleClose,
		api.EventFileUploaded, api.EventEnded, api.EventTransferred, api.EventFailed} {
		want = append(want, string(k))
	}
	if !sameSet(listed, want) {
		t.Errorf("the document lists the event kinds %v, the package %v", listed, want)
	}
	desc, _ := lookup(doc, []string{"components", "schemas", "FileUpload", "properties", "file", "description"})
	if s, _ := desc.(string); !strings.Contains(s, strconv.Itoa(api.MaxFileNameLength)) {
		t.Errorf("the FileUpload file's description does not give MaxFileNameLength (%d): %q", api.MaxFileNameLength, s)
	}
}
