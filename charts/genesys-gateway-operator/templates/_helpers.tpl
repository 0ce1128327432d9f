{{/*
Hand-written helpers of the genesys-gateway-operator chart (hack/helmchart/static; make
helm-chart copies them). Object names are fixed, as in config/default: one release per cluster.
*/}}

{{- define "genesys-gateway-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "genesys-gateway-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Helm's standard labels, added to every object's labels. The objects keep config/'s own
(app.kubernetes.io/name, component, part-of); selectors are config/'s, unchanged.
*/}}
{{- define "genesys-gateway-operator.labels" -}}
helm.sh/chart: {{ include "genesys-gateway-operator.chart" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
{{- end }}

{{/* The operator image: repository:tag, the tag defaulting to the appVersion. */}}
{{- define "genesys-gateway-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* The runner image of gateways that name none: runnerImage, or the operator's. */}}
{{- define "genesys-gateway-operator.runnerImage" -}}
{{- .Values.runnerImage | default (include "genesys-gateway-operator.image" .) }}
{{- end }}

{{/*
The allowed runner image prefixes, comma-separated, as the operator applies them: the
runnerImages.allowed list, or the repository (no tag, no digest) of the runner image.
*/}}
{{- define "genesys-gateway-operator.runnerImagePrefixes" -}}
{{- if .Values.runnerImages.allowed }}
{{- join "," .Values.runnerImages.allowed }}
{{- else }}
{{- $ref := first (splitList "@" (include "genesys-gateway-operator.runnerImage" .)) }}
{{- regexReplaceAll ":[^:/]*$" $ref "" }}
{{- end }}
{{- end }}

{{/* Refuses combinations of values that cannot work. */}}
{{- define "genesys-gateway-operator.validate" -}}
{{- if and .Values.rbac.namespaced (not .Values.watchNamespaces) }}
{{- fail "rbac.namespaced needs watchNamespaces: the namespaces to grant the operator's Roles in" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount above 1 needs leaderElection.enabled: otherwise every replica reconciles" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- end }}
