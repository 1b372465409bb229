{{/* Labels of every object of the release. */}}
{{- define "support-operator.labels" -}}
app.kubernetes.io/name: support-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The operator's pods; the same selector as deploy/base (immutable on the Deployment). */}}
{{- define "support-operator.selectorLabels" -}}
app.kubernetes.io/name: support-operator
app.kubernetes.io/component: operator
{{- end }}

{{- define "support-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/*
The documents of a file in files/ (a multi-document YAML stream), as a list of maps.
*/}}
{{- define "support-operator.documents" -}}
{{- $documents := list -}}
{{- range $text := regexSplit "(?m)^---[ \t]*$" . -1 -}}
{{- $document := fromYaml $text -}}
{{- if $document.kind -}}
{{- $documents = append $documents $document -}}
{{- end -}}
{{- end -}}
{{- toJson $documents -}}
{{- end }}
