{{- define "type" -}}
{{- $type := . -}}
{{- if markdownShouldRenderType $type }}

#### {{ $type.Name }}
{{- if $type.IsAlias }}

_Underlying type:_ _{{ markdownRenderTypeLink $type.UnderlyingType }}_
{{- end }}
{{- with $type.Doc }}

{{ template "mdText" . }}
{{- end }}
{{- if or $type.Validation (index $type.Markers "kubebuilder:validation:XValidation") (index $type.Markers "listType") }}

_Validation:_
{{ template "validation" (dict "obj" $type "inTable" false) }}
{{- end }}
{{- if $type.References }}

_Appears in:_
{{ range $type.SortedReferences }}
- {{ markdownRenderTypeLink . }}
{{- end }}
{{- end }}
{{- if $type.Members }}

| Field | Description | Default | Validation |
| --- | --- | --- | --- |
{{- if $type.GVK }}
| `apiVersion` _string_ | `{{ $type.GVK.Group }}/{{ $type.GVK.Version }}` | | |
| `kind` _string_ | `{{ $type.GVK.Kind }}` | | |
{{- end }}
{{- range $type.Members }}
| `{{ .Name }}` _{{ markdownRenderType .Type }}_ | {{ template "type_members" . }} | {{ with .Default }}`{{ . | replace "{  }" "{}" }}`{{ end }} | {{ template "validation" (dict "obj" . "inTable" true) }} |
{{- end }}
{{- end }}
{{- if $type.EnumValues }}

| Value | Description |
| --- | --- |
{{- range $type.EnumValues }}
| `{{ .Name }}` | {{ template "mdCell" .Doc }} |
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}
