{{- define "type_members" -}}
{{- $field := . -}}
{{- if eq $field.Name "metadata" -}}
Refer to the Kubernetes API documentation for the fields of `metadata`.
{{- else -}}
{{ template "mdCell" $field.Doc }}
{{- end -}}
{{- end -}}
