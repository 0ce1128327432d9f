{{- /* Text of a doc comment outside a table: '<' and '>' backslash-escaped so that words like
       <tenant-id> are not taken for HTML tags. */ -}}
{{- define "mdText" -}}
{{- . | trim | replace "<" "\\<" | replace ">" "\\>" -}}
{{- end -}}

{{- /* Text of a doc comment in a table cell: wrapped lines joined, paragraphs kept,
       '|' and braces escaped by markdownRenderFieldDoc. */ -}}
{{- define "mdCell" -}}
{{- . | trim | replace "<" "\\<" | replace ">" "\\>" | replace "\n\n" "\x00" | replace "\n" " " | replace "\x00" "\n\n" | markdownRenderFieldDoc -}}
{{- end -}}

{{- /* The validation of a field or a type: dict "obj" (a Field or Type), "inTable" (a
       table cell: items joined by <br />) or not (a bulleted list). Required or Optional
       first, then the generator's validation markers (sorted by name) with enums as code,
       then list topology, then the CEL rules (x-kubernetes-validations) in source order,
       which the generator leaves out by itself. A field of a struct type does not repeat
       the rules of that struct, which its own section shows. */ -}}
{{- define "validation" -}}
{{- $obj := .obj -}}
{{- $inTable := .inTable -}}
{{- $items := list -}}
{{- range $obj.Validation -}}
{{- if eq . "Required: {}" }}{{ $items = append $items "Required" }}{{ end -}}
{{- if eq . "Optional: {}" }}{{ $items = append $items "Optional" }}{{ end -}}
{{- end -}}
{{- range $obj.Validation -}}
{{- if or (eq . "Required: {}") (eq . "Optional: {}") -}}
{{- else if hasPrefix "Enum: " . -}}
{{- $enum := index $obj.Markers "kubebuilder:validation:Enum" -}}
{{- $values := list -}}
{{- range index $enum (sub (len $enum) 1) }}{{ $values = append $values (printf "`%v`" .) }}{{ end -}}
{{- $items = append $items (printf "Enum: %s" (join ", " $values)) -}}
{{- else if $inTable -}}
{{- $items = append $items (markdownRenderFieldDoc .) -}}
{{- else -}}
{{- $items = append $items . -}}
{{- end -}}
{{- end -}}
{{- with index $obj.Markers "listType" -}}
{{- $listType := printf "%v" (index . 0) -}}
{{- with index $obj.Markers "listMapKey" -}}
{{- $keys := list -}}
{{- range . }}{{ $keys = append $keys (printf "`%v`" .) }}{{ end -}}
{{- $items = append $items (printf "ListType: %s, keyed by %s" $listType (join ", " $keys)) -}}
{{- else -}}
{{- $items = append $items (printf "ListType: %s" $listType) -}}
{{- end -}}
{{- end -}}
{{- $rules := index $obj.Markers "kubebuilder:validation:XValidation" -}}
{{- if and $inTable $obj.Type.Members (deepEqual $rules (index $obj.Type.Markers "kubebuilder:validation:XValidation")) -}}
{{- $rules = list -}}
{{- end -}}
{{- range $rules -}}
{{- $rule := .Rule -}}
{{- $msg := .Message | replace "<" "\\<" | replace ">" "\\>" -}}
{{- if $inTable }}{{ $rule = $rule | replace "|" "\\|" }}{{ $msg = markdownRenderFieldDoc $msg }}{{ end -}}
{{- if $msg -}}
{{- $items = append $items (printf "Rule: `%s`: %s" $rule $msg) -}}
{{- else -}}
{{- $items = append $items (printf "Rule: `%s`" $rule) -}}
{{- end -}}
{{- end -}}
{{- if $inTable -}}
{{- join " <br />" $items -}}
{{- else -}}
{{- range $items }}
- {{ . }}
{{- end -}}
{{- end -}}
{{- end -}}
