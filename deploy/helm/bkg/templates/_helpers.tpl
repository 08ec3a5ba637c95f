{{- define "bkg.labels" -}}
app.kubernetes.io/name: bkg
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
