{{/* The chart's name, overridable. */}}
{{- define "hardpair.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped name of every object. */}}
{{- define "hardpair.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hardpair.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hardpair.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hardpair.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "hardpair.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hardpair.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hardpair.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hardpair.secretName" -}}
{{- default (printf "%s-token" (include "hardpair.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{- define "hardpair.inferenceImage" -}}
{{- printf "%s:%s" .Values.image.inference.repository (default .Chart.AppVersion .Values.image.inference.tag) -}}
{{- end -}}

{{/* The trainer's image: the -cuda variant when GPUs are requested or the cuda variant is chosen. */}}
{{- define "hardpair.trainerImage" -}}
{{- $tag := default .Chart.AppVersion .Values.image.trainer.tag -}}
{{- if or .Values.trainer.gpu.enabled (eq .Values.image.variant "cuda") -}}
{{- printf "%s:%s-cuda" .Values.image.trainer.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.trainer.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Restricted-profile container security context. */}}
{{- define "hardpair.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The Secret holding the checkpoint signing key (key `signing-key`). */}}
{{- define "hardpair.signingSecretName" -}}
{{- default (printf "%s-signing" (include "hardpair.fullname" .)) .Values.checkpointSigning.existingSecret -}}
{{- end -}}
